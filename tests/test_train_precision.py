"""bf16 autocast for training and prediction: the option, its resolution per device, storage and old models."""

from __future__ import annotations

import json

import pytest
import torch

from projection.corpora import load_corpus
from projection.errors import ProjectionError
from projection.train import TrainConfig, load_model, train_model
from projection.train.precision import autocast, cpu_bf16_native, cpu_flags, resolve

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def sample():
    return load_corpus("sample:train")


def test_resolve_per_option_and_device():
    assert resolve("fp32", CPU) == "fp32"
    assert resolve("bf16", CPU) == "bf16"  # asked for: runs (emulated where the CPU has no bf16 instructions)
    assert resolve("auto", CPU) == ("bf16" if cpu_bf16_native() else "fp32")
    with pytest.raises(ProjectionError, match="precision must be one of"):
        resolve("fp16", CPU)
    with pytest.raises(ProjectionError, match="precision must be one of"):
        TrainConfig(precision="half").validate()


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\nbugs\t\t: none\n", encoding="utf-8")
    assert {"avx512_bf16", "sse2"} <= cpu_flags(info)
    assert cpu_flags(tmp_path / "missing") == set()


def test_autocast_runs_matmuls_in_bf16_and_fp32_stays_exact():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast(CPU, "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with autocast(CPU, "fp32"):
        assert (a @ b).dtype == torch.float32


@pytest.mark.parametrize("arch", ["token", "feature-aggregation"])
def test_bf16_training_learns_stores_its_precision_and_reloads(tiny_bert, sample, tmp_path, arch):
    cfg = TrainConfig(epochs=3, lr=3e-3, batch_size=8, seed=1, threads=1, max_train_sentences=64, fusion_layer=1,
                      precision="bf16")
    out = train_model(sample, out=tmp_path / "m", model=tiny_bert, arch=arch, dev=sample[:32], config=cfg)
    meta = json.loads((out / "train.json").read_text())
    assert meta["config"]["precision"] == "bf16" and meta["config"]["fused_optimizer"] is True
    assert meta["precision"] == "bf16" and meta["optimizer"] == "AdamW (fused)"
    hist = meta["history"]
    assert hist[-1]["loss"] < hist[0]["loss"]
    from safetensors.torch import load_file

    weights = load_file(str(out / "model.safetensors"))
    assert {t.dtype for t in weights.values() if t.is_floating_point()} == {torch.float32}  # master weights stay fp32
    tagger = load_model(out)
    assert tagger.config.precision == "bf16" and tagger.precision == "bf16"
    sents = [s.tokens for s in sample[:40]]
    fast = tagger.predict(sents)
    exact = load_model(out, precision="fp32")
    assert exact.precision == "fp32"
    tags = exact.predict(sents)
    assert [len(t) for t in fast] == [len(s) for s in sents]
    same = sum(a == b for x, y in zip(fast, tags) for a, b in zip(x, y)) / sum(len(x) for x in tags)
    assert same > 0.9
    with pytest.raises(ProjectionError, match="precision"):
        load_model(out, precision="int4")


def test_fp32_training_keeps_the_previous_recipe(tiny_bert, sample, tmp_path):
    cfg = TrainConfig(epochs=1, lr=3e-3, threads=1, max_train_sentences=16, precision="fp32", fused_optimizer=False)
    out = train_model(sample, out=tmp_path / "m", model=tiny_bert, config=cfg)
    meta = json.loads((out / "train.json").read_text())
    assert meta["precision"] == "fp32" and meta["optimizer"] == "AdamW"
    assert load_model(out).precision == "fp32"


def test_a_model_from_before_the_option_loads_as_fp32(tiny_bert, sample, tmp_path):
    out = train_model(sample, out=tmp_path / "m", model=tiny_bert,
                      config=TrainConfig(epochs=1, threads=1, max_train_sentences=16, precision="bf16"))
    meta = json.loads((out / "train.json").read_text())
    del meta["config"]["precision"], meta["config"]["fused_optimizer"], meta["precision"], meta["optimizer"]
    meta["config"]["bf16"] = True  # the old GPU-only flag
    (out / "train.json").write_text(json.dumps(meta))
    tagger = load_model(out)
    assert tagger.config.precision == "fp32" and not tagger.config.fused_optimizer and tagger.precision == "fp32"
    assert len(tagger.predict([["Peter", "lives", "in", "Paris"]])[0]) == 4
    assert TrainConfig.from_dict({"epochs": 1}).precision == "fp32"
    assert TrainConfig().precision == "auto" and TrainConfig.from_dict(TrainConfig().to_dict()).precision == "auto"


def test_cli_precision_options(tiny_bert, tmp_path):
    from typer.testing import CliRunner

    from projection.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["train", "--train", "sample:train", "--model", tiny_bert, "--out", str(tmp_path / "m"),
                              "--epochs", "1", "--max-train-sentences", "16", "--threads", "1", "--precision", "bf16",
                              "--no-fused-optimizer", "--strip-marks"])
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "m" / "train.json").read_text())["config"]
    assert cfg["precision"] == "bf16" and cfg["fused_optimizer"] is False and cfg["strip_marks"] is True
    res = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "m"), "--test", "sample:train", "--precision", "fp32",
                              "--out", str(tmp_path / "e"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["model"]["config"]["precision"] == "fp32"
    res = runner.invoke(app, ["train", "--train", "sample:train", "--model", tiny_bert, "--out", str(tmp_path / "x"),
                              "--precision", "fp8"])
    assert res.exit_code != 0 and "precision must be one of" in str(res.exception)
