"""The executor contract (see :mod:`projection.executors`): what an executor gets (:class:`Job`),
what it returns (:class:`JobOutput`), and the stage-store steps every executor shares.

An executor runs the stage objects of :mod:`projection.stages` and stores each stage's output
under :meth:`~projection.stages.Stage.chunk_name` in the run's one stage store, so that any
executor finds what another one stored (:func:`load_output`, :func:`save_output`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from projection.pipeline_config import PipelineConfig
from projection.records import ProjectedSentence, Sentence
from projection.stages import Batch, Stage
from projection.store import StageFileError, StageStore

# Fault injection, for testing resumption: ``STAGE:FLAG_FILE`` makes the first process that is
# about to run STAGE (translate, align, project; ``driver`` for the ray driver after its first
# stored shard) and finds no FLAG_FILE create it and SIGKILL itself.
KILL_ONCE_ENV = "PROJECTION_KILL_ONCE"


@dataclass
class Job:
    """One target language of a run, resolved and loaded: everything an executor needs.

    Plain data (no engines, no callables), so that an executor can ship it to other
    processes or machines; engines are built where the work runs.
    """

    lang: str
    config: PipelineConfig
    requested: str
    overrides: list[str]
    source_ref: str
    src_path: Path
    src_key: str
    sentences: list[Sentence]
    out: Path
    notes: list[str]
    auto_reason: str | None
    fallback: bool
    prepare_seconds: float = 0.0

    @property
    def markers(self) -> bool:
        return self.config.project["method"] == "markers"


@dataclass
class JobOutput:
    """What an executor returns for one job: the projected sentences in source order (before the
    filtering policy), one info dict per stage (with ``signature``; ``tokenizer`` for translate),
    the wall seconds of the stage work, and extra timings for the manifest."""

    projected: list[ProjectedSentence]
    stages: dict[str, dict[str, Any]]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Executor(Protocol):
    """Runs the translate, align and project stages of several jobs."""

    name: str

    def run(self, jobs: Sequence[Job]) -> list[JobOutput]:
        """One output per job, in the order of ``jobs``; projected sentences in source order."""
        ...

    def signature(self) -> dict[str, Any]:
        """What ran the stages (name, versions, resources, options): goes into the manifest."""
        ...


def load_output(stage: Stage, key: str, store: StageStore, batch: Batch) -> bool:
    """Fill ``batch`` with ``stage``'s stored output for its chunk; False when absent or damaged
    (a damaged file is named in the log and deleted)."""
    name = stage.chunk_name(key, batch.start, batch.stop)
    stored = store.read(name, expected=len(batch))
    if stored is None:
        return False
    try:
        stage.decode(stored, batch)
    except StageFileError as e:
        store.discard(name, e)
        return False
    return True


def save_output(stage: Stage, key: str, store: StageStore, batch: Batch) -> None:
    """Store ``stage``'s output on ``batch`` (one chunk)."""
    store.write(stage.chunk_name(key, batch.start, batch.stop), stage.encode(batch), rows=len(batch))


def kill_once_spec() -> tuple[str, str] | None:
    """``(stage, flag file)`` from ``$PROJECTION_KILL_ONCE``, or None."""
    kill = os.environ.get(KILL_ONCE_ENV, "")
    return (kill.split(":", 1)[0], kill.split(":", 1)[1]) if ":" in kill else None


def kill_once(flag: str, who: str) -> None:
    """SIGKILL this process unless ``flag`` exists; create ``flag`` first (fault injection)."""
    try:
        fd = os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, f"{who} {os.getpid()} killed itself\n".encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
