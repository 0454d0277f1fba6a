"""An interrupted training resumes from its checkpoint and saves the model the uninterrupted training saves."""

from __future__ import annotations

import contextlib
import json

import pytest

from projection.corpora import load_corpus
from projection.errors import ProjectionError
from projection.train import TrainConfig, train_model
from projection.train.checkpoint import CHECKPOINT, ENV, interval


class Interrupted(Exception):
    pass


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _interrupt_at(monkeypatch, steps: int) -> None:
    """The progress bar of the trainer raises after ``steps`` training steps (a kill between two steps)."""
    import projection.train.transformer as tr

    done = [0]

    @contextlib.contextmanager
    def bar(total, description):
        def advance(n=1):
            if description.startswith("epoch "):  # a training step (not a batch of dev predictions)
                done[0] += n
                if done[0] == steps:
                    raise Interrupted(f"stopped after step {steps}")
        yield advance

    monkeypatch.setattr(tr, "bar", bar)


@pytest.mark.parametrize("stop", [5, 9])  # mid-epoch 1 (between dev evaluations), and in epoch 2 after its start
def test_an_interrupted_training_resumes_to_the_same_model(tiny_bert, tmp_path, monkeypatch, logged, stop):
    import torch

    sample = load_corpus("sample:train")
    cfg = TrainConfig(epochs=2, lr=2e-3, batch_size=8, seed=3, threads=1, max_train_sentences=48,
                      max_dev_sentences=16, eval_every=3)
    dev = sample[:16]
    monkeypatch.setenv(ENV, "0")  # a checkpoint after every step
    whole = train_model(sample, out=tmp_path / "whole", model=tiny_bert, dev=dev, config=cfg)
    assert not (whole / CHECKPOINT).exists()  # removed once the model is saved

    with monkeypatch.context() as m:
        _interrupt_at(m, stop)
        with pytest.raises(Interrupted):
            train_model(sample, out=tmp_path / "cut", model=tiny_bert, dev=dev, config=cfg)
    assert (tmp_path / "cut" / CHECKPOINT).exists() and not (tmp_path / "cut" / "model.safetensors").exists()
    cut = train_model(sample, out=tmp_path / "cut", model=tiny_bert, dev=dev, config=cfg)
    a, b = _weights(whole), _weights(cut)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ma, mb = (json.loads((d / "train.json").read_text()) for d in (whole, cut))
    drop = ("dev_seconds", "train_seconds")
    assert [{k: v for k, v in p.items() if k not in drop} for p in ma["curve"]] == \
           [{k: v for k, v in p.items() if k not in drop} for p in mb["curve"]]
    assert [h["loss"] for h in ma["history"]] == [h["loss"] for h in mb["history"]]
    assert ma["best_step"] == mb["best_step"] and "resumed" not in ma
    assert mb["resumed"] == [{"step": stop - 1, "of": ma["history"][-1]["step"]}]
    assert any(line.startswith(f"token: resumed at step {stop - 1}/") for line in logged())
    assert not (cut / CHECKPOINT).exists()


def test_a_checkpoint_of_other_data_is_not_resumed(tiny_bert, tmp_path, monkeypatch, logged):
    sample = load_corpus("sample:train")
    cfg = TrainConfig(epochs=1, lr=2e-3, batch_size=8, seed=3, threads=1, max_train_sentences=32)
    monkeypatch.setenv(ENV, "0")
    with monkeypatch.context() as m:
        _interrupt_at(m, 2)
        with pytest.raises(Interrupted):
            train_model(sample, out=tmp_path / "m", model=tiny_bert, config=cfg)
    other = train_model(sample[5:], out=tmp_path / "m", model=tiny_bert, config=cfg)  # other sentences, same folder
    assert "resumed" not in json.loads((other / "train.json").read_text())
    assert any("a checkpoint of another training" in line for line in logged())
    # checkpoints off: none written, none read
    monkeypatch.setenv(ENV, "off")
    assert interval() is None
    with monkeypatch.context() as m:
        _interrupt_at(m, 2)
        with pytest.raises(Interrupted):
            train_model(sample, out=tmp_path / "off", model=tiny_bert, config=cfg)
    assert not (tmp_path / "off" / CHECKPOINT).exists()
    monkeypatch.setenv(ENV, "soon")
    with pytest.raises(ProjectionError, match="PROJECTION_CHECKPOINT_MINUTES='soon': expected minutes"):
        interval()
