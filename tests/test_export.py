"""Exporting runs: spaCy DocBin (trained on with `spacy train`), a Hugging Face datasets folder with
its dataset card, CoNLL/JSONL in a tag scheme, and the export-time selection (policy, score, split)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from inspect_runs import MANIFEST, make_run, sentences
from projection import rundir
from projection.corpora import SAMPLE_PATH
from projection.corpus import read_conll, read_jsonl
from projection.errors import ProjectionError
from projection.export import export_run
from projection.export.base import Selection, load_run_data
from projection.records import Span

REPO = Path(__file__).resolve().parent.parent


def _make_sample_run(root: Path, model: str) -> None:
    from projection import pipeline as pl

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROJECTION_CACHE", str(root / "cache"))
        mp.setenv("PROJECTION_PROGRESS", "0")
        sents = read_conll(SAMPLE_PATH)
        lines = []
        for k, s in enumerate(sents):
            toks, first = list(s.tokens), (s.spans or [None])[0]
            if first is not None and k % 4 == 0:
                toks[first.start:first.end] = ["cosa"] * len(first)
            elif first is not None and k % 4 == 1:
                del toks[first.start:first.end]
            lines.append(" ".join(toks) or "nada")
        trans = root / "translations.txt"
        trans.write_text("".join(t + "\n" for t in lines), encoding="utf-8")
        pfile = root / "sample.toml"
        pfile.write_text(f"""
[pipeline]
description = "given + tiny encoder + ngram"
[translate]
engine = "given"
path = "{trans}"
[align]
engine = "embed"
model = "{model}"
layer = 2
method = "itermax"
[project]
method = "ngram"
[filter]
policy = "drop-sentence"
""", encoding="utf-8")
        pl.run("es", pfile, "sample:train", root / "es-sample")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, worker_id, tiny_xlmr):
    """A real run of the bundled sample (200 sentences): `given` translations, a tiny random encoder,
    ngram projection, drop-sentence. The 'translations' are the sentences themselves with the first
    entity of every fourth sentence replaced by other words and of the next one deleted, so the
    run has unprojected entities, dropped sentences and scores below 1. Made once per session and
    shared by the xdist workers (a file lock in their common temporary folder)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = (base if worker_id == "master" else base.parent) / "export-sample-run"  # this session's folder
    with FileLock(str(root) + ".lock"):
        if not (root / "es-sample" / rundir.MANIFEST).exists():
            root.mkdir(exist_ok=True)
            _make_sample_run(root, tiny_xlmr)
    return root / "es-sample"


def _kept(run) -> list:
    return [ps for ps in rundir.read_projections(run) if ps.kept]


def test_sample_run_has_something_to_select(sample_run):
    m = rundir.read_manifest(sample_run)
    assert m["counts"]["sentences_in"] == 200
    assert 0 < m["counts"]["sentences_in"] - m["counts"]["sentences_out"]  # some sentences were dropped
    scores = [e.score for ps in rundir.read_projections(sample_run) for e in ps.entities]
    assert min(scores) < 0.9 < max(scores)


@pytest.mark.slow
def test_spacy_docbin_trains_with_spacy_train(sample_run, tmp_path):
    import spacy
    from spacy.tokens import DocBin

    res = export_run(sample_run, "spacy", tmp_path / "corpus", dev_fraction=0.2, seed=7)
    assert res.files == ["train.spacy", "dev.spacy", "export.json"]
    kept = {ps.id: ps for ps in _kept(sample_run)}
    nlp = spacy.blank("xx")
    docs = {}
    for split in ("train", "dev"):
        got = list(DocBin().from_disk(tmp_path / "corpus" / f"{split}.spacy").get_docs(nlp.vocab))
        assert len(got) == res.counts[split]["sentences"]
        assert sum(len(d.ents) for d in got) == res.counts[split]["entities"]
        docs.update({d.user_data["id"]: d for d in got})
    assert set(docs) == set(kept)
    # the run's tokenisation and its projected entities, as in projected.conll
    conll = dict(zip(kept, read_conll(sample_run / rundir.PROJECTED_CONLL), strict=True))  # same order, no ids
    for sid, doc in docs.items():
        assert [t.text for t in doc] == kept[sid].target_tokens == conll[sid].tokens
        assert [Span(e.start, e.end, e.label_) for e in doc.ents] == conll[sid].spans
        assert [r["score"] for r in doc.user_data["entities"]] == \
            [e.score for e in sorted(kept[sid].entities, key=lambda e: (e.source.start, e.source.end))]

    cfg, model = tmp_path / "config.cfg", tmp_path / "model"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "spacy", "init", "config", str(cfg), "--lang", "xx", "--pipeline", "ner",
                    "--optimize", "efficiency"], check=True, capture_output=True, env=env)
    proc = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(cfg), "--output", str(model),
         "--paths.train", str(tmp_path / "corpus" / "train.spacy"), "--paths.dev", str(tmp_path / "corpus" / "dev.spacy"),
         "--training.max_epochs", "1", "--training.max_steps", "6", "--training.eval_frequency", "3",
         "--components.tok2vec.model.embed.width", "16", "--components.tok2vec.model.encode.width", "16",
         "--components.tok2vec.model.encode.depth", "1", "--components.ner.model.hidden_width", "8"],
        capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (model / "model-last" / "meta.json").exists()
    trained = spacy.load(model / "model-last")
    assert set(trained.get_pipe("ner").labels) == {"LOC", "MISC", "ORG", "PER"}


def test_hf_export_loads_with_datasets(sample_run, tmp_path):
    import datasets
    import pyarrow.parquet as pq

    out = tmp_path / "hf"
    res = export_run(sample_run, "hf", out, dev_fraction=0.25, seed=3)
    m = rundir.read_manifest(sample_run)
    ds = datasets.load_dataset(str(out))
    assert isinstance(ds, datasets.DatasetDict) and set(ds) == {"train", "validation"}
    assert ds["train"].num_rows + ds["validation"].num_rows == m["counts"]["sentences_out"]
    assert ds["validation"].num_rows == round(0.25 * m["counts"]["sentences_out"])
    names = ds["train"].features["ner_tags"].feature.names
    assert names == ["O"] + [f"{p}-{lab}" for lab in sorted(m["counts"]["per_label"]) for p in ("B", "I")]
    begins = sum(names[t].startswith("B-") for split in ds.values() for tags in split["ner_tags"] for t in tags)
    assert begins == m["counts"]["entities_in_output"]
    assert set(ds["train"].column_names) == {"id", "tokens", "ner_tags", "entities"}
    ids = list(ds["train"]["id"]) + list(ds["validation"]["id"])
    assert sorted(ids) == sorted(ps.id for ps in _kept(sample_run)) and not set(ds["train"]["id"]) & set(ds["validation"]["id"])
    # per-entity scores and statuses are the run's (entities.parquet)
    rows = pq.read_table(sample_run / rundir.ENTITIES).to_pylist()
    by_id: dict[str, list] = {}
    for r in rows:
        by_id.setdefault(r["id"], []).append((r["src_start"], r["score"], r["status"], r["tgt_start"]))
    for row in ds["validation"]:
        got = [(e["source_start"], e["score"], e["status"], e["start"]) for e in row["entities"]]
        assert got == sorted(by_id.get(row["id"], []))
        for e in row["entities"]:
            if e["status"] == "projected":
                assert names[row["ner_tags"][e["start"]]] == f"B-{e['label']}"
    # the same seed gives the same split, another seed another one
    again = export_run(sample_run, "hf", tmp_path / "hf2", dev_fraction=0.25, seed=3)
    other = export_run(sample_run, "hf", tmp_path / "hf3", dev_fraction=0.25, seed=4)
    assert again.counts == res.counts
    dev_ids = lambda p: set(datasets.load_dataset(str(p))["validation"]["id"])  # noqa: E731
    assert dev_ids(tmp_path / "hf2") == set(ds["validation"]["id"]) != dev_ids(tmp_path / "hf3")

    card = (out / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["language"] == ["es"] and meta["license"] == "apache-2.0"
    assert meta["task_categories"] == ["token-classification"] and meta["task_ids"] == ["named-entity-recognition"]
    assert meta["size_categories"] == ["n<1K"] and "annotation-projection" in meta["tags"]
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "data/train-*"},
                                                {"split": "validation", "path": "data/validation-*"}]
    for label, row in m["counts"]["per_label"].items():
        rate = f"{100 * row['projected'] / row['entities']:.1f}%"
        assert f"| {label} | {row['entities']:,} | {row['projected']:,} |" in card and rate in card
    assert f"{m['counts']['sentences_out']:,} of {m['counts']['sentences_in']:,} sentences are in this dataset" in card
    assert "projection export runs/es-sample --format hf --dev-fraction 0.25 --seed 3 --out hf" in card
    assert str(tmp_path) not in card and "/tmp" not in card  # no machine path leaks into a card


def test_hf_card_of_conll2003_states_its_licence(tmp_path):
    manifest = {**MANIFEST, "source": {"corpus": "conll2003-en:train"}, "target_lang": "spa_Latn",
                "engines": {"translate": {"engine": "given", "file": "DeepL.50000.awesome.train.tsv"}}}
    run = tmp_path / "run"
    rundir.write_run(run, sentences(), manifest)
    export_run(run, "hf", tmp_path / "hf")
    card = (tmp_path / "hf" / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["language"] == ["es"]  # ISO 639-1 from an NLLB code
    assert meta["license"] == "other" and meta["license_name"] and meta["license_link"].startswith("https://")
    assert meta["source_datasets"] == ["extended|conll2003"] and "machine-translated" in meta["tags"]
    assert "research use only" in card and "tjong-kim-sang-de-meulder-2003-introduction" in card
    assert "garcia-ferrero-etal-2022-model" in card
    # a language without an ISO 639-1 code gets its ISO 639-3 code
    rundir.write_run(run, sentences(), {**manifest, "target_lang": "ast"})
    export_run(run, "hf", tmp_path / "hf")
    assert yaml.safe_load((tmp_path / "hf" / "README.md").read_text().split("---\n")[1])["language"] == ["ast"]


def test_card_survives_hostile_strings(tmp_path):
    nasty = 'x: "y"\n---\n| a | `b` #c'
    home = tmp_path / "someone"  # an absolute folder of the machine that made the run: never in the card
    manifest = {**MANIFEST,
                "pipeline": {"name": nasty, "requested": str(home / "p.toml"), "config": {"description": nasty}},
                "engines": {"translate": {"engine": "nllb", "model": nasty},
                            "align": {"engine": "embed", "model": str(home / "models" / "e5"), "layer": 8}}}
    run = tmp_path / "run"
    rundir.write_run(run, sentences(), manifest)
    export_run(run, "hf", tmp_path / "hf")
    card = (tmp_path / "hf" / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n")
    header, body = card[4:].split("\n---\n", 1)
    meta = yaml.safe_load(header)
    assert meta["pretty_name"].endswith(f"(pipeline {nasty})")
    assert str(home) not in card and "| align | embed | e5 |" in card
    table_row = next(line for line in body.splitlines() if line.startswith("| translate |"))
    cells = re.split(r"(?<!\\)\|", table_row)[1:-1]  # the model's | are escaped: still four cells
    assert [c.strip() for c in cells] == ["translate", "nllb", 'x: "y" --- \\| a \\| `b` #c', ""]


def test_selection_from_stored_statuses(tmp_path):
    run = make_run(tmp_path)

    def ids(**kw):
        return [ps.id for ps in load_run_data(run, Selection(**kw)).splits["train"]]

    # the run's own decisions: s2 (dropped, incomplete) and s4 (empty translation) are out
    assert ids() == ["s1", "s3", "s5", "s6", "s7", "s8"]
    assert ids(policy="keep-all") == ["s1", "s2", "s3", "s5", "s6", "s7", "s8"]
    # drop-sentence: s3 has a below-threshold entity, s5 a conflict
    assert ids(policy="drop-sentence") == ["s1", "s6", "s7", "s8"]
    # a min score without a policy re-applies the run's policy (drop-sentence when it has none)
    assert ids(min_score=0.9) == ["s1", "s7"]
    data = load_run_data(run, Selection(policy="keep-all", min_score=0.9))
    spans = {ps.id: data.spans(ps) for ps in data.splits["train"]}
    assert spans["s1"] == [Span(0, 2, "PER"), Span(3, 4, "LOC")]  # 0.97 and 0.91
    assert spans["s3"] == [Span(0, 1, "PER")] and spans["s6"] == [Span(5, 6, "LOC")] and spans["s8"] == []
    s6 = {r["source_text"]: r["status"] for r in data.entity_records(next(p for p in data.splits["train"] if p.id == "s6"))}
    assert s6 == {"World Cup": "below-threshold", "北京": "projected"}
    assert data.selection_info()["dropped"] == {"empty-translation": 1}


@pytest.mark.parametrize("scheme, first", [("iob2", ["B-PER", "I-PER"]), ("iob1", ["I-PER", "I-PER"]),
                                           ("iobes", ["B-PER", "E-PER"]), ("bioes", ["B-PER", "E-PER"])])
def test_conll_and_jsonl_in_a_scheme(tmp_path, scheme, first):
    run = make_run(tmp_path)
    export_run(run, "conll", tmp_path / "conll", scheme=scheme)
    export_run(run, "jsonl", tmp_path / "jsonl", scheme=scheme)
    lines = (tmp_path / "conll" / "train.conll").read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[1] for line in lines[:2]] == first
    expected = read_conll(run / rundir.PROJECTED_CONLL)  # the run's own IOB2 file
    for got in (read_conll(tmp_path / "conll" / "train.conll"), read_jsonl(tmp_path / "jsonl" / "train.jsonl")):
        assert [(s.tokens, s.spans) for s in got] == [(s.tokens, s.spans) for s in expected]
    rec = json.loads((tmp_path / "jsonl" / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert rec["id"] == "s1" and rec["tags"][:2] == first
    assert rec["entities"][0] == {"start": 0, "end": 2, "label": "PER", "score": 0.97, "status": "projected",
                                  "method": "align", "text": "Barack Obama", "source_start": 0, "source_end": 2,
                                  "source_label": "PER", "source_text": "Barack Obama"}


def test_export_folder_is_replaced_whole_and_foreign_folders_are_refused(tmp_path):
    run = make_run(tmp_path)
    out = tmp_path / "out"
    export_run(run, "conll", out, dev_fraction=0.5, seed=1)
    assert sorted(p.name for p in out.iterdir()) == ["dev.conll", "export.json", "train.conll"]
    info = json.loads((out / "export.json").read_text())
    assert info["selection"]["dev_fraction"] == 0.5 and info["counts"]["dev"]["sentences"] == 3
    export_run(run, "conll", out)
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "train.conll"]  # no stale dev split
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temporary folder left
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ProjectionError, match="not an export"):
        export_run(run, "hf", foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("kwargs, message", [
    ({"fmt": "xlsx"}, "unknown export format 'xlsx'; choose one of: conll, hf, jsonl, spacy"),
    ({"fmt": "spacy", "scheme": "iobes"}, "export format 'spacy' takes no option 'scheme'"),
    ({"fmt": "conll", "scheme": "bilou"}, "unknown tag scheme 'bilou'"),
    ({"fmt": "conll", "policy": "drop-all"}, "unknown filtering policy 'drop-all'"),
    ({"fmt": "conll", "min_score": 1.5}, "--min-score must be between 0 and 1"),
    ({"fmt": "conll", "dev_fraction": 1.0}, "--dev-fraction must be at least 0 and below 1"),
    ({"fmt": "conll", "dev_fraction": 0.01}, "leaves the dev split empty"),
])
def test_export_errors(tmp_path, kwargs, message):
    run = make_run(tmp_path)
    fmt = kwargs.pop("fmt")
    with pytest.raises(ProjectionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        export_run(run, fmt, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_nothing_left_to_export(tmp_path):
    run = make_run(tmp_path, items=[ps for ps in sentences() if ps.entities])  # no sentence without entities
    with pytest.raises(ProjectionError, match=r"no sentence is left to export \(policy drop-sentence, min score 1.0\)"):
        export_run(run, "conll", tmp_path / "out", min_score=1.0)


def test_export_of_a_broken_run_names_the_file(tmp_path):
    with pytest.raises(ProjectionError, match="not a finished projection run"):
        export_run(tmp_path, "conll", tmp_path / "out")
    run = make_run(tmp_path)
    path = run / rundir.PROJECTIONS
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = json.loads(lines[0])
    first["entities"][1]["target"] = {"start": 1, "end": 3, "label": "LOC"}  # overlaps the projected PER 0-2
    path.write_text(json.dumps(first) + "\n" + "".join(lines[1:]), encoding="utf-8")
    with pytest.raises(ProjectionError, match=r"projections.jsonl: does not match .*manifest.json"):
        export_run(run, "conll", tmp_path / "out")
    # a manifest from before file records (or a hand-made run): the content itself is checked
    manifest = json.loads((run / rundir.MANIFEST).read_text(encoding="utf-8"))
    del manifest["files"]
    (run / rundir.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ProjectionError, match=r"projections.jsonl: sentence s1: projected spans 0-2 and 1-3 overlap"):
        export_run(run, "conll", tmp_path / "out")


def test_export_cli(tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path)
    code, out, err = run_cli(monkeypatch, capsys, "export", run, "--format", "jsonl", "--out", tmp_path / "j",
                             "--scheme", "iobes", "--policy", "keep-all", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["files"] == ["train.jsonl", "export.json"] and res["counts"]["train"]["sentences"] == 7
    assert res["selection"]["policy"] == "keep-all" and res["selection"]["dropped"] == {"empty-translation": 1}
    code, out, err = run_cli(monkeypatch, capsys, "export", run, "--format", "conll", "--out", tmp_path / "c")
    assert code == 0 and "6 of 8 sentences" in out and "train.conll" in out
    code, out, err = run_cli(monkeypatch, capsys, "export", run, "--format", "spacy", "--out", tmp_path / "s",
                             "--scheme", "iob1")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_export_imports_no_other_stage():
    code = ("import sys, projection.export as pe, projection.export.hf, projection.export.card, "
            "projection.export.spacy_docbin, projection.export.text\n"
            "print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in "
            "('translate', 'align', 'project', 'train', 'inspect', 'pipeline') and m.startswith('projection.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    assert out.strip() == "[]"
