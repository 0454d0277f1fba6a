"""The rich terminal view: a summary of the run, then source and target side by side.

Entities are painted with their label's colour on both sides and numbered (``ORG¹`` in the
source is ``ORG¹`` in the target), so the projection of each entity can be followed by
eye; the line under each pair gives its score, status and method. Target spans that were
found but not kept (conflict, below threshold) are underlined in their status colour
instead of painted, because they are *not* in ``projected.conll``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from projection.inspect.colors import STATUS_COLORS, label_colors
from projection.inspect.run import Run, drop_reason, is_kept
from projection.inspect.select import Filter, Page
from projection.inspect.stats import SHOWN_STATUSES, drop_reasons, labels_of, status_count, status_totals
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence

SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
HIST_WIDTH = 40


def sup(n: int) -> str:
    return str(n).translate(SUPERSCRIPT)


def fmt_score(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def fmt_rate(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _status_text(status: str) -> Text:
    return Text(status, style=STATUS_COLORS.get(status, ""))


def _flat(value: Any, prefix: str = "") -> list[str]:
    """``{"a": {"b": 1}, "c": 2}`` -> ``["a.b=1", "c=2"]``: nested manifest entries on one line."""
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flat(v, f"{prefix}{k}.")]
    if isinstance(value, list):
        value = ",".join(map(str, value[:8])) + (",…" if len(value) > 8 else "")
    return [f"{prefix[:-1]}={value}"]


def _manifest_rows(manifest: dict[str, Any], width: int) -> list[tuple[str, str]]:
    """Top-level manifest entries, nested ones squeezed onto one line (``a.b=1 · c=2``)."""
    rows = []
    for key, value in manifest.items():
        if isinstance(value, dict):
            text = " · ".join(_flat(value)) or "{}"
        elif isinstance(value, list):
            text = ", ".join(map(str, value[:8])) + (" …" if len(value) > 8 else "")
        else:
            text = str(value)
        if len(text) > width:
            text = text[: width - 1] + "…"
        rows.append((str(key), text))
    return rows


def summary_renderables(run: Run, stats: dict[str, Any], width: int = 100) -> list[Any]:
    colors = label_colors(labels_of(run))
    out: list[Any] = []
    src_lang, tgt_lang = run.languages

    man = Table.grid(padding=(0, 2))
    man.add_column(style="bold")
    man.add_column(overflow="fold")
    for key, text in _manifest_rows(run.manifest, max(30, width - 20)):
        man.add_row(escape(key), escape(text))
    out.append(Panel(man, title=f"[bold]{escape(run.name)}[/bold] ({src_lang} → {tgt_lang})", title_align="left",
                     subtitle=escape(str(run.path)), subtitle_align="right"))
    for w in run.warnings:
        out.append(Text(f"warning: {w}", style="yellow"))

    c = stats["counts"]
    sent = Table(title="sentences", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("in", "kept", "dropped", "empty target", "all entities projected"):
        sent.add_column(col, justify="right")
    sent.add_row(f"{c['sentences_in']:,}", f"{c['sentences_out']:,}", f"{c['sentences_in'] - c['sentences_out']:,}",
                 f"{stats['empty_target']:,}", f"{stats['complete']:,}")
    grids: list[Any] = [sent]
    reasons = drop_reasons(c)
    if reasons:
        drops = Table(title="drop reasons", box=box.SIMPLE_HEAD, title_justify="left")
        drops.add_column("reason")
        drops.add_column("sentences", justify="right")
        for reason, n in reasons.items():
            drops.add_row(escape(reason), f"{n:,}")
        grids.append(drops)
    out.append(Table.grid(padding=(0, 4)))
    out[-1].add_row(*grids)

    totals = status_totals(c)
    lab = Table(title="entities per label", box=box.SIMPLE_HEAD, title_justify="left", show_footer=True)
    lab.add_column("label", footer="all")
    lab.add_column("source", justify="right", footer=f"{c['entities']:,}")
    lab.add_column("projected", justify="right", footer=f"{c['projected']:,}")
    lab.add_column("rate", justify="right", footer=fmt_rate(c["rate"]))
    for st in SHOWN_STATUSES:
        lab.add_column(Text(st, style=STATUS_COLORS[st]), justify="right", footer=f"{totals[st]:,}")
    lab.add_column("in kept sent.", justify="right", footer=f"{c['entities_in_output']:,}")
    lab.add_column("mean score", justify="right")
    for label, more in stats["labels"].items():
        row = c["per_label"].get(label, {})
        lab.add_row(
            Text(f" {label} ", style=f"bold black on {colors[label]}"),
            f"{row.get('entities', 0):,}",
            f"{row.get('projected', 0):,}",
            fmt_rate(row.get("rate")),
            *(f"{status_count(row, st):,}" for st in SHOWN_STATUSES),
            f"{more['in_kept_sentences']:,}",
            fmt_score(more["mean_score"]),
        )
    out.append(lab)

    hist = stats["score_histogram"]
    counts, edges = hist["counts"], hist["edges"]
    if sum(counts):
        h = Table(title="entity scores", box=box.SIMPLE_HEAD, title_justify="left")
        h.add_column("score")
        h.add_column("", min_width=HIST_WIDTH)
        h.add_column("entities", justify="right")
        top = max(counts)
        for i, c in enumerate(counts):
            closing = "]" if i == len(counts) - 1 else ")"
            eighths = round(c / top * HIST_WIDTH * 8) if top else 0
            eighths = max(eighths, 1) if c else 0  # a non-empty bin is never invisible
            bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
            h.add_row(f"[{edges[i]:.1f}, {edges[i + 1]:.1f}{closing}", Text(bar, style="cyan"), f"{c:,}")
        out.append(h)
    ln = stats["length"]
    if ln["pairs"]:
        out.append(Text(
            f"entity length (tokens), {ln['pairs']:,} entities with a target span: source {ln['source_mean']:.2f}, "
            f"target {ln['target_mean']:.2f} on average; same length {ln['same_length']:.1%}",
            style="dim",
        ))
    return out


def _owners(n: int, entities: Sequence[ProjectedEntity], side: str) -> list[int | None]:
    """For each token, the index of the entity painted on it (kept projections win overlaps)."""
    owner: list[int | None] = [None] * n
    order = sorted(range(len(entities)), key=lambda k: entities[k].status != EntityStatus.PROJECTED)
    for k in order:
        span = entities[k].source if side == "source" else entities[k].target
        if span is None:
            continue
        for i in range(span.start, min(span.end, n)):
            if owner[i] is None:
                owner[i] = k
    return owner


def entity_text(tokens: Sequence[str], entities: Sequence[ProjectedEntity], side: str, colors: dict[str, str]) -> Text:
    """The sentence with each entity painted and tagged ``LABEL<number>``."""
    owner = _owners(len(tokens), entities, side)
    last = {k: i for i, k in enumerate(owner) if k is not None}
    text = Text()
    for i, tok in enumerate(tokens):
        k = owner[i]
        style = ""
        if k is not None:
            e = entities[k]
            color = colors.get(e.source.label, "#dddddd")
            kept = side == "source" or e.status == EntityStatus.PROJECTED
            style = f"black on {color}" if kept else f"underline {STATUS_COLORS.get(str(e.status), '')}"
        if i:
            joined = k is not None and owner[i - 1] == k
            text.append(" ", style=style if joined else "")
        text.append(tok, style=style)
        if k is not None and last[k] == i:
            text.append(f" {entities[k].source.label}{sup(k + 1)}", style=f"bold {style}".strip())
    return text


def sentence_renderable(ps: ProjectedSentence, colors: dict[str, str], langs: tuple[str, str]) -> Any:
    kept = is_kept(ps)
    head = Text.assemble(
        (f"{ps.id}", "bold"),
        "  ",
        ("kept", "green") if kept else (f"dropped: {drop_reason(ps)}", "red"),
        f"  {len(ps.entities)} entit{'y' if len(ps.entities) == 1 else 'ies'}",
    )
    pair = Table(box=box.SIMPLE, expand=True, show_edge=False, header_style="bold dim", padding=(0, 1))
    pair.add_column(langs[0], ratio=1)
    pair.add_column(langs[1], ratio=1)
    src = entity_text(ps.source.tokens, ps.entities, "source", colors)
    tgt = entity_text(ps.target_tokens, ps.entities, "target", colors) if ps.target_tokens else Text(
        "(empty translation)", style="dim italic")
    pair.add_row(src, tgt)
    parts: list[Any] = [pair]
    if ps.entities:
        detail = Table.grid(padding=(0, 1))
        for _ in range(6):
            detail.add_column()
        for k, e in enumerate(ps.entities, start=1):
            label = e.source.label
            s_txt = " ".join(ps.source.tokens[e.source.start : e.source.end])
            t_txt = " ".join(ps.target_tokens[e.target.start : e.target.end]) if e.target else "—"
            detail.add_row(
                Text(f"{label}{sup(k)}", style=f"bold black on {colors.get(label, '#dddddd')}"),
                Text(s_txt),
                Text("→", style="dim"),
                Text(t_txt, style="" if e.target else "dim"),
                Text.assemble(fmt_score(e.score), " ", _status_text(str(e.status))),
                Text(e.method, style="dim"),
            )
        parts.append(detail)
    return Panel(Group(*parts), title=head, title_align="left", box=box.ROUNDED, border_style="grey50")


class TerminalView:
    """Prints a run to a rich console (the ``projection inspect`` default)."""

    name = "terminal"

    def __init__(self, console: Console | None = None, *, summary: bool = True, sentences: bool = True) -> None:
        self.console = console or Console()
        self.summary = summary
        self.sentences = sentences

    def signature(self) -> dict[str, Any]:
        return {"view": self.name, "summary": self.summary, "sentences": self.sentences}

    def render(self, run: Run, stats: dict[str, Any], page: Page, filt: Filter, results: Any = None) -> None:
        c = self.console
        if self.summary:
            for r in summary_renderables(run, stats, width=c.width):
                c.print(r)
            if results is not None:
                from projection.inspect.results import results_table

                c.print(results_table(results))
        if not self.sentences:
            return
        colors = label_colors(labels_of(run))
        c.rule(f"sentences: {escape(filt.describe())} ({page.total:,} of {len(run.sentences):,})")
        if not page.items:
            c.print(Text("no sentence matches", style="yellow"))
            return
        for ps in page.items:
            c.print(sentence_renderable(ps, colors, run.languages))
        end = page.start + len(page.items)
        more = f"; next: --page {page.number + 1}" if page.number < page.pages else ""
        c.print(Text(f"sentences {page.start + 1:,}–{end:,} of {page.total:,} (page {page.number}/{page.pages}{more})",
                     style="dim"))
