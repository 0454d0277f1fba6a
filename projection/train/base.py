"""What every trainer shares: the Protocols, the saved-model metadata and data preparation.

A trained model is a folder with ``train.json``::

    {"engine": "token", "labels": ["O", "B-LOC", ...], "config": {...TrainConfig...},
     "signature": {...}, "history": [...], "best_epoch": 2, "data": {...}}

plus the engine's own files. :func:`projection.train.load_model` reads ``engine`` and
hands the folder to that engine's ``load``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from projection.corpus import label_list
from projection.errors import InputError, ProjectionError, read_json_file
from projection.records import Sentence
from projection.store import atomic_write_json
from projection.train.config import TrainConfig, map_labels, subsample
from projection.train.distill import SOFT_KEY

TRAIN_JSON = "train.json"
#: the engines whose model is a transformer encoder and a head (word scores, a tokenizer of its own)
TRANSFORMER_ENGINES = ("token", "feature-aggregation")


@runtime_checkable
class Predictor(Protocol):
    """A loaded model: tags for word-tokenised sentences."""

    labels: list[str]
    config: TrainConfig
    info: dict[str, Any]

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """One IOB2 tag per word of every sentence."""
        ...


@runtime_checkable
class Trainer(Protocol):
    """A training engine, created with its options (e.g. ``model=`` for transformers)."""

    name: str

    def train(self, train: Sequence[Sentence], dev: Sequence[Sentence] | None, config: TrainConfig,
              out_dir: str | Path, data: dict[str, Any] | None = None) -> Path:
        """Train, keep the best epoch on ``dev`` (the last one without dev), save to ``out_dir``."""
        ...

    @classmethod
    def load(cls, model_dir: str | Path) -> Predictor:
        ...

    def signature(self) -> dict[str, Any]:
        ...


def prepare(train: Sequence[Sentence], dev: Sequence[Sentence] | None,
            config: TrainConfig) -> tuple[list[Sentence], list[Sentence] | None, list[str]]:
    """Subsample (seeded), apply the label mapping, and take the tag set from the training data."""
    config.validate()
    if not train:
        raise ProjectionError("no training sentences")
    mapping = config.mapping()
    train_s = map_labels(subsample(train, config.max_train_sentences, config.seed), mapping)
    dev_s = None
    if dev:
        dev_s = map_labels(subsample(dev, config.max_dev_sentences, config.seed), mapping)
    labels = label_list(train_s)
    if len(labels) == 1 and not any(SOFT_KEY in s.meta for s in train_s):  # soft targets carry the teacher's tags
        raise ProjectionError("the training data has no entities (after label mapping); nothing to learn")
    return train_s, dev_s, labels


def cpu_threads(config: TrainConfig) -> int:
    """Threads for torch on CPU: the option, else ``$OMP_NUM_THREADS``, else the cores this process
    may use (at most 8). Never the machine's momentary load: the thread count changes the floats of
    training (torch splits the sums of LayerNorm's weight and bias gradients by thread; with
    e5-small, 50 of its 197 gradient tensors differ between 1 and 2 threads on the same batch), so
    a count picked by load made the same seed train a different model on a busy machine. The same
    seed, data and thread count give the same model; ``train.json`` records the count.

    On a machine shared with other CPU-bound jobs, fewer threads can be much faster (on the 2-core
    development machine at load ~6 a training step of e5-small took 0.4-0.8 s with 1 thread and
    5.3-6.5 s with 2): set ``threads`` (``--threads``) or ``OMP_NUM_THREADS`` there.
    """
    if config.threads:
        return max(1, int(config.threads))
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return available_cores()


def available_cores(limit: int = 8) -> int:
    """The cores this process may run on (its CPU affinity), at most ``limit``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, limit))


def measure_threads(max_threads: int, seconds: float = 0.08) -> int:
    """The thread count (1..max_threads) with the highest throughput on a transformer-sized matrix
    product right now; more threads must be at least 15 % faster to be chosen. For work whose
    results do not depend on the count (the CTranslate2 encoder of prediction, benchmarks), never
    for training (:func:`cpu_threads`)."""
    import torch

    if max_threads <= 1:
        return 1
    before = torch.get_num_threads()
    a = torch.randn(256, 384)
    b = torch.randn(384, 1536)
    best, best_rate = 1, 0.0
    try:
        for n in sorted({1, *range(2, max_threads + 1)}):
            torch.set_num_threads(n)
            a @ b  # warm-up
            reps, t0 = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - t0) < seconds:
                a @ b
                reps += 1
            rate = reps / elapsed
            if rate > best_rate * (1.15 if best_rate else 1.0):
                best, best_rate = n, rate
    finally:
        torch.set_num_threads(before)
    return best


def write_train_json(out_dir: Path, meta: dict[str, Any]) -> None:
    atomic_write_json(out_dir / TRAIN_JSON, meta)


def read_train_json(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / TRAIN_JSON
    if not path.exists():
        raise ProjectionError(f"{model_dir}: not a trained model folder (no {TRAIN_JSON}); train one with `projection train`")
    meta = read_json_file(path)
    for key in ("engine", "labels", "config"):
        if key not in meta:
            raise InputError(path, None, f"missing key {key!r}")
    return meta


def sentence_tokens(sentences: Sequence[Sentence] | Sequence[Sequence[str]]) -> list[list[str]]:
    return [list(s.tokens) if isinstance(s, Sentence) else list(s) for s in sentences]
