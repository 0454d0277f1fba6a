"""The back-translation direction (direction = "target"): target text -> English -> labelled -> projected back."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from conftest import earlier_options, run_cli
from projection import pipeline as pl
from projection.corpora import load_corpus
from projection.corpus import read_conll, write_conll
from projection.errors import ProjectionError
from projection.pipeline_eval import score_run

HOSTILE = ["B-", "NOT-A-TAG", "{json: 1}", "I-PER I-PER", "-DOCSTART-"]


@pytest.fixture(scope="module")
def sample():
    return load_corpus("sample:train")[:24]


@pytest.fixture(scope="module")
def ner_model(tiny_bert, tmp_path_factory):
    """A tiny English model that tags entities (it has nearly learnt its training sentences)."""
    from projection.train import TrainConfig, train_model

    out = tmp_path_factory.mktemp("ner") / "m"
    return train_model(load_corpus("sample:train"), out=out, model=tiny_bert,
                       config=TrainConfig(epochs=20, lr=3e-3, threads=1, max_train_sentences=32, batch_size=4, seed=1))


def _target_files(root, sents, english=None):
    """The 'target' text as CoNLL whose tag columns are garbage, and its 'English' translations (by default the
    sentences themselves: the identity translation, so the projection can be checked word for word)."""
    rng = np.random.default_rng(0)
    src = root / "target.conll"
    with open(src, "w", encoding="utf-8") as f:
        for s in sents:
            for tok in s.tokens:
                f.write(tok + "\t" + HOSTILE[int(rng.integers(len(HOSTILE)))] + "\n")
            f.write("\n")
    if english is not None:  # lines: one translation per line (blank: none)
        trans = root / "english.txt"
        trans.write_text("".join(" ".join(t) + "\n" for t in english), encoding="utf-8")
        return src, trans
    trans = root / "english.conll"  # a CoNLL file of translations keeps its tokens
    trans.write_text("".join("".join(w + "\n" for w in s.tokens) + "\n" for s in sents), encoding="utf-8")
    return src, trans


def _pipeline(root, trans, ner, encoder, extra=""):
    path = root / "tt.toml"
    path.write_text(f"""
[pipeline]
direction = "target"

[translate]
engine = "given"
path = "{trans}"

[label]
model = "{ner}"
{extra}
[align]
engine = "embed"
model = "{encoder}"
layer = 2

[project]
method = "ngram"

[filter]
policy = "keep-all"
""", encoding="utf-8")
    return path


def test_target_direction_labels_the_original_words_and_never_reads_tags(sample, ner_model, tiny_bert, tmp_path):
    from projection.label import labellers
    from projection.train import load_model

    src, trans = _target_files(tmp_path, sample)
    pfile = _pipeline(tmp_path, trans, ner_model, tiny_bert)
    res = pl.run("es", pfile, str(src), tmp_path / "run")
    m = res.manifest
    assert m["direction"] == "target" and m["source"]["tags_read"] is False
    assert list(m["stages"]) == ["translate", "label", "align", "project"]
    assert m["engines"]["label"]["engine"] == "trained" and m["engines"]["translate"]["engine"] == "given"
    assert len(res.projected) == len(sample)
    # the run's target side is the original text; its source side the labelled English
    assert [ps.target_tokens for ps in res.projected] == [s.tokens for s in sample]
    want = labellers.create("trained", model=str(ner_model), load=load_model).label([s.tokens for s in sample])
    assert [[(e.source.start, e.source.end, e.source.label) for e in ps.entities] for ps in res.projected] == \
        [[(sp.start, sp.end, sp.label) for sp in spans] for spans in want]
    assert sum(map(len, want)) >= 10
    # identity translation + identical words: nearly every entity lands on its own words, scored x confidence
    same = total = 0
    for ps, spans in zip(res.projected, want):
        assert ps.meta["label_confidence"] == pytest.approx([sp.confidence for sp in spans], abs=1e-6)
        for e, sp in zip(ps.entities, spans):
            total += 1
            same += e.target is not None and (e.target.start, e.target.end) == (sp.start, sp.end)
            assert e.score <= sp.confidence * 1.2 + 1e-6
    assert same >= 0.8 * total
    # a rerun recomputes nothing
    again = pl.run("es", pfile, str(src), tmp_path / "run")
    assert all(v["cached"] for v in again.manifest["stages"].values())
    assert [ps.to_dict() for ps in again.projected] == [ps.to_dict() for ps in res.projected]


def test_target_run_directory_works_with_inspect_export_and_train(sample, ner_model, tiny_bert, tmp_path, monkeypatch,
                                                                   capsys):
    src, trans = _target_files(tmp_path, sample)
    pfile = _pipeline(tmp_path, trans, ner_model, tiny_bert)
    run = tmp_path / "run"
    code, out, err = run_cli(monkeypatch, capsys, "run", "--lang", "es", "--pipeline", str(pfile), "--source", str(src),
                             "--out", str(run), "--json")
    assert code == 0, err
    assert json.loads(out)["sentences_in"] == len(sample) and "direction target" in err
    code, out, err = run_cli(monkeypatch, capsys, "inspect", str(run), "--json")
    assert code == 0, err
    assert json.loads(out)["counts"]["projected"] > 0
    code, out, err = run_cli(monkeypatch, capsys, "export", str(run), "--format", "conll", "--out", str(tmp_path / "x"))
    assert code == 0, err
    exported = read_conll(tmp_path / "x" / "train.conll")
    assert [s.tokens for s in exported] == [s.tokens for s in read_conll(run / "projected.conll")]
    code, out, err = run_cli(monkeypatch, capsys, "export", str(run), "--format", "hf", "--out", str(tmp_path / "h"))
    assert code == 0, err
    card = (tmp_path / "h" / "README.md").read_text(encoding="utf-8")
    assert "# Spanish text labelled through English" in card and "**back-translation**" in card
    code, out, err = run_cli(monkeypatch, capsys, "train", "--train", str(run / "projected.conll"), "--model", tiny_bert,
                             "--out", str(tmp_path / "m"), "--epochs", "1", "--threads", "1", "--json")
    assert code == 0, err
    assert (tmp_path / "m" / "train.json").exists()


def test_score_run_against_the_corpus_it_labelled(sample, ner_model, tiny_bert, tmp_path, monkeypatch, capsys):
    src, trans = _target_files(tmp_path, sample)
    run = tmp_path / "run"
    pl.run("es", _pipeline(tmp_path, trans, ner_model, tiny_bert), str(src), run)
    gold = tmp_path / "gold.conll"
    write_conll(sample, gold)
    res = score_run(run, gold)
    assert res["sentences"] == len(sample) and 0 < res["f1"] < 1
    assert res["support"] == sum(len(s.spans) for s in sample) and set(res["per_label"]) <= {"PER", "ORG", "LOC", "MISC"}
    from projection.rundir import read_projections

    own = tmp_path / "own.conll"  # the run's own labels as gold: full agreement
    write_conll([ps.target_sentence() for ps in read_projections(run)], own)
    assert score_run(run, own)["f1"] == pytest.approx(1.0)
    no_misc = score_run(run, gold, ["MISC"])
    assert "MISC" not in no_misc["per_label"]
    code, out, err = run_cli(monkeypatch, capsys, "score-run", str(run), "--gold", str(gold), "--json")
    assert code == 0 and json.loads(out)["f1"] == pytest.approx(res["f1"])
    write_conll(sample[:-1], tmp_path / "short.conll")
    with pytest.raises(ProjectionError, match="the corpus it labelled"):
        score_run(run, tmp_path / "short.conll")
    other = [s for s in sample]
    other[3] = type(other[3])(other[3].id, ["X"] * len(other[3].tokens), other[3].tags)
    write_conll(other, tmp_path / "other.conll")
    with pytest.raises(ProjectionError, match="sentence 4"):
        score_run(run, tmp_path / "other.conll")


def test_empty_english_is_untranslated_and_dropped(sample, ner_model, tiny_bert, tmp_path):
    english = [s.tokens for s in sample]
    english[2] = []
    src, trans = _target_files(tmp_path, sample, english)
    pfile = _pipeline(tmp_path, trans, ner_model, tiny_bert)
    res = pl.run("es", pfile, str(src), tmp_path / "run")
    assert res.projected[2].meta["untranslated"] and not res.projected[2].entities
    assert res.projected[2].kept is False and res.stats["dropped"] == {"untranslated": 1}


def test_apertium_reverse_mode_and_a_transformers_labeller(tiny_bert, tmp_path):
    """Spanish text through Apertium spa-eng, labelled by a random token-classification model: the run is whole."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    if shutil.which("apertium") is None:
        pytest.skip("apertium is not installed")
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    folder = tmp_path / "tokcls"
    cfg = BertConfig.from_pretrained(tiny_bert, num_labels=len(tags), id2label=dict(enumerate(tags)),
                                     label2id={t: i for i, t in enumerate(tags)})
    torch.manual_seed(0)
    BertForTokenClassification(cfg).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    src = tmp_path / "es.txt"
    src.write_text("Los ladridos de perro .\nla casa de Juan está en Madrid .\n", encoding="utf-8")
    pfile = tmp_path / "a.toml"
    pfile.write_text(f"""
[pipeline]
direction = "target"
[translate]
engine = "apertium"
[label]
model = "{folder}"
[align]
engine = "embed"
model = "{tiny_bert}"
layer = 2
[project]
method = "ngram"
""", encoding="utf-8")
    res = pl.run("es", pfile, str(src), tmp_path / "run")
    assert res.manifest["engines"]["translate"]["mode"] == "spa-eng"
    assert res.manifest["engines"]["label"]["engine"] == "transformers"
    assert res.projected[0].translation == "The barks of dog."
    assert res.projected[0].source.tokens == ["The", "barks", "of", "dog", "."]
    assert res.projected[1].target_tokens == "la casa de Juan está en Madrid .".split()
    # the refinement: the labelled English back into Spanish with Apertium's HTML markers, aligned to the original
    text = pfile.read_text(encoding="utf-8") + "[refine]\nretranslate = true\nmin_similarity = 0.5\n"
    pfile.write_text(text, encoding="utf-8")
    ref = pl.run("es", pfile, str(src), tmp_path / "run2")
    info = ref.manifest["stages"]["refine"]
    n = sum(len(ps.entities) for ps in res.projected)
    assert n > 0 and info["markers"]["entities"] == n and info["refined"]["marked_spans"] > 0
    assert ref.manifest["engines"]["refine"]["mode"] == "eng-spa" and ref.manifest["engines"]["refine"]["markers"]
    assert info["refined"]["agreed"] >= info["refined"]["confirmed"] + info["refined"]["changed"]
    assert [len(ps.entities) for ps in ref.projected] == [len(ps.entities) for ps in res.projected]
    assert ref.manifest["stages"]["translate"]["cached"] is False  # another run directory: its own stage store


def test_target_direction_errors(tmp_path, sample, ner_model, tiny_bert):
    src, trans = _target_files(tmp_path, sample)
    with pytest.raises(ProjectionError, match=r"label.model=DIR"):
        pl.run("es", "translate-test", str(src), tmp_path / "r")
    with pytest.raises(ProjectionError, match="--source"):  # the file names no source
        pl.prepare("es", _pipeline(tmp_path, trans, ner_model, tiny_bert), None, tmp_path / "r")
    with pytest.raises(ProjectionError, match="local executor only"):
        pl.run("es", _pipeline(tmp_path, trans, ner_model, tiny_bert), str(src), tmp_path / "r", executor="ray")
    with pytest.raises(ProjectionError, match=r"\[pipeline\] direction = 'back'"):
        pl.load_pipeline("translate-test", ["pipeline.direction=back"])
    with pytest.raises(ProjectionError, match=r"\[label\] engine = 'spacy'"):
        pl.load_pipeline("translate-test", ["label.engine=spacy"])
    with pytest.raises(ProjectionError, match="neither"):
        pl.run("es", _pipeline(tmp_path, trans, tiny_bert, tiny_bert), str(src), tmp_path / "r2")
    with pytest.raises(ProjectionError, match="not given translations"):
        pl.run("es", _pipeline(tmp_path, trans, ner_model, tiny_bert, extra="[refine]\nretranslate = true\n"),
               str(src), tmp_path / "r3")
    with pytest.raises(ProjectionError, match=r"\[refine\] applies to direction"):
        pl.load_pipeline("offline", ["refine.retranslate=true"])
    with pytest.raises(ProjectionError, match=r"\[refine\] min_similarity must be at most 1"):
        pl.load_pipeline("translate-test", ["refine.min_similarity=2"])
    cfg = pl.load_pipeline("translate-test", ["label.model=x"])
    assert cfg.direction == "target" and cfg.translate["engine"] == "apertium" and cfg.filter["policy"] == "keep-all"



# --------------------------------------------------------------------------- compare: systems 7 and 8


@pytest.fixture
def fake_data(tmp_path, monkeypatch):
    """The layout compare reads: English train/dev, 'Spanish' train (tags garbage: never read) and test."""
    sample = load_corpus("sample:train")
    data = tmp_path / "data"
    (data / "conll2003-en").mkdir(parents=True)
    (data / "conll2002" / "esp").mkdir(parents=True)
    write_conll(sample[:100], data / "conll2003-en" / "eng.train", sep=" ")
    write_conll(sample[100:130], data / "conll2003-en" / "eng.testa", sep=" ")
    src, _ = _target_files(tmp_path, sample[130:170])
    shutil.copy(src, data / "conll2002" / "esp" / "esp.train")
    write_conll(sample[180:200], data / "conll2002" / "esp" / "esp.testb", sep=" ")
    monkeypatch.setenv("PROJECTION_DATA", str(data))
    return data


def test_systems_7_and_8_label_target_text_through_english(tiny_bert, fake_data, tmp_path, monkeypatch):
    from projection.pipeline import BackLabeller

    # One thread on every machine: the tiny model's floats depend on the thread count. And a model trained long
    # enough to label entities with a margin: at 32 sentences x 10 epochs it labelled no entity at all in the
    # back-translated train text in some test orders (floats differ with the process's history); at 64 x 20 it
    # labels 22 entities in the test set and 45 in the train text.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    from projection.train.compare import SYSTEMS, CompareOptions, compare, plan

    pfile = tmp_path / "bt.toml"
    pfile.write_text(f"""
[pipeline]
direction = "target"
[translate]
engine = "apertium"
[label]
[align]
engine = "embed"
model = "{tiny_bert}"
layer = 2
[project]
method = "ngram"
[filter]
policy = "keep-all"
""", encoding="utf-8")
    opts = earlier_options(model=tiny_bert, max_train=64, max_dev=10, epochs=20, lr=3e-3, batch_size=4, eval_every=None)
    runs, missing = plan(["es"], [13], ["1", "7", "8"], opts)
    assert [r.system for r in runs] == ["1", "7", "8"] and not missing
    assert runs[1].back_source == "conll2002-es:test" and runs[2].back_source == "conll2002-es:train"
    assert runs[1].teacher.system == runs[2].teacher.system == "1" and SYSTEMS["7"] == "7 translate-test"
    with pytest.raises(ProjectionError, match="back_label"):
        compare(["es"], tmp_path / "out", seeds=[13], systems=["7"], options=opts)
    back = BackLabeller(str(pfile))
    res = compare(["es"], tmp_path / "out", seeds=[13], systems=["7", "8", "1"], options=opts, report=tmp_path / "rep",
                  back_label=back)
    rows = {r["system"].split()[0]: r for r in res["rows"]}
    assert set(rows) == {"1", "7", "8"}
    assert rows["7"]["train_sentences"] == 0 and 0 < rows["8"]["train_sentences"] <= 40
    assert "--back-pipeline" in rows["7"]["command"] and "--systems 8" in rows["8"]["command"]
    models = tmp_path / "out" / "models"
    # system 7's predictions are the back-translation run's labels of the test set
    from projection.rundir import read_projections

    run7 = models / f"{rows['7']['model_key']}.run"
    pred = read_conll(models / f"{rows['7']['model_key']}.eval" / "es" / "predictions.conll")
    assert [s.tags for s in pred] == [ps.target_sentence().tags for ps in read_projections(run7)]
    # system 8 trained on the kept back-labelled train sentences; its run read no tag
    run8 = json.loads((models / f"{rows['8']['model_key']}.run" / "manifest.json").read_text(encoding="utf-8"))
    assert run8["source"]["tags_read"] is False and run8["source"]["corpus"] == "conll2002-es:train"
    assert run8["engines"]["label"]["model"].endswith(rows["1"]["model_key"])
    assert not list(models.glob("*/model.safetensors"))  # every evaluation done: weights dropped
    again = compare(["es"], tmp_path / "out", seeds=[13], systems=["1", "7", "8"], options=opts, back_label=back)
    assert len(again["rows"]) == 3
    # the English tagger's decoder makes system 8's training labels and system 7's tags: their models change
    bio = compare(["es"], tmp_path / "out", seeds=[13], systems=["1", "7", "8"], back_label=back, dry_run=True,
                  options=dataclasses.replace(opts, decode="bio"))
    assert [(p["system"].split()[0], p["state"]) for p in bio["plan"]] == \
        [("1", "evaluation changed"), ("7", "model changed"), ("8", "model changed")]
