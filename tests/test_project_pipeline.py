"""The end-to-end pipeline: pipeline files, a run on the bundled sample, caching, manifest, auto."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from projection import pipeline as pl
from projection import pipeline_auto, stages
from projection import rundir
from projection.corpora import SAMPLE_PATH
from projection.corpus import read_conll, write_conll
from projection.errors import ProjectionError
from conftest import need_data



@pytest.fixture(scope="module")
def tiny_model(tiny_xlmr):
    return tiny_xlmr


@pytest.fixture
def small_source(tmp_path, sample_path):
    """The first 30 sample sentences and a 'translation' of each: the sentence itself (a random
    tiny encoder aligns by position, so only an identical sentence has a known right answer)."""
    sents = read_conll(sample_path)[:30]
    src = tmp_path / "src.conll"
    write_conll(sents, src)
    trans = tmp_path / "translations.txt"
    trans.write_text("".join(" ".join(s.tokens) + "\n" for s in sents), encoding="utf-8")
    return src, trans, sents


def _write_pipeline(path: Path, model: str, translations: Path, extra: str = "") -> Path:
    path.write_text(f"""
[pipeline]
description = "test: given + tiny encoder + ngram"

[translate]
engine = "given"
path = "{translations}"

[align]
engine = "embed"
model = "{model}"
layer = 2
method = "itermax"
{extra}
[project]
method = "ngram"

[filter]
policy = "drop-sentence"
""", encoding="utf-8")
    return path


def test_shipped_pipelines_are_valid():
    names = pl.pipeline_names()
    assert {"auto", "nllb", "offline", "given"} <= set(names)
    for name in ("nllb", "offline", "given"):
        cfg = pl.load_pipeline(name)
        assert cfg.project["method"] == "ngram" and cfg.filter["policy"] == "drop-sentence"
    assert pl.load_pipeline("offline").align["engine"] == "eflomal"


@pytest.mark.parametrize("text, message", [
    ("[translate]\nengine='given'\n[align]\nengine='embed'\n", "missing section [project]"),
    ("[translate]\nengine='given'\n[align]\nengine='embed'\nmodle='x'\n[project]\nmethod='ngram'\n",
     "[align] unknown key 'modle' for embed"),
    ("[translate]\nengine='given'\n[align]\nengine='embed'\nlayer='8'\n[project]\nmethod='ngram'\n",
     "[align] layer must be an integer"),
    ("[translate]\nengine='deepl'\n[align]\nengine='embed'\n[project]\nmethod='ngram'\n",
     "[translate] engine = 'deepl' is not one of"),
    ("[translate]\nengine='given'\n[align]\nengine='embed'\n[project]\nmethod='ngram'\nthreshold=true\n",
     "[project] threshold must be a number"),
    ("[translate]\nengine='given'\n[align]\nengine='embed'\n[project]\nmethod='ngram'\n[filter]\npolicy='all'\n",
     "[filter] policy = 'all' is not one of"),
    ("[translate]\nengine='given'\n[align]\nengine='embed'\n[project]\nmethod='ngram'\n[filter]\nmisc='loc'\n",
     "[filter] misc = 'loc' is not one of: keep, corpus"),
    ("[translate]\nengine='given'\n[align]\nengine='embed'\n[project]\nmethod='ngram'\n[output]\nx=1\n",
     "unknown section [output]"),
    ("[translate]\nengine='given'\n[align]\nengine='embed'\n[project]\n", "[project] missing key 'method'"),
    ("[translate\nengine='given'\n", "invalid TOML"),
])
def test_pipeline_file_errors_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProjectionError) as err:
        pl.load_pipeline(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_overrides_and_unknown_pipeline(tmp_path):
    cfg = pl.load_pipeline("given", ["align.model=bert-base-multilingual-cased", "project.threshold=0.4"])
    assert cfg.align["model"] == "bert-base-multilingual-cased" and cfg.project["threshold"] == 0.4
    with pytest.raises(ProjectionError, match="SECTION.KEY=VALUE"):
        pl.load_pipeline("given", ["threshold=0.4"])
    with pytest.raises(ProjectionError, match="unknown pipeline 'fast'"):
        pl.load_pipeline("fast")


def test_run_given_end_to_end_then_cached(tmp_path, small_source, tiny_model, monkeypatch, logged):
    src, trans, sents = small_source
    pfile = _write_pipeline(tmp_path / "p.toml", tiny_model, trans)
    out = tmp_path / "run"
    res = pl.run("es", pfile, str(src), out)
    assert logged()[0].startswith("projection run en->es: pipeline p, source ")
    for name in (rundir.MANIFEST, rundir.PROJECTIONS, rundir.ENTITIES, rundir.PROJECTED_CONLL, rundir.PROJECTED_PARQUET):
        assert (out / name).exists(), name
    projected = rundir.read_projections(out)
    assert len(projected) == 30 and all(isinstance(ps.kept, bool) for ps in projected)
    right = total = 0
    for s, ps in zip(sents, projected):
        for e in ps.entities:
            total += 1
            right += e.target is not None and (e.target.start, e.target.end) == (e.source.start, e.source.end)
    assert total > 40 and right / total > 0.9
    kept = read_conll(out / rundir.PROJECTED_CONLL)
    assert len(kept) == res.stats["sentences_out"] == sum(ps.kept for ps in projected)

    m = rundir.read_manifest(out)
    assert m["target_lang"] == "es" and m["source_lang"] == "en"
    assert m["engines"]["translate"]["engine"] == "given"
    assert m["engines"]["align"]["engine"] == "embed" and m["engines"]["align"]["layer"] == 2
    assert m["engines"]["align"]["backend"] == "ct2"  # the tiny XLM-R converts: CTranslate2 by default
    assert m["engines"]["project"]["method"] == "ngram"
    assert m["source"]["sentences"] == 30 and len(m["source"]["sha256"]) == 16
    assert m["pipeline"]["config"]["align"]["method"] == "itermax" and m["pipeline"]["sha256"]
    assert set(m["timings"]) >= {"translate", "align", "project", "total"}
    assert m["counts"]["sentences_in"] == 30 and sum(v["entities"] for v in m["counts"]["per_label"].values()) == total
    assert "numpy" in m["versions"]
    assert m["hardware"]["machine"] and isinstance(m["hardware"]["isa"], list)  # the CPU its kernels ran on
    assert not any(st["cached"] for st in m["stages"].values())

    # a rerun does no stage work: make every stage fail if it is called
    from projection.align.embed import EmbedAligner
    from projection.project.ngram import NgramProjector
    from projection.translate.given import GivenTranslator

    def boom(*a, **k):
        raise AssertionError("stage recomputed")

    monkeypatch.setattr(EmbedAligner, "align_with_similarity", boom)
    monkeypatch.setattr(EmbedAligner, "align", boom)
    monkeypatch.setattr(NgramProjector, "project", boom)
    monkeypatch.setattr(GivenTranslator, "translate", boom)
    res2 = pl.run("es", pfile, str(src), out)
    assert all(st["cached"] for st in res2.manifest["stages"].values())
    # the translate statistics are those of the run that computed the stage, not an empty record
    assert res2.manifest["stages"]["translate"]["stats"] == m["stages"]["translate"]["stats"]
    assert m["stages"]["translate"]["stats"]["lines"] == 30
    assert (out / rundir.PROJECTIONS).read_text() == "".join(
        json.dumps(ps.to_dict(), ensure_ascii=False) + "\n" for ps in res2.projected)
    assert res2.stats == res.stats
    # a changed option changes the projection key only: translation and alignment stay cached
    monkeypatch.undo()
    res3 = pl.run("es", pfile, str(src), out, overrides=["project.threshold=0.9"])
    st = res3.manifest["stages"]
    assert st["translate"]["cached"] and st["align"]["cached"] and not st["project"]["cached"]


def test_align_backend_in_the_pipeline_file(tmp_path, small_source, tiny_model, logged):
    src, trans, _ = small_source
    pfile = _write_pipeline(tmp_path / "p.toml", tiny_model, trans, extra='backend = "torch"\n')
    out = tmp_path / "run"
    res = pl.run("es", pfile, str(src), out)
    sig = res.manifest["engines"]["align"]
    assert (sig["backend"], sig["compute_type"]) == ("torch", "float32") and len(sig["code"]) == 12
    assert any(line.startswith("align: embed on torch (float32)") for line in logged())
    assert res.manifest["stages"]["align"]["windowed_sentences"] == 0
    # the backend is part of the alignment's key: ct2 aligns again, translation stays cached
    res2 = pl.run("es", pfile, str(src), out, overrides=["align.backend=ct2"])
    sig2 = res2.manifest["engines"]["align"]
    assert (sig2["backend"], sig2["compute_type"]) == ("ct2", "int8")
    st = res2.manifest["stages"]
    assert st["translate"]["cached"] and not st["align"]["cached"]
    assert st["align"]["key"] != res.manifest["stages"]["align"]["key"]
    # the default where the model converts is ct2: the same alignment, from the cache
    res3 = pl.run("es", _write_pipeline(tmp_path / "q.toml", tiny_model, trans), str(src), out)
    assert res3.manifest["stages"]["align"]["cached"] and res3.manifest["engines"]["align"] == sig2
    with pytest.raises(ProjectionError, match=r"p\.toml: \[align\] embed backend must be one of auto, ct2, torch"):
        pl.run("es", pfile, str(src), out, overrides=["align.backend=onnx"])
    bad = _write_pipeline(tmp_path / "bad.toml", tiny_model, trans, extra="backend = 2\n")
    with pytest.raises(ProjectionError, match=r"bad\.toml: \[align\] backend must be a string"):
        pl.run("es", bad, str(src), out)


def test_resumed_alignment_reuses_finished_chunks(tmp_path, small_source, tiny_model, monkeypatch):
    src, trans, _ = small_source
    pfile = _write_pipeline(tmp_path / "p.toml", tiny_model, trans)
    monkeypatch.setattr(stages, "ALIGN_CHUNK", 10)
    out = tmp_path / "run"
    pl.run("es", pfile, str(src), out)
    chunks = sorted((out / "stages").glob("align-*/*.npz"))
    assert len(chunks) == 3
    chunks[-1].unlink()  # as if the run had been killed during the last chunk
    res = pl.run("es", pfile, str(src), out)
    assert res.manifest["stages"]["align"]["pairs_cached"] == 20
    assert res.manifest["stages"]["align"]["pairs_aligned"] == 10


def test_sample_fallback_is_said_first(tmp_path, small_source, tiny_model, monkeypatch, logged):
    _, _, _ = small_source
    sample = [" ".join(s.tokens) for s in read_conll(SAMPLE_PATH)]
    trans = tmp_path / "t.txt"
    trans.write_text("".join(t + "\n" for t in sample), encoding="utf-8")
    pfile = _write_pipeline(tmp_path / "p.toml", tiny_model, trans)
    monkeypatch.setenv("PROJECTION_DATA", str(tmp_path / "no-data-here"))
    res = pl.run("es", pfile, None, tmp_path / "run")
    first = logged()[0]
    assert "sample:train" in first and "conll2003-en:train not found" in first
    assert res.manifest["source"]["fallback"] is True and res.manifest["source"]["corpus"] == "sample:train"
    # an explicit source is never replaced
    with pytest.raises(ProjectionError, match="conll2003-en:train not found"):
        pl.run("es", pfile, "conll2003-en:train", tmp_path / "run2")


def test_auto_choice(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(pipeline_auto, "model_available", lambda name: (False, f"{name} is not available"))
    if shutil.which("apertium"):
        cfg, why = pl.choose_auto("es")
        assert cfg.name == "offline" and "NLLB-200 models not available" in why
    with pytest.raises(ProjectionError, match="no pipeline can translate into 'fi'"):
        pl.choose_auto("fi")
    monkeypatch.setattr(pipeline_auto, "model_available", lambda name: (True, ""))
    cfg, why = pl.choose_auto("fi")
    assert cfg.name == "nllb" and "pipeline nllb" in why


def test_model_available_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert pl.model_available(str(tmp_path))[0]
    ok, why = pl.model_available("someone/no-such-model")
    assert not ok and "HF_HUB_OFFLINE" in why


@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is not installed")
def test_offline_pipeline_with_apertium(tmp_path, sample_path):
    sents = read_conll(sample_path)[:12]
    src = tmp_path / "src.conll"
    write_conll(sents, src)
    # no extra parallel text: with the real data present eflomal would learn from 20,000 more pairs
    res = pl.run("es", "offline", str(src), tmp_path / "run", overrides=["align.extra_parallel=[]", "align.rel_iterations=0.2"])
    m = res.manifest
    assert m["engines"]["translate"]["engine"] == "apertium" and m["engines"]["align"]["engine"] == "eflomal"
    projected = rundir.read_projections(tmp_path / "run")
    assert len(projected) == 12 and all(ps.target_tokens for ps in projected)
    assert res.stats["projected"] >= 0.7 * res.stats["entities"]


@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is not installed")
def test_markers_pipeline_with_apertium(tmp_path, sample_path):
    sents = read_conll(sample_path)[:12]
    src = tmp_path / "src.conll"
    write_conll(sents, src)
    res = pl.run("es", "offline", str(src), tmp_path / "run", overrides=["project.method=markers", "align.extra_parallel=[]",
                                                                     "align.rel_iterations=0.2"])
    assert res.manifest["engines"]["project"]["method"] == "markers"
    projected = rundir.read_projections(tmp_path / "run")
    methods = [e.method for ps in projected for e in ps.entities if str(e.status) == "projected"]
    assert methods.count("markers") >= 0.8 * len(methods)
    assert all("markers_lost" in ps.meta for ps in projected)
    # Apertium leaves names it does not know untranslated: marked names come back verbatim
    first = projected[1]
    assert [" ".join(first.target_tokens[e.target.start:e.target.end]) for e in first.entities] == \
        [" ".join(first.source.tokens[e.source.start:e.source.end]) for e in first.entities]


def test_extra_parallel_text_from_the_deepl_files():
    need_data("easy-label-projection-ner/automatic_projections/en2de/DeepL.50000.awesome.train.tsv")
    pairs, info = pl.extra_parallel_pairs(["deepl"], "de")
    # train/dev/test sentences; the -DOCSTART- blocks (some of them mangled by DeepL) are dropped
    assert info == [{"name": "deepl", "pairs": 14041 + 3250 + 3453}]
    assert all(s != ["-DOCSTART-"] and t and t[0] != "-OCSTART-" for s, t in pairs[:2000])
    with pytest.raises(ProjectionError, match="neither"):
        pl.extra_parallel_pairs(["wikipedia"], "de")


def test_eval_projection_keys_and_halves():
    need_data("europarl-ner/es-europarl.test.conll02")
    # eflomal runs many iterations on a small corpus; a tenth of them is enough to test the plumbing
    res = pl.eval_projection("es", "eflomal", None, "ngram", {"rel_iterations": 0.1}, extra_parallel=[], half="first")
    assert {"f1", "precision", "recall", "per_label"} <= set(res)
    assert res["sentences"] == 399 and set(res["per_label"]) == {"LOC", "MISC", "ORG", "PER"}
    assert 0 <= res["f1"] <= 1 and res["method"]["method"] == "ngram"
    with pytest.raises(ProjectionError, match="gold entities for es, de"):
        pl.eval_projection("fr", "eflomal")


def test_run_with_translations_that_are_not_line_parallel(tmp_path, small_source, tiny_model, logged):
    """Missing translations are found by sentence matching and their source sentences dropped as
    untranslated; the others keep their source ids."""
    src, trans, sents = small_source
    lines = trans.read_text(encoding="utf-8").splitlines()
    missing = [4, 17]
    partial = tmp_path / "partial.txt"
    partial.write_text("".join(ln + "\n" for k, ln in enumerate(lines) if k not in missing), encoding="utf-8")
    pfile = _write_pipeline(tmp_path / "p.toml", tiny_model, partial)
    out = tmp_path / "run"
    res = pl.run("es", pfile, str(src), out)
    assert any("28 of 30 source sentences matched" in x for x in logged())
    projected = rundir.read_projections(out)
    assert [ps.id for ps in projected] == [s.id for s in sents]
    for k, ps in enumerate(projected):
        if k in missing:
            assert ps.meta["untranslated"] and not ps.kept and ps.drop_reason == "untranslated"
            assert ps.target_tokens == []
        else:
            assert ps.target_tokens == sents[k].tokens and "untranslated" not in ps.meta
    from projection.corpus import read_corpus

    kept_ids = [s.id for s in read_corpus(out / rundir.PROJECTED_PARQUET)]  # the parquet keeps the source ids
    assert kept_ids == [ps.id for ps in projected if ps.kept]
    assert not {sents[k].id for k in missing} & set(kept_ids)
    m = res.manifest
    match = m["stages"]["translate"]["sentence_match"]
    assert match["matched"] == 28 and match["unmatched_source_ids"] == [sents[k].id for k in missing]
    assert m["counts"]["dropped"]["untranslated"] == 2
    n_untranslated = sum(len(sents[k].spans) for k in missing)
    assert sum(v.get("untranslated", 0) for v in m["counts"]["per_label"].values()) == n_untranslated
    conv = m["label_convention"]
    assert (conv["lowercase"], conv["from"]) == ("drop", "default for es")
    assert (conv["misc"]["mode"], conv["misc"]["from"], conv["misc"]["retyped"]) == ("corpus", "default for es", 0)
    assert m["engines"]["filter"]["misc"] == "corpus"
    # a rerun reads the match from the stage store: the manifest still has it
    res2 = pl.run("es", pfile, str(src), out)
    assert res2.manifest["stages"]["translate"]["cached"]
    assert res2.manifest["stages"]["translate"]["sentence_match"] == match


def test_nllb_given_pipeline_file():
    cfg = pl.load_pipeline("nllb-given")
    assert cfg.translate["engine"] == "given" and cfg.translate["format"] == "conll"
    assert cfg.translate["path"] == "{data}/tprojection-nllb/{lang}.train.txt"
    assert cfg.align["model"] == "models/e5-small" and cfg.project["method"] == "ngram"
    assert pl.projector_options(cfg, "swa")["lowercase"] == "keep"
    assert pl.projector_options(pl.load_pipeline("nllb-given", ["project.lowercase='misc'"]), "swa")["lowercase"] == "misc"


def test_projection_stats_count_untranslated_and_dropped():
    from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Sentence, Span

    loc, misc = Span(0, 1, "LOC"), Span(1, 2, "MISC")
    src = Sentence("a", ["Paris", "German"], ["B-LOC", "B-MISC"])
    ok = ProjectedSentence(src, ["París", "alemana"], [
        ProjectedEntity(loc, Span(0, 1, "LOC"), 1.0, "ngram", EntityStatus.PROJECTED),
        ProjectedEntity(misc, Span(1, 2, "MISC"), 1.0, "ngram", EntityStatus.REMOVED)])
    gone = ProjectedSentence(Sentence("b", ["Rome"], ["B-LOC"]), [], [
        ProjectedEntity(Span(0, 1, "LOC"), None, 0.0, "ngram", EntityStatus.UNALIGNED)], meta={"untranslated": True})
    from projection.project import apply_policy

    apply_policy([ok, gone], "keep-all")
    st = pl.projection_stats([ok, gone])
    assert ok.kept and not gone.kept and gone.drop_reason == "untranslated"
    assert st["dropped"] == {"untranslated": 1} and st["removed_by_convention"] == 1
    assert st["per_label"]["LOC"] == {"entities": 2, "projected": 1, "untranslated": 1, "rate": 1.0}
    assert st["per_label"]["MISC"]["rate"] == 1.0 and st["rate"] == 1.0 and st["entities_in_output"] == 1
    assert ok.target_sentence().tags == ["B-LOC", "O"]


def test_typed_options_name_file_section_key_and_set_option(tmp_path):
    """Engine options are checked against the engine's options model (Literal choices, ranges)."""
    for text, message in (("project.threshold=2", "--set project.threshold=2: [project] threshold must be at most 1, not 2"),
                          ("project.matching='fuzzy'", "--set project.matching='fuzzy': [project] matching must be one of "
                                                       "greedy or exact, not 'fuzzy'"),
                          ("project.max_len=0", "--set project.max_len=0: [project] max_len must be at least 1"),
                          ("filter.min_score=-0.5", "--set filter.min_score=-0.5: [filter] min_score must be at least 0"),
                          ("pipeline.executor='spark'", "--set pipeline.executor='spark': [pipeline] executor = 'spark' "
                                                        "is not one of: local, ray"),
                          ("align.similarity=1", "--set align.similarity=1: [align] similarity must be true or false")):
        with pytest.raises(ProjectionError) as err:
            pl.load_pipeline("given", [text])
        assert str(err.value).startswith(message), str(err.value)
    bad = tmp_path / "bad.toml"
    bad.write_text("[translate]\nengine='given'\n[align]\nengine='embed'\n[project]\nmethod='heuristic'\ngap=-1\n",
                   encoding="utf-8")
    with pytest.raises(ProjectionError, match=r"bad\.toml: \[project\] gap must be at least 0, not -1"):
        pl.load_pipeline(bad)


def test_one_value_parser_for_set_and_option():
    from projection.options import parse_override, parse_value

    assert [parse_value(v) for v in ("0.4", "3", "true", "False", "'x'", "[1, 2]", "models/e5-small", "1e3")] == \
        [0.4, 3, True, False, "x", [1, 2], "models/e5-small", 1000.0]
    assert parse_override("align.layer = 8") == ("align", "layer", 8)
    with pytest.raises(ProjectionError, match="SECTION.KEY=VALUE"):
        parse_override("layer=8")


def test_executor_names_of_the_config_are_the_registry():
    from projection.executors import executors
    from projection.pipeline_config import EXECUTOR_NAMES

    assert list(EXECUTOR_NAMES) == executors.names()


def test_a_bug_inside_an_engine_constructor_surfaces_as_itself(tmp_path, small_source, tiny_model, monkeypatch):
    """Options are validated before an engine is built, so nothing around the constructor turns its
    own errors into configuration errors."""
    from projection.project.ngram import NgramProjector
    from projection.translate.given import GivenTranslator

    src, trans, _ = small_source
    pfile = _write_pipeline(tmp_path / "p.toml", tiny_model, trans)

    def broken_post_init(self):
        raise TypeError("a bug inside the projector")

    with monkeypatch.context() as m:
        m.setattr(NgramProjector, "__post_init__", broken_post_init)
        with pytest.raises(TypeError, match="a bug inside the projector"):
            pl.run("es", pfile, str(src), tmp_path / "run")
    original = GivenTranslator.__init__

    def broken_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise TypeError("unsupported operand type(s) inside the translator")

    monkeypatch.setattr(GivenTranslator, "__init__", broken_init)
    with pytest.raises(TypeError, match="inside the translator"):
        pl.run("es", pfile, str(src), tmp_path / "run2")


def _last_tags_of_runs(tmp_path, tiny_model, rows, tags):
    """``last_tags(lang, overrides)``: run the tiny pipeline on ``rows`` (the translation is the source itself)
    and return the projected tags of the last sentence and the run's manifest."""
    from projection.records import Sentence

    sents = [Sentence(f"d{k}", toks, tg) for k, (toks, tg) in enumerate(zip(rows, tags))]
    src = tmp_path / "src.conll"
    write_conll(sents, src)
    trans = tmp_path / "translations.txt"
    trans.write_text("".join(" ".join(s.tokens) + "\n" for s in sents), encoding="utf-8")
    pfile = _write_pipeline(tmp_path / "p.toml", tiny_model, trans)

    def last_tags(lang: str, overrides=()) -> tuple[list[str], dict]:
        out = tmp_path / f"run-{lang}-{len(overrides)}"
        res = pl.run(lang, pfile, str(src), out, overrides=list(overrides))
        return [s.tags for s in read_conll(out / rundir.PROJECTED_CONLL)][-1], res.manifest

    return last_tags


def test_misc_retyped_by_the_corpus_for_a_target_without_misc(tmp_path, tiny_model):
    """A target without MISC (sw) retypes a projected MISC entity on words the run projects as LOC
    elsewhere, and so does es (its MISC adjectives are lower-case and dropped); a target whose capitalised
    adjectives stay MISC (nl) keeps it; ``[filter] misc`` overrides the target's default."""
    rows = [["Talks", "in", "Ujerumani", "ended", "."], ["Ujerumani", "won", "the", "match", "."],
            ["Rain", "fell", "across", "Ujerumani", "."], ["The", "Ujerumani", "call", "failed", "."]]
    tags = [["O", "O", "B-LOC", "O", "O"], ["B-LOC", "O", "O", "O", "O"], ["O", "O", "O", "B-LOC", "O"],
            ["O", "B-MISC", "O", "O", "O"]]
    last_tags = _last_tags_of_runs(tmp_path, tiny_model, rows, tags)

    tags_sw, m = last_tags("sw")
    assert tags_sw == ["O", "B-LOC", "O", "O", "O"]
    misc = m["label_convention"]["misc"]
    assert (misc["mode"], misc["from"], misc["retyped"], misc["strings"]) == ("corpus", "default for sw", 1,
                                                                               [["ujerumani", "LOC", 1]])
    assert m["engines"]["filter"]["misc"] == "corpus" and m["engines"]["filter"]["misc_min_share"] == 0.4
    assert last_tags("es")[0] == ["O", "B-LOC", "O", "O", "O"]
    assert last_tags("nl")[0] == ["O", "B-MISC", "O", "O", "O"]
    tags_kept, m = last_tags("sw", ["filter.misc=keep"])
    assert tags_kept == ["O", "B-MISC", "O", "O", "O"] and m["label_convention"]["misc"]["from"] == "pipeline"
    assert last_tags("sw", ["filter.misc=corpus", "filter.misc_min_count=4"])[0] == ["O", "B-MISC", "O", "O", "O"]


def test_a_derived_adjective_of_a_place_becomes_misc_in_german_and_dutch(tmp_path, tiny_model):
    """German and Dutch retype a projected LOC word that is a place of the run plus the target's suffix
    (``Londoner``, ``Londense``) to MISC; a target without a suffix (es) keeps LOC; ``[filter] derived``
    overrides the default, and the manifest says what changed and who chose."""
    rows = [["Talks", "in", "London", "ended", "."], ["London", "won", "the", "match", "."],
            ["Rain", "fell", "across", "London", "."], ["The", "Londoner", "market", "fell", "."]]
    tags = [["O", "O", "B-LOC", "O", "O"], ["B-LOC", "O", "O", "O", "O"], ["O", "O", "O", "B-LOC", "O"],
            ["O", "B-LOC", "O", "O", "O"]]
    last_tags = _last_tags_of_runs(tmp_path, tiny_model, rows, tags)

    tags_de, m = last_tags("de")
    assert tags_de == ["O", "B-MISC", "O", "O", "O"]
    derived = m["label_convention"]["derived"]
    assert (derived["mode"], derived["suffix"], derived["from"], derived["retyped"], derived["strings"]) == (
        "misc", "er", "default for de", 1, [["londoner", "london", 1]])
    assert (m["engines"]["filter"]["derived"], m["engines"]["filter"]["derived_suffix"]) == ("misc", "er")
    entity = rundir.read_projections(tmp_path / "run-de-0")[-1].entities[0]
    assert (entity.method, entity.source.label, entity.target.label) == ("ngram+derived", "LOC", "MISC")
    assert last_tags("es")[0] == ["O", "B-LOC", "O", "O", "O"]
    assert last_tags("nl")[0] == ["O", "B-LOC", "O", "O", "O"]  # Dutch derives with -se
    tags_kept, m = last_tags("de", ["filter.derived=keep"])
    assert tags_kept == ["O", "B-LOC", "O", "O", "O"] and m["label_convention"]["derived"]["from"] == "pipeline"
    assert last_tags("es", ["filter.derived=misc", "filter.derived_suffix=er"])[0] == ["O", "B-MISC", "O", "O", "O"]
    with pytest.raises(ProjectionError, match="needs a suffix"):
        last_tags("es", ["filter.derived=misc"])


def test_hyphens_cut_and_the_prefix_outside_unless_attached(tmp_path, tiny_model):
    """A CoNLL translation cut at its hyphens (``hyphens = "split"``): the class prefix stays outside the
    projected entity (``i - [ANC]``, MasakhaNER's Zulu convention) unless ``[filter] prefix = "attach"``;
    the manifest says what moved and who chose."""
    from projection.records import Sentence

    sents = [Sentence("d0", ["ANC", "won", "."], ["B-ORG", "O", "O"])]
    src = tmp_path / "src.conll"
    write_conll(sents, src)
    trans = tmp_path / "translations.conll"
    trans.write_text("i-ANC O\niwinile O\n. O\n", encoding="utf-8")
    pfile = tmp_path / "p2.toml"
    pfile.write_text(_write_pipeline(tmp_path / "p.toml", tiny_model, trans).read_text(encoding="utf-8")
                     .replace('engine = "given"', 'engine = "given"\nhyphens = "split"'), encoding="utf-8")

    def run(lang: str, overrides=()) -> tuple[list[str], list[str], dict]:
        out = tmp_path / f"run-{lang}-{len(overrides)}"
        res = pl.run(lang, pfile, str(src), out, overrides=list(overrides))
        sent = read_conll(out / rundir.PROJECTED_CONLL)[0]
        return sent.tokens, sent.tags, res.manifest

    tokens, tags, m = run("zu")
    assert tokens == ["i", "-", "ANC", "iwinile", "."] and tags == ["O", "O", "B-ORG", "O", "O"]
    prefix = m["label_convention"]["prefix"]
    assert (prefix["mode"], prefix["from"], prefix["attached"]) == ("keep", "default", 0)
    assert m["engines"]["filter"]["prefix"] == "keep" and m["engines"]["translate"]["hyphens"] == "split"
    _, tags, m = run("zu", ["filter.prefix=attach"])
    assert tags == ["B-ORG", "I-ORG", "I-ORG", "O", "O"]
    prefix = m["label_convention"]["prefix"]
    assert (prefix["mode"], prefix["from"], prefix["attached"], prefix["prefixes"]) == ("attach", "pipeline", 1,
                                                                                         [["i", 1]])
