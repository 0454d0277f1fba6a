"""Resumable training: the trainer's whole state, saved now and then, so an interrupted training goes on where it was.

A training killed after 50 minutes of an hour (a session's time limit, a closed laptop, ``kill``) loses nothing
but the steps since its last checkpoint: the next ``projection train`` (or ``projection compare``) with the same
output folder, data, encoder and config finds ``OUT/checkpoint.pt`` and continues from it, and the model it saves is
the one the uninterrupted training would have saved (the trainable weights, the AdamW state, the learning-rate
schedule, the batch order and the position in it, the random number generator that drives dropout, the dev curve
and the best step's weights are all restored).

A checkpoint is written atomically at the first step boundary after :func:`interval` seconds of training since the
last one (``PROJECTION_CHECKPOINT_MINUTES``, default 10; ``off`` never) and deleted once the model is saved. It
holds a fingerprint of what it trains (config, encoder, labels, every training and dev sentence with its tags or
soft labels, the teacher-initialised weights' origin); a checkpoint of anything else in the folder is ignored, with
a log line, and replaced.

A core piece of the train stage: the transformer trainer uses it; nothing else imports it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.errors import ProjectionError
from projection.progress import BATCH_LINE
from projection.records import Sentence
from projection.store import atomic_path, canonical_json
from projection.train.distill import SOFT_KEY

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
ENV = "PROJECTION_CHECKPOINT_MINUTES"
DEFAULT_MINUTES = 10.0


def interval() -> float | None:
    """Seconds of training between two checkpoints (``PROJECTION_CHECKPOINT_MINUTES``; 0: after every step), or None
    when checkpoints are off."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT_MINUTES * 60
    if text.lower() in ("off", "none", "never"):
        return None
    try:
        minutes = float(text)
    except ValueError:
        raise ProjectionError(f"{ENV}={text!r}: expected minutes (a number, 0 = every step) or 'off'") from None
    if minutes < 0 or minutes != minutes:
        raise ProjectionError(f"{ENV}={text!r}: expected minutes >= 0 or 'off'")
    return minutes * 60


def fingerprint(parts: dict[str, Any], sentences: Sequence[Sequence[Sentence]]) -> str:
    """A hash of ``parts`` (JSON-serialisable: config, encoder, labels, ...) and of every sentence's id, tokens and tags
    (and soft labels: their scores' bytes) in ``sentences`` (the training and dev sets, in order)."""
    h = hashlib.sha256(canonical_json(parts).encode("utf-8"))
    for group in sentences:
        h.update(b"\x01")
        for s in group:
            h.update(canonical_json([s.id, s.tokens, s.tags]).encode("utf-8"))
            soft = s.meta.get(SOFT_KEY)
            if soft is not None:
                h.update(canonical_json(list(soft.labels)).encode("utf-8"))
                h.update(soft.scores.tobytes())
    return h.hexdigest()[:24]


class Checkpoint:
    """The checkpoint file of one training in ``out``: :meth:`load` what an earlier run of the same training left,
    :meth:`due` / :meth:`save` during training, :meth:`clear` once the model is saved."""

    def __init__(self, out: str | Path, key: str, every: float | None = None) -> None:
        self.path = Path(out) / CHECKPOINT
        self.key = key
        self.every = interval() if every is None else every  # None: checkpoints off
        self.last = time.perf_counter()

    def load(self) -> dict[str, Any] | None:
        """The saved state of this training, or None (no checkpoint, checkpoints off, or one of another training:
        that one is left to be overwritten)."""
        if self.every is None or not self.path.exists():
            return None
        import torch

        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # a truncated or foreign file: start afresh rather than fail the training
            logger.warning(f"{self.path}: unreadable checkpoint ({type(e).__name__}: {e}); training from the start")
            return None
        if not isinstance(state, dict) or state.get("key") != self.key:
            logger.info(f"{self.path}: a checkpoint of another training (other data, encoder or config); training "
                        "from the start", extra=BATCH_LINE)
            return None
        state["rng"] = _tuples(state["rng"])  # random.Random.setstate wants getstate's tuples back
        return state

    def due(self) -> bool:
        """Whether the interval has passed since the last checkpoint (or this training's start)."""
        return self.every is not None and time.perf_counter() - self.last >= self.every

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` (tensors, numbers, strings, lists, tuples and dicts of them) atomically."""
        import torch

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            torch.save({**state, "key": self.key}, tmp)
        self.last = time.perf_counter()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _tuples(x: Any) -> Any:
    """Lists (as a checkpoint may give back a tuple) as tuples, all the way down."""
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x
