"""The executor contract (see :mod:`projection.executors`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from projection.pipeline import Job, JobOutput


@runtime_checkable
class Executor(Protocol):
    """Runs the translate, align and project stages of several jobs."""

    name: str

    def run(self, jobs: Sequence[Job], log: Callable[[str], None]) -> list[JobOutput]:
        """One output per job, in the order of ``jobs``; projected sentences in source order."""
        ...

    def signature(self) -> dict[str, Any]:
        """What ran the stages (name, versions, resources, options): goes into the manifest."""
        ...
