"""Progress bars for long work (rich), usable from the API and the CLI alike.

``track(items, total=..., description=...)`` wraps an iterable; ``bar(total, description)``
is a context manager yielding an ``advance(n)`` callable for batched work. Both print to
stderr, so ``--json`` output on stdout stays clean, and are silent when
``PROJECTION_PROGRESS=0`` (tests, batch jobs). Log records marked :data:`BATCH_LINE` stand
in for a bar where none is shown (stderr not a terminal).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


#: ``extra`` of a log record that stands in for a progress bar: a plain line for batch jobs, whose
#: stderr is not a terminal and shows no bar. The command line prints such records only there, with
#: the stage and the time (``[train 14:02:03] epoch 1/3 loss 0.4123``); elsewhere the bar shows.
BATCH_LINE = {"batch_line": True}


def is_batch_line(record: logging.LogRecord) -> bool:
    """Whether a log record was marked :data:`BATCH_LINE`."""
    return bool(getattr(record, "batch_line", False))


def enabled() -> bool:
    return os.environ.get("PROJECTION_PROGRESS", "1") != "0"


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    class RateColumn(TextColumn):
        def __init__(self) -> None:
            super().__init__("")

        def render(self, task):  # items per second
            from rich.text import Text

            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=False,
    )


@contextlib.contextmanager
def bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    if not enabled() or total == 0:
        yield lambda n=1: None
        return
    with _progress() as p:
        task = p.add_task(description, total=total)
        yield lambda n=1: p.advance(task, n)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    if total is None:
        total = len(items)  # type: ignore[arg-type]
    with bar(total, description) as advance:
        for item in items:
            yield item
            advance(1)
