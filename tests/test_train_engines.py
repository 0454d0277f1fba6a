"""Train stage end to end on tiny random encoders and the bundled sample (no network)."""

from __future__ import annotations

import json

import pytest

from conftest import earlier_options
from projection.corpora import load_corpus
from projection.errors import ProjectionError
from projection.records import Sentence
from projection.tags import to_iob2
from projection.train import TrainConfig, evaluate, load_model, train_model, trainers


@pytest.fixture(scope="module")
def encoder(tiny_bert):
    return tiny_bert


@pytest.fixture(scope="module")
def sample():
    return load_corpus("sample:train")


def test_registry_lists_the_engines():
    assert trainers.names() == ["feature-aggregation", "spacy", "token"]


def test_token_trainer_learns_and_writes_predictions(encoder, sample, tmp_path):
    cfg = TrainConfig(epochs=4, lr=2e-3, batch_size=8, seed=1, threads=1, max_train_sentences=64, max_dev_sentences=32)
    out = train_model(sample, out=tmp_path / "m", model=encoder, arch="token", dev=sample[:32], test=["sample:train"],
                      config=cfg)
    meta = json.loads((out / "train.json").read_text())
    hist = meta["history"]
    assert len(hist) == 4
    assert hist[-1]["loss"] < hist[0]["loss"]  # loss decreases
    assert all("dev_f1" in h for h in hist)
    assert meta["best_epoch"] == max(hist, key=lambda h: h["dev_f1"])["epoch"]  # first best kept
    assert meta["labels"][0] == "O" and "B-PER" in meta["labels"]
    assert meta["config"]["seed"] == 1 and meta["train_sentences"] == 64
    ev = out / "eval" / "sample_train"
    metrics = json.loads((ev / "metrics.json").read_text())
    assert {"f1", "precision", "recall", "per_label", "model", "data", "seed"} <= set(metrics)
    assert metrics["data"]["name"] == "sample:train" and metrics["model"]["arch"] == "token"
    rows = [line.split("\t") for line in (ev / "predictions.conll").read_text().splitlines() if line]
    assert len(rows) == sum(len(s.tokens) for s in sample)
    assert all(len(r) == 3 for r in rows)
    assert [r[0] for r in rows[: len(sample[0].tokens)]] == sample[0].tokens
    # The reloaded model predicts exactly what the evaluation wrote.
    again = evaluate(out, "sample:train", tmp_path / "again")
    assert again["f1"] == metrics["f1"] and again["model"]["decode"] == "argmax"
    # BIO decoding: every predicted sequence is valid IOB2 as it comes out of the decoder
    tagger = load_model(out)
    tagger.decode = "bio"
    assert all(to_iob2(p) == p for p in tagger.predict([s.tokens for s in sample]))
    bio = evaluate(tagger, "sample:train", tmp_path / "bio", decode="bio")
    assert bio["model"]["decode"] == "bio"
    with pytest.raises(ProjectionError, match="decode must be one of argmax, bio, not 'crf'"):
        evaluate(tagger, "sample:train", tmp_path / "x", decode="crf")


def test_long_sentence_keeps_every_prediction(encoder, sample, tmp_path):
    cfg = TrainConfig(epochs=1, lr=1e-3, batch_size=8, max_length=16, threads=1, max_train_sentences=24)
    out = train_model(sample, out=tmp_path / "m", model=encoder, config=cfg)
    tagger = load_model(out)
    long = [w for s in sample[:10] for w in s.tokens][:90]
    assert len(long) > 40
    pred = tagger.predict([long, ["Peter"], long[:15]])
    assert [len(p) for p in pred] == [len(long), 1, 15]
    # Windows see different context, but every word is predicted with a tag from the label set.
    assert all(t in tagger.labels for p in pred for t in p)


def test_feature_aggregation_trains_and_reloads(encoder, sample, tmp_path):
    cfg = TrainConfig(epochs=2, lr=2e-3, batch_size=8, fusion_layer=2, reduction=4, threads=1, max_train_sentences=48,
                      freeze_embeddings=True)
    out = train_model(sample, out=tmp_path / "fa", model=encoder, arch="feature-aggregation", config=cfg)
    meta = json.loads((out / "train.json").read_text())
    assert meta["arch"] == "feature-aggregation" and meta["config"]["fusion_layer"] == 2
    assert meta["history"][-1]["loss"] < meta["history"][0]["loss"]
    assert meta["trainable_parameters"] < meta["parameters"]  # embeddings frozen
    tagger = load_model(out)
    assert tagger.model.fusion is not None and tagger.model.fusion.layer == 2
    words = [s.tokens for s in sample[:5]]
    assert [len(p) for p in tagger.predict(words)] == [len(w) for w in words]


def test_spacy_engine_on_the_sample_with_label_mapping(sample, tmp_path):
    cfg = TrainConfig(epochs=3, seed=0, ignore=["MISC"], lang="en")
    out = train_model("sample:train", out=tmp_path / "sp", arch="spacy", dev=sample[:50], test=["sample:train"], config=cfg)
    meta = json.loads((out / "train.json").read_text())
    assert "B-MISC" not in meta["labels"] and "B-PER" in meta["labels"]
    tagger = load_model(out)
    pred = tagger.predict([s.tokens for s in sample])
    assert [len(p) for p in pred] == [len(s.tokens) for s in sample]
    assert not any("MISC" in t for p in pred for t in p)
    metrics = json.loads((out / "eval" / "sample_train" / "metrics.json").read_text())
    assert "MISC" not in metrics["per_label"]  # gold mapped like the training data
    assert metrics["model"]["label_map"] == {"MISC": "O"}
    assert metrics["f1"] > 0.3  # a few iterations on its own training data


def test_errors_are_user_facing(encoder, tmp_path):
    no_entities = [Sentence("a", ["x", "y"], ["O", "O"])]
    with pytest.raises(ProjectionError, match="no entities"):
        train_model(no_entities, out=tmp_path / "x", model=encoder)
    with pytest.raises(ProjectionError, match="unknown trainer"):
        train_model("sample:train", out=tmp_path / "x", model=encoder, arch="crf")
    with pytest.raises(ProjectionError, match="not a trained model"):
        load_model(tmp_path)
    with pytest.raises(ProjectionError, match="cannot load encoder"):
        train_model("sample:train", out=tmp_path / "x", model=str(tmp_path / "missing"), config=TrainConfig(epochs=1))


def test_cli_train_and_evaluate(encoder, tmp_path):
    from typer.testing import CliRunner

    from projection.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["train", "--train", "sample:train", "--model", encoder, "--arch", "token", "--out",
                              str(tmp_path / "m"), "--epochs", "1", "--max-train-sentences", "16", "--threads", "1",
                              "--label-map", "MISC=O", "--test", "sample:train", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data["test"]["sample:train"]) == {"f1", "precision", "recall", "per_label"}
    res = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "m"), "--test", "sample:train", "--out",
                              str(tmp_path / "ev"), "--json"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "ev" / "predictions.conll").exists() and (tmp_path / "ev" / "metrics.json").exists()
    assert "MISC" not in json.loads(res.stdout)["sample:train"]["per_label"]
    errors = json.loads(res.stdout)["sample:train"]["errors"]  # where the errors are, per label and side
    assert set(errors) == {"gold", "predicted"} and "MISC" not in errors["gold"]
    res = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "m"), "--test", "sample:train", "--out",
                              str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    per = next(line for line in res.output.splitlines() if "│ PER" in line)  # P, R, F1, support and four error shares
    assert per.count("│") == 10, res.output


def test_compare_report_means_sds_and_paired_differences(tmp_path, monkeypatch, capsys):
    """results.csv (one row per language, system, seed), results.md (mean ± sd, paired differences, goals), results.png."""
    import csv

    from projection.store import atomic_write_json
    from projection.train.report import CSV_COLUMNS, write_report
    from projection.train.metrics import evaluate_predictions

    gold = [Sentence("a", ["Ana", "en", "Roma", "y", "Pablo"], ["B-PER", "O", "B-LOC", "O", "B-PER"])]
    preds = {("1", 1): ["B-PER", "O", "O", "O", "O"], ("1", 2): ["B-PER", "O", "B-LOC", "O", "O"],
             ("3", 1): ["B-PER", "O", "B-LOC", "O", "B-PER"], ("3", 2): ["B-PER", "O", "B-LOC", "O", "O"]}
    for lang in ("es", "hau"):
        for (sid, seed), pred in preds.items():
            d = tmp_path / "runs" / lang / f"{sid}-seed{seed}"
            evaluate_predictions(gold, [pred], d, model={"best_dev_f1": 0.8, "best_step": 10, "config": TrainConfig().to_dict()},
                                 data={}, seed=seed)
            atomic_write_json(d / "system.json", {
                "eval_key": "e", "model_key": f"m{sid}{seed}", "language": lang, "system": sid, "train": "t",
                "train_sentences": 5, "test": f"{lang}:test", "seed": seed, "command": f"projection compare --systems {sid}",
                "train_minutes": 1.0, "recipe": {"model": "enc", "epochs": 2, "lr": 3e-4, "batch_size": 16,
                                                 "freeze_layers": 8, "fusion_layer": 8, "eval_every": 200, "max_dev": 1000,
                                                 "strip_marks": lang == "hau"}})
    res = write_report(tmp_path / "runs", tmp_path / "docs", missing=[{"language": "es", "system": "4", "reason": "absent"}])
    with open(tmp_path / "docs" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[: len(CSV_COLUMNS)] == CSV_COLUMNS
    assert len(rows) == 8 and {"language", "f1_PER", "precision_MISC"} <= set(rows[0])
    assert [(r["language"], r["system"], r["seed"]) for r in rows[:2]] == [("es", "1 zero-shot", "1"), ("es", "1 zero-shot", "2")]
    assert rows[0]["f1"] == "0.5000" and rows[1]["f1"] == "0.8000"  # 1/3 found: P 1, R 1/3; 2/3 found
    md = (tmp_path / "docs" / "results.md").read_text()
    assert "65.0 ± 21.2" in md  # system 1: mean of 0.5 and 0.8, sample sd
    assert "+25.0 ± 35.4 (n=2)" in md  # 3 - 1 paired by seed: 1.0 - 0.5 and 0.8 - 0.8
    assert "es system 4: absent" in md and "## Goal checks" in md
    assert "stripped from the encoder's input, in training and evaluation, for every system of: hau (" in md
    assert "tags by each word's argmax (repaired to IOB2)." in md
    assert (tmp_path / "docs" / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert len(res["rows"]) == 8
    errors = (tmp_path / "docs" / "errors.md").read_text()  # where the errors are, pooled over the seeds
    assert "| 1 zero-shot | 2 | PER | 2.0 | 50.0 | 0.0 | 0.0 | 0.0 | 50.0 | 1.0 | 100.0 | 0.0 | 0.0 | 0.0 | 0.0 |" in errors
    assert "| 1 zero-shot | 2 | LOC | 1.0 | 50.0 | 0.0 | 0.0 | 0.0 | 50.0 | 0.5 | 100.0 | 0.0 | 0.0 | 0.0 | 0.0 |" in errors
    assert "[errors.md](errors.md)" in md
    # rows scored with another decoder are named, not mixed in silently
    meta = json.loads((tmp_path / "runs" / "es" / "3-seed1" / "system.json").read_text())
    atomic_write_json(tmp_path / "runs" / "es" / "3-seed1" / "system.json",
                      {**meta, "recipe": {**meta["recipe"], "decode": "bio"}})
    md = write_report(tmp_path / "runs", tmp_path / "docs2") and (tmp_path / "docs2" / "results.md").read_text()
    assert ("tags decoded differently by row: by each word's argmax (repaired to IOB2): es system 1, es system 3, "
            "hau system 1, hau system 3; by BIO-constrained Viterbi decoding: es system 3.") in md
    assert "different recipes" not in md and "budget-curve.png" not in md
    (tmp_path / "docs2" / "budget-curve.png").write_bytes(b"")  # the budget's curves beside the page: linked
    md = write_report(tmp_path / "runs", tmp_path / "docs2") and (tmp_path / "docs2" / "results.md").read_text()
    assert "learning curves of several budgets and learning rates, to choose the budget: [budget-curve.png](" in md
    # rows of another budget (a comparison half re-run) are named with the fields that differ
    atomic_write_json(tmp_path / "runs" / "es" / "3-seed1" / "system.json",
                      {**meta, "recipe": {**meta["recipe"], "epochs": 1, "precision": "bf16"}})
    md = write_report(tmp_path / "runs", tmp_path / "docs3") and (tmp_path / "docs3" / "results.md").read_text()
    assert ("**The rows were trained with different recipes**, so the table compares recipes as well as systems. "
            "epochs 2, precision fp32: es 1 (seeds 1, 2), es 3 (seeds 2), hau 1 (seeds 1, 2), hau 3 (seeds 1, 2); "
            "epochs 1, precision bf16: es 3 (seeds 1). The recipe line above is the one of most rows (epochs 2, "
            "precision fp32); a figure marked †") in md
    # the figures that involve the other recipe's row are marked, the others not
    assert "Recipe (most rows): encoder `enc`, all CoNLL-2003 train sentences, 2 epochs," in md
    table = md.split("## F1 by language")[1].split("## Paired")[0]
    assert "| 3 translate-train, our projection | 90.0 ± 14.1 † | 90.0 ± 14.1 | 90.0 † |" in table
    assert "| 1 zero-shot | 65.0 ± 21.2 | 65.0 ± 21.2 | 65.0 |" in table
    assert "| es | | +25.0 ± 35.4 (n=2) † |" in md.replace("|  |", "| |")
    assert "| hau | | +25.0 ± 35.4 (n=2) |" in md.replace("|  |", "| |")
    assert "- es: ours > zero-shot: 90.0 vs 65.0 (+25.0) -> yes †" in md
    assert "- hau: ours > zero-shot: 90.0 vs 65.0 (+25.0) -> yes\n" in md
    assert "es: translate-train on ours 90.0 F1 (goal 69) -> yes; MISC precision 0.0 % (goal 40) -> NO †" in md
    # so are rows whose best step was picked with another decoder; a recipe that picks by bio says so
    atomic_write_json(tmp_path / "runs" / "es" / "3-seed1" / "system.json",
                      {**meta, "recipe": {**meta["recipe"], "dev_decode": "bio"}})
    md = write_report(tmp_path / "runs", tmp_path / "docs4") and (tmp_path / "docs4" / "results.md").read_text()
    assert "dev_decode argmax: es 1 (seeds 1, 2)" in md and "dev_decode bio: es 3 (seeds 1)." in md
    for r in tmp_path.glob("runs/*/*/system.json"):
        m = json.loads(r.read_text())
        atomic_write_json(r, {**m, "recipe": {**m["recipe"], "dev_decode": "bio"}})
    md = write_report(tmp_path / "runs", tmp_path / "docs5") and (tmp_path / "docs5" / "results.md").read_text()
    assert "on 1000 English dev sentences (decoded bio), tags" in md and "different recipes" not in md
    # the command line writes the report of rows already there, training nothing
    from conftest import run_cli

    code, out, _ = run_cli(monkeypatch, capsys, "compare", "--out", tmp_path / "runs", "--report", tmp_path / "docs6",
                           "--report-only")
    assert code == 0 and "hau" in out and "65.0 ± 21.2" in out, out
    assert (tmp_path / "docs6" / "results.md").read_text() == md
    for bad, why in ((["--out", tmp_path / "none"], "no such result folder"),
                     (["--out", tmp_path / "docs6"], "no finished evaluation"),
                     (["--out", tmp_path / "runs", "--dry-run"], "goes with neither --dry-run nor --force")):
        code, _, err = run_cli(monkeypatch, capsys, "compare", *bad, "--report-only")
        assert code == 2 and why in err, err
    assert (tmp_path / "docs6" / "results.md").read_text() == md  # a folder without rows: nothing written over it

def test_compare_gives_earlier_rows_their_errors_from_kept_predictions(tmp_path, caplog):
    """Rows scored before metrics.json recorded the error breakdown get it from the predictions kept with their
    model, only when those reproduce the row's F1."""
    from projection.store import atomic_write_json
    from projection.train.compare import add_errors
    from projection.train.metrics import evaluate_predictions

    gold = [Sentence("a", ["Ana", "en", "Roma"], ["B-PER", "O", "B-LOC"])]
    for sid, pred, kept in (("1", ["B-PER", "O", "B-ORG"], ["B-PER", "O", "B-ORG"]),
                            ("3", ["B-PER", "O", "B-LOC"], ["B-PER", "O", "O"])):  # 3's were overwritten since
        row = tmp_path / "runs" / "es" / f"{sid}-seed1"
        metrics = evaluate_predictions(gold, [pred], None, seed=1)
        atomic_write_json(row / "metrics.json", {k: v for k, v in metrics.items() if k != "errors"})
        atomic_write_json(row / "system.json", {"model_key": f"k{sid}", "language": "es", "system": sid})
        evaluate_predictions(gold, [kept], tmp_path / "models" / f"k{sid}" / "eval" / "es", seed=1)
    with caplog.at_level("WARNING"):
        assert add_errors(tmp_path / "runs", tmp_path / "models") == 1
    assert "does not reproduce" in caplog.text and "3-seed1" in caplog.text
    errors = json.loads((tmp_path / "runs" / "es" / "1-seed1" / "metrics.json").read_text())["errors"]
    assert errors["gold"]["LOC"]["type"] == {"ORG": 1} and errors["predicted"]["ORG"]["type"] == {"LOC": 1}
    assert "errors" not in json.loads((tmp_path / "runs" / "es" / "3-seed1" / "metrics.json").read_text())
    assert add_errors(tmp_path / "runs", tmp_path / "models") == 0  # once given, kept


def test_a_damaged_row_of_a_comparison_names_its_file_and_line(tmp_path):
    from projection.errors import InputError
    from projection.train.report import write_report

    row = tmp_path / "runs" / "es" / "1-seed13"
    row.mkdir(parents=True)
    (row / "system.json").write_text('{"language": "es",\n "system": "1",\n "seed": 13,,\n}', encoding="utf-8")
    with pytest.raises(InputError, match=r"system.json:3: invalid JSON"):
        write_report(tmp_path / "runs", tmp_path / "docs")


def test_compare_end_to_end_keeps_test_text_out_of_the_result_folder(tiny_bert, tmp_path, monkeypatch, caplog, logged):
    """compare trains, scores and resumes; the result folder holds only system.json + metrics.json per system
    (committable: no predictions, which are test-set text), models and predictions go to --models, and a
    model's weights are dropped once all its evaluations are written."""
    from projection.corpora import load_corpus
    from projection.train import compare as cmp

    sample = load_corpus("sample:train")
    ours = tmp_path / "ours.conll"
    ours.write_text("x\n", encoding="utf-8")
    manifest = {"created": "then", "stages": {"align": {"key": "a1"}, "project": {"key": "p1"}},
                "engines": {"align": {"backend": "ct2"}}, "files": {"ours.conll": {"sha256": "f1"}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.setattr(cmp, "load_corpus", lambda name: sample)
    monkeypatch.setattr(cmp, "TARGETS", {"xx": cmp.Target("xx", "sample:train", str(ours), "pub", "P")})
    opts = earlier_options(model=tiny_bert, max_train=40, max_dev=20, epochs=1, batch_size=8, freeze_layers=2,
                              fusion_layer=2, eval_every=None, dev="sample:train")
    out, models = tmp_path / "res", tmp_path / "models"
    res = cmp.compare(["xx"], out, seeds=[1], systems=["1", "3"], options=opts, models=models,
                      report=tmp_path / "rep")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "xx/1-seed1/metrics.json", "xx/1-seed1/system.json", "xx/3-seed1/metrics.json", "xx/3-seed1/system.json"]
    # systems 1 and 3 train on identical sentences here: one model, trained once, shared by content key
    assert len(list(models.glob("*/eval/xx/predictions.conll"))) == 1
    from pathlib import Path

    from projection.corpora import data_dir

    for f in out.rglob("*.json"):  # committed results name no folder of this machine
        text = f.read_text(encoding="utf-8")
        assert str(Path.cwd().resolve()) + "/" not in text and str(data_dir().resolve()) + "/" not in text, f
    assert not list(models.glob("*/model.safetensors"))  # every evaluation written: weights dropped
    assert (tmp_path / "rep" / "results.csv").exists() and len(res["rows"]) == 2
    assert (tmp_path / "rep" / "learning-curve.png").read_bytes()[:4] == b"\x89PNG"  # dev F1 at every epoch
    caplog.clear()
    cmp.compare(["xx"], out, seeds=[1], systems=["1", "3"], options=opts, models=models)
    assert "2 done before, 0 to do" in logged()[0]
    # a dry run says what a run would redo, and why, and changes nothing
    before = sorted((p, p.stat().st_mtime_ns) for p in out.rglob("*"))
    states = lambda o, systems=("1", "3"): [(x["system"], x["state"]) for x in cmp.compare(  # noqa: E731
        ["xx"], out, seeds=[1], systems=list(systems), options=o, models=models, dry_run=True)["plan"]]
    assert states(opts) == [("1", "done"), ("3", "done")]
    assert states(opts, ("1", "4")) == [("1", "done"), ("4", "new")]
    assert states(cmp.CompareOptions(**{**opts.__dict__, "lr": 3e-4})) == [("1", "model changed"), ("3", "model changed")]
    bio = cmp.CompareOptions(**{**opts.__dict__, "decode": "bio"})  # another decoder: the same models, scored again
    assert states(bio) == [("1", "evaluation changed"), ("3", "evaluation changed")]
    # system 5's own epochs train system 5 only: the other systems' models stay, and its command names them
    five = cmp.CompareOptions(**{**opts.__dict__, "combined_epochs": 2})
    assert states(five, ("1", "3", "5")) == [("1", "done"), ("3", "done"), ("5", "new")]
    runs = {r.system: r for r in cmp.plan(["xx"], [1], ["1", "3", "5"], five)[0]}
    assert [runs[s].config.epochs for s in ("1", "3", "5")] == [1, 1, 2]
    key5 = lambda o: cmp.model_key(cmp.plan(["xx"], [1], ["5"], o)[0][0], o, "d", "e")  # noqa: E731
    same = cmp.CompareOptions(**{**opts.__dict__, "combined_epochs": 1})  # = --epochs: the model of no option
    assert key5(five) == cmp.model_key(runs["5"], five, "d", "e") != key5(opts) == key5(same)
    assert "--combined-epochs 2" in cmp.command(runs["5"], out, five)
    assert "--combined-epochs" not in cmp.command(runs["1"], out, five) + cmp.command(runs["5"], out, opts)
    # the result records the projection it trained on; a projection made since then names the stage that changed
    done3 = json.loads((out / "xx" / "3-seed1" / "system.json").read_text())
    assert done3["projection"]["stages"] == {"align": "a1", "project": "p1"} and done3["projection"]["sha256"] == "f1"
    assert done3["projection"]["dir"] == str(tmp_path) and set(done3["key_parts"]) >= {"train data", "recipe", "encoder"}
    plan = lambda o: {x["system"]: x.get("changed") for x in cmp.compare(  # noqa: E731
        ["xx"], out, seeds=[1], systems=["1", "3"], options=o, models=models, dry_run=True)["plan"]}
    assert plan(cmp.CompareOptions(**{**opts.__dict__, "lr": 3e-4})) == {"1": ["recipe"], "3": ["recipe"]}
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "stages": {**manifest["stages"],
                                                                              "align": {"key": "a2"}}}))
    relabelled = [Sentence(x.id, x.tokens, ["O"] * len(x.tokens)) for x in sample]
    monkeypatch.setattr(cmp, "load_corpus", lambda name: relabelled if name == str(ours) else sample)
    assert plan(opts) == {"1": None, "3": ["train data", "projection stage align"]}
    monkeypatch.setattr(cmp, "load_corpus", lambda name: sample)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    # a run whose data cannot train a model is reported as not run, with the reason; the others go on
    from projection.train import api

    def refuse(*a, **k):
        raise ProjectionError("the teacher tagged no entity")

    monkeypatch.setattr(api, "train_model", refuse)
    res = cmp.compare(["xx"], tmp_path / "res2", seeds=[1], systems=["1", "3"], options=opts, models=tmp_path / "m2",
                      report=tmp_path / "rep2")
    assert [(m["system"], m["seed"], m["reason"]) for m in res["missing"]] == [
        ("1", 1, "the teacher tagged no entity"), ("3", 1, "the teacher tagged no entity")]
    assert "- xx system 1 seed 1: the teacher tagged no entity" in (tmp_path / "rep2" / "results.md").read_text()
    monkeypatch.setattr(cmp, "TARGETS", {"xx": cmp.Target("xx", "sample:train", str(ours), "pub", "P", eval_ignore=("MISC",))})
    assert states(opts) == [("1", "evaluation changed"), ("3", "evaluation changed")]
    assert sorted((p, p.stat().st_mtime_ns) for p in out.rglob("*")) == before


def test_compare_says_the_time_left_at_the_pace_so_far():
    from projection.train.compare import _time_left

    assert _time_left([], [], 3, 5) == ""  # nothing done: no pace yet
    # trainings and evaluations at their own pace: 11 trainings of 10 min and 12 evaluations of 1 min
    assert _time_left([600.0], [60.0], 11, 12) == " (about 2 h 02 min left)"
    assert _time_left([500.0, 700.0], [30.0, 90.0], 0, 3) == " (about 3 min left)"  # only evaluations left
    assert _time_left([], [1.0], 0, 1) == " (about 1 min left)"
    assert _time_left([], [60.0], 2, 3) == " (more than 3 min left: 2 to train)"  # no training measured yet
    assert _time_left([3000.0], [600.0], 1, 3) == " (about 80 min left)"  # hours from 90 minutes on
    assert _time_left([5400.0], [1.0], 1, 1) == " (about 1 h 30 min left)"


def test_compare_copies_an_english_model_for_a_target_that_strips_marks(tiny_bert, tmp_path, monkeypatch, logged):
    """A target whose systems strip combining marks (Yoruba) trains its English-only systems on mark-free English
    text: the same weights as the plain target's model, so compare copies that model with a stripping tokenizer
    instead of training it again, keeps the plain weights until then, and trains it when there is no twin."""
    from projection.corpus import write_conll
    from projection.textnorm import has_marks
    from projection.train import api
    from projection.train import compare as cmp

    marked = load_corpus("sample:train")  # names such as Müller and José
    sample = [s for s in marked if not has_marks(s.tokens)]
    bare = tmp_path / "bare.conll"
    write_conll(sample[:30], bare)
    monkeypatch.setattr(cmp, "load_corpus", lambda name: sample)
    monkeypatch.setattr(cmp, "TARGETS", {"yy": cmp.Target("yy", str(bare), "-", "pub", "P", strip_marks=True),
                                         "xx": cmp.Target("xx", str(bare), "-", "pub", "P")})
    trained = []
    real = api.train_model
    monkeypatch.setattr(api, "train_model", lambda *a, **k: trained.append(k["out"].name) or real(*a, **k))
    opts = earlier_options(model=tiny_bert, max_train=24, max_dev=10, epochs=1, batch_size=8, freeze_layers=2,
                              fusion_layer=2, eval_every=None, dev=str(bare))
    out, models = tmp_path / "res", tmp_path / "models"
    planned = {x["language"]: x for x in cmp.compare(["yy", "xx"], out, seeds=[1], systems=["1"], options=opts,
                                                      models=models, dry_run=True)["plan"]}
    assert planned["yy"]["copy_of"] == planned["xx"]["model_key"] and "copy_of" not in planned["xx"]  # a dry run says so
    res = cmp.compare(["yy", "xx"], out, seeds=[1], systems=["1"], options=opts, models=models, report=tmp_path / "rep")
    keys = {r["language"]: json.loads((out / r["language"] / "1-seed1" / "system.json").read_text())["model_key"]
            for r in res["rows"]}
    assert keys["yy"] != keys["xx"] and trained == [keys["xx"]]  # the plain twin first, though yy was named first
    assert any(f"the model of {keys['xx']}, which reads the marks," in m for m in logged())
    assert any(m.startswith("compare 2/2 (about 1 min left): yy system 1 seed 1") for m in logged())
    meta = json.loads((models / keys["yy"] / "train.json").read_text())
    assert meta["config"]["strip_marks"] and meta["copied_from"]["model"] == keys["xx"]
    f1 = {r["language"]: r["f1"] for r in res["rows"]}
    assert f1["yy"] == f1["xx"]  # the test text has no marks either: the same tags
    assert not list(models.glob("*/model.safetensors"))  # both evaluations written: both weights dropped
    trained.clear()
    cmp.compare(["yy"], tmp_path / "res2", seeds=[1], systems=["1"], options=opts, models=tmp_path / "m2")
    assert trained == [keys["yy"]]  # no twin: trained
    assert "copied_from" not in json.loads((tmp_path / "m2" / keys["yy"] / "train.json").read_text())
    trained.clear()  # a dev text with marks: stripping changes what model selection reads, so both train
    marked_dev = cmp.CompareOptions(**{**opts.__dict__, "dev": "sample:train"})
    assert not any("copy_of" in x for x in cmp.compare(["yy", "xx"], tmp_path / "res3", seeds=[1], systems=["1"],
                                                        options=marked_dev, dry_run=True)["plan"])
    cmp.compare(["yy", "xx"], tmp_path / "res3", seeds=[1], systems=["1"], options=marked_dev, models=tmp_path / "m3")
    assert len(trained) == 2


_GOLD = [Sentence("a", ["Ana", "en", "Roma", "y", "Pablo"], ["B-PER", "O", "B-LOC", "O", "B-PER"])]
# F1 against _GOLD: system 1 0.5, system 5 0.8 (2/3 found: P 1, R 2/3), students 1.0
_FOUND = {"1": ["B-PER", "O", "O", "O", "O"], "5": ["B-PER", "O", "B-LOC", "O", "O"],
          "6": ["B-PER", "O", "B-LOC", "O", "B-PER"]}


def _write_student_rows(runs, teacher: dict, pred_of=lambda lang, sid: _FOUND[sid], extra=lambda lang, sid: {},
                        student_recipe: dict | None = None) -> None:
    """The rows of systems 1, 5 and 6 (seed 1) of each language of ``teacher`` (its students' teacher system)."""
    from projection.store import atomic_write_json
    from projection.train.metrics import evaluate_predictions

    for lang in teacher:
        for sid in _FOUND:
            d = runs / lang / f"{sid}-seed1"
            evaluate_predictions(_GOLD, [pred_of(lang, sid)], d, model={"best_dev_f1": 0.8, "best_step": 10,
                                                                         "config": TrainConfig().to_dict()}, data={}, seed=1)
            atomic_write_json(d / "system.json", {
                "eval_key": "e", "model_key": f"m{sid}", "language": lang, "system": sid, "train": "t",
                "train_sentences": 5, "test": f"{lang}:test", "seed": 1, "command": f"projection compare --systems {sid}",
                "train_minutes": 1.0, "teacher": teacher[lang] if sid == "6" else None, **extra(lang, sid),
                "recipe": {"model": "enc", "epochs": 1, **((student_recipe or {}) if sid == "6" else {})}})


def test_compare_report_checks_the_teacher_student_goals(tmp_path):
    """results.md says how the students learnt and checks their goals: above the teacher on enough languages, the
    mean paired gain, and the students' mean against the best other system on the same languages."""
    from projection.train.report import write_report

    student = {"select": "confidence", "select_fraction": 0.5, "select_balance": True, "student_init": True}
    _write_student_rows(
        tmp_path / "runs", {"es": "1", "hau": "1"}, student_recipe=student,
        # hau's student learnt nothing: no better than its teacher
        pred_of=lambda lang, sid: _FOUND["1" if (lang, sid) == ("hau", "6") else sid],
        # es's student learnt from teacher weights that scored 0.8, not its system 1 row's 0.5
        extra=lambda lang, sid: {"teacher_scores": {"f1": 0.8}} if (lang, sid) == ("es", "6") else {})
    write_report(tmp_path / "runs", tmp_path / "docs")
    md = (tmp_path / "docs" / "results.md").read_text()
    assert ("Students of system 1 learn from its labels of the target's unlabeled text: the top 50% by confidence "
            "within each stratum of the teacher's entities per sentence; hard labels, starting from the teacher's "
            "weights (es, hau).") in md
    # es: 1.0 - 0.8 (the recorded teacher weights); hau: 0.5 - 0.5 (its system 1 row) -> above on 1 of 2
    # (goal ceil(10/7) = 2), mean +10.0
    assert ("- teacher-student (teacher: system 1): student above its teacher on 1 of 2 languages (goal 2) -> NO; "
            "mean paired gain +10.0 F1 (goal +1.5) -> yes") in md
    assert "| es | +20.0 (n=1) |" in md and "| hau | +0.0 (n=1) |" in md
    # students' mean (1.0 + 0.5) / 2 = 75.0 against system 5's 80.0 (2/3 found: P 1, R 2/3)
    assert "- teacher-student: students' mean over es, hau 75.0 vs the best other system there (5 English + our projection) 80.0 -> NO" in md


def test_compare_report_groups_students_by_their_teacher(tmp_path):
    """With students of two teachers on one page (es learnt from system 5, hau from system 1), each column of the
    student - teacher table and each teacher's goal check holds only that teacher's students."""
    from projection.train.report import write_report

    _write_student_rows(tmp_path / "runs", {"es": "5", "hau": "1"}, student_recipe={"select": "confidence"})
    write_report(tmp_path / "runs", tmp_path / "docs")
    md = (tmp_path / "docs" / "results.md").read_text()
    # F1: system 1 0.5, system 5 0.8, students 1.0; es: 1.0 - 0.8 under system 5 only, hau: 1.0 - 0.5 under system 1
    assert "| language | 6 - 1 (teacher: system 1) | 6 - 5 (teacher: system 5) |" in md
    assert "| es |  | +20.0 (n=1) |" in md and "| hau | +50.0 (n=1) |  |" in md
    assert ("- teacher-student (teacher: system 1): student above its teacher on 1 of 1 languages (goal 1) -> yes; "
            "mean paired gain +50.0 F1") in md
    assert ("- teacher-student (teacher: system 5): student above its teacher on 1 of 1 languages (goal 1) -> yes; "
            "mean paired gain +20.0 F1") in md
    assert "Students of system 5 learn" in md and "(es)." in md and "Students of system 1 learn" in md and "(hau)." in md


def test_goal_checks_never_round_a_miss_onto_the_goal():
    """+0.99 F1 against a goal of +1 reads +0.99 and NO (not +1.0 and NO); the African goal is checked on system 3,
    with system 5 beside it for reference."""
    from projection.train.report import _goals, _signed

    f1 = {("nl", "1"): 0.714, ("nl", "2"): 0.716, ("nl", "3"): 0.7388, ("nl", "4"): 0.7289,
          ("swa", "1"): 0.80, ("swa", "3"): 0.86, ("swa", "5"): 0.92, ("hau", "1"): 0.50, ("hau", "3"): 0.64,
          ("hau", "5"): 0.61}
    summary = {k: {"f1": (v, 0.0, 3), "recipe_by_seed": {13: ("r",)}} for k, v in f1.items()}
    lines = _goals(summary, ["nl", "swa", "hau"], ("r",))
    assert "- nl: ours >= published + 1: 73.9 vs 72.9 (+0.99) -> NO" in lines
    assert "- nl: ours > zero-shot: 73.9 vs 71.4 (+2.5) -> yes" in lines
    assert "- African languages (2): translate-train on ours - zero-shot = +10.0 F1 on average (goal +10) -> yes" in lines
    assert ("- African languages (2): English + our projection (system 5) - zero-shot = +11.5 F1 on average (beside "
            "the goal's system 3)") in lines
    summary[("swa", "3")]["recipe_by_seed"] = {13: ("earlier",)}  # a row of another recipe marks what it enters
    lines = _goals(summary, ["nl", "swa", "hau"], ("r",))
    assert "- nl: ours >= published + 1: 73.9 vs 72.9 (+0.99) -> NO" in lines
    assert "- African languages (2): translate-train on ours - zero-shot = +10.0 F1 on average (goal +10) -> yes †" in lines
    assert "- swa: ours > zero-shot: 86.0 vs 80.0 (+6.0) -> yes †" in lines
    assert _signed(0.0995, 0.10) == "+9.95" and _signed(0.1004, 0.10) == "+10.0" and _signed(0.0004, 0.0, strict=True) == "+0.04"
    assert _signed(-0.0004, 0.0, strict=True) == "-0.0" and _signed(0.05, 0.01) == "+5.0"


def test_the_recipe_line_names_system_5s_own_epochs():
    from projection.train.report import _combined_epochs

    def row(lang, sid, **recipe):
        return {"language": lang, "_id": sid, "_recipe": {"epochs": 2, **recipe}}

    recipe = {"epochs": 2}
    assert _combined_epochs([row("es", "1"), row("es", "5")], recipe) == ""  # as every system: nothing to say
    assert _combined_epochs([row("es", "1"), row("es", "5", combined_epochs=2)], recipe) == ""
    same_steps = [row("es", "1"), row("es", "5", combined_epochs=1), row("de", "5", combined_epochs=1)]
    assert _combined_epochs(same_steps, recipe) == (" (system 5, English + our projection, about twice the sentences: 1 epoch, "
                                            "so about the same number of steps)")
    assert _combined_epochs([row("es", "1"), row("es", "5", combined_epochs=3)], recipe) == " (system 5: 3 epochs)"
    mixed = [row("es", "1"), row("es", "5", combined_epochs=1), row("de", "5")]
    assert _combined_epochs(mixed, recipe) == " (system 5: 1 epoch for es; 2 epochs for de)"


def test_a_changed_projection_names_the_other_cpu_it_was_written_on():
    """The same code and inputs project a few sentences differently on a CPU with other kernels: the
    reason a committed row's training data changed says so, beside the stages whose keys differ."""
    from projection.train.compare import changed_parts

    hw = {"machine": "x86_64", "cpu": "A", "isa": ["avx", "avx2", "avx512f"], "cores": 2, "env": {}}
    old = {"stages": {"align": "a1"}, "engines": {"align": "e1"}, "hardware": hw}
    done = {"key_parts": {"train data": "d1", "seed": 13}, "projection": old}
    parts = {"train data": "d2", "seed": 13}
    moved = {**hw, "cpu": "B", "isa": ["avx", "avx2", "amx_int8"], "env": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}}
    assert changed_parts(done, parts, {**old, "hardware": moved}) == [
        "train data", "projection written on another CPU (-avx512f, +amx_int8, MKL_ENABLE_INSTRUCTIONS= -> AVX2)"]
    assert changed_parts(done, parts, {**old, "hardware": {**hw, "cpu": "B", "cores": 8}}) == ["train data"]
    assert changed_parts(done, parts, {**old, "stages": {"align": "a2"}, "hardware": None}) == [
        "train data", "projection stage align"]  # a row from before the record: no claim about machines
    assert changed_parts(done, {**parts, "train data": "d1"}, {**old, "hardware": moved}) == []


def test_a_projection_file_is_described_by_its_fullest_record():
    """Rows reading one projection file may record it differently (an older row without the machine): the page
    describes the file by the record that names the machine, whichever row comes first."""
    from projection.train.report import _mixed_projections

    hw = {"machine": "x86_64", "cpu": "Example Xeon", "isa": ["avx2"]}
    rows = [{"language": "es", "_id": sid, "seed": seed, "_projection": proj} for sid, seed, proj in (
        ("3", 1, {"sha256": "aaaa", "created": "2026-12-04T18:45:04"}),
        ("3", 2, {"sha256": "aaaa", "created": "2026-12-04T18:45:04", "hardware": hw}),
        ("5", 1, {"sha256": "bbbb"}))]
    text = " ".join(_mixed_projections(rows))
    assert ("es: `aaaa` (written 2026-12-04 on x86_64 Example Xeon (avx2)): system 3 (seeds 1, 2); `bbbb` (written ? "
            "(machine not recorded)): system 5 (seeds 1).") in text


def test_compare_report_names_rows_trained_on_different_projection_files(tmp_path):
    """Systems 3 and 5 of a language read our projection; when their rows read different files (a re-projection,
    another machine's kernels), the page says which rows read which file, and where each was written."""
    from projection.store import atomic_write_json
    from projection.train.metrics import evaluate_predictions
    from projection.train.report import write_report

    gold = [Sentence("a", ["Ana", "en", "Roma"], ["B-PER", "O", "B-LOC"])]
    hw = {"machine": "x86_64", "cpu": "Example Xeon", "isa": ["avx2", "amx_int8"], "cores": 2, "env": {}}
    files = {("es", "3"): ("aaaa", "2026-12-04T18:45:04+00:00", None), ("es", "5"): ("bbbb", "2026-12-05T11:28:35+00:00", hw),
             ("nl", "3"): ("cccc", "2026-12-04T21:18:50+00:00", None), ("nl", "5"): ("cccc", "2026-12-04T21:18:50+00:00", None)}
    for (lang, sid), (sha, created, machine) in files.items():
        for seed in (1, 2):
            d = tmp_path / "runs" / lang / f"{sid}-seed{seed}"
            evaluate_predictions(gold, [["B-PER", "O", "B-LOC"]], d, model={"best_dev_f1": 0.8, "best_step": 10},
                                 data={}, seed=seed)
            atomic_write_json(d / "system.json", {
                "eval_key": "e", "model_key": f"m{sid}{seed}", "language": lang, "system": sid, "train": "t",
                "train_sentences": 5, "test": f"{lang}:test", "seed": seed, "command": "c", "recipe": {"epochs": 2},
                "projection": {"sha256": sha, "created": created, **({"hardware": machine} if machine else {})}})
    write_report(tmp_path / "runs", tmp_path / "docs")
    md = (tmp_path / "docs" / "results.md").read_text()
    assert ("**Rows of one language trained on different files of our projection**, so a difference between them "
            "compares the files as well as the systems") in md
    assert ("es: `aaaa` (written 2026-12-04 (machine not recorded)): system 3 (seeds 1, 2); `bbbb` (written "
            "2026-12-05 on x86_64 Example Xeon (avx2, amx_int8)): system 5 (seeds 1, 2).") in md
    assert "nl: `cccc`" not in md  # one file for both systems: nothing to say
    for r in tmp_path.glob("runs/es/5-*/system.json"):
        meta = json.loads(r.read_text())
        atomic_write_json(r, {**meta, "projection": {**meta["projection"], "sha256": "aaaa"}})
    write_report(tmp_path / "runs", tmp_path / "docs")
    assert "different files of our projection" not in (tmp_path / "docs" / "results.md").read_text()
