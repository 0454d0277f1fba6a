"""``local``: today's in-process run, one language after the other.

Each stage runs over the whole corpus of a language in this process and is cached in
the run directory (``RUN_DIR/stages``), so a rerun or a resumed run redoes nothing that
is done (see :func:`projection.pipeline.run_stages`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from projection.pipeline import Job, JobOutput


class LocalExecutor:
    """The stages in this process (no options)."""

    name = "local"

    def run(self, jobs: Sequence[Job], log: Callable[[str], None] = lambda m: None) -> list[JobOutput]:
        from projection.pipeline import run_stages

        return [run_stages(job, log) for job in jobs]

    def signature(self) -> dict[str, Any]:
        return {"name": self.name}
