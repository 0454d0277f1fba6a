"""Looking at a projection run: a rich terminal view and a self-contained HTML report.

The stage reads a run directory (see :mod:`projection.rundir`) and imports no other stage,
so it works on any run, whatever translated, aligned and projected it. From a notebook::

    from projection import inspect as pi
    run = pi.load_run("runs/es-given")
    pi.summarize(run)["per_label"]                      # plain dict
    pi.show("runs/es-given", labels="ORG", statuses="unaligned", sample=5)
    pi.write_html("runs/es-given", "report.html", results="results/es")

Views are engines in :data:`registry` (``terminal``, ``html``), created with their options
and called with the loaded run, its statistics, the selected sentences and the filter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from projection.registry import Registry

if TYPE_CHECKING:
    from rich.console import Console

    from projection.inspect.results import Results
    from projection.inspect.run import Run
    from projection.inspect.select import Filter, Page


class View(Protocol):
    """A way of showing a run; ``render``'s extra arguments are view-specific (page or selection)."""

    name: str

    def signature(self) -> dict[str, Any]: ...

    def render(self, run: "Run", stats: dict[str, Any], *args: Any, **kwargs: Any) -> Any: ...


registry: Registry[Any] = Registry("inspect view")
registry.add("terminal", "projection.inspect.terminal:TerminalView")
registry.add("html", "projection.inspect.html:HtmlReport")


def load_run(run_dir: str | Path) -> "Run":
    from projection.inspect.run import load_run as _load

    return _load(run_dir)


def summarize(run: "Run") -> dict[str, Any]:
    from projection.inspect.stats import summarize as _summarize

    return _summarize(run)


def read_results(folder: str | Path) -> "Results":
    from projection.inspect.results import read_results as _read

    return _read(folder)


def make_filter(**options: Any) -> "Filter":
    """``labels``, ``statuses``, ``min_score``, ``max_score``, ``grep``, ``sample``, ``seed`` (see :class:`Filter`)."""
    from projection.inspect.select import Filter

    return Filter.make(**options)


def show(
    run_dir: str | Path,
    console: "Console | None" = None,
    *,
    page: int = 1,
    per_page: int = 10,
    summary: bool = True,
    sentences: bool = True,
    results: str | Path | None = None,
    **filters: Any,
) -> "Page":
    """Print the summary and one page of the selected sentences; return that page."""
    from projection.inspect.select import paginate

    run = load_run(run_dir)
    filt = make_filter(**filters)
    res = read_results(results) if results is not None else None
    selection = filt.apply(run.sentences)
    pg = paginate(selection, page, per_page)
    registry.create("terminal", console=console, summary=summary, sentences=sentences).render(
        run, summarize(run), pg, filt, res)
    return pg


def write_html(
    run_dir: str | Path,
    out: str | Path,
    *,
    results: str | Path | None = None,
    max_sentences: int = 1000,
    **filters: Any,
) -> Path:
    """Write the self-contained HTML report of ``run_dir`` to ``out``; filters choose the listed sentences."""
    run = load_run(run_dir)
    filt = make_filter(**filters)
    res = read_results(results) if results is not None else None
    report = registry.create("html", path=out, max_sentences=max_sentences, seed=filt.seed)
    return report.render(run, summarize(run), filt.apply(run.sentences), filt, res)


__all__ = ["View", "registry", "load_run", "summarize", "read_results", "make_filter", "show", "write_html"]
