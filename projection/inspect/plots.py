"""The report's figures, drawn with matplotlib's object API (no pyplot global state, no display)
and returned as PNG bytes, so the HTML can embed them as ``data:`` URIs and stay one file."""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from projection.inspect.colors import STATUS_COLORS
from projection.inspect.stats import status_count

DPI = 100
STATUS_ORDER = ("projected", "below-threshold", "conflict", "unaligned")
MAX_LEN = 6  # entity lengths from here on share the last row/column ("6+")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():  # a CJK or other glyph DejaVu lacks is drawn as a box: not worth a warning
        warnings.filterwarnings("ignore", message=".*[Gg]lyph.*missing.*")
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _figure(w: float = 6.0, h: float = 3.4) -> tuple[Figure, Any]:
    fig = Figure(figsize=(w, h), layout="constrained")
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def rate_per_label(stats: dict[str, Any]) -> bytes:
    """Stacked shares of each status per label; the projected share is the projection rate."""
    counts = stats["counts"]["per_label"]
    per = {k: counts[k] for k in stats["labels"] if counts.get(k, {}).get("entities")}
    fig, ax = _figure(6.0, min(3.6, 1.2 + 0.5 * max(len(per), 1)))
    ax.set_title("Projection rate per label", loc="left", fontsize=11)
    if not per:
        _empty(ax, "no entities")
        return _png(fig)
    labels = list(per)[::-1]
    left = np.zeros(len(labels))
    for status in STATUS_ORDER:
        share = np.array([status_count(per[l], status) / per[l]["entities"] for l in labels])
        ax.barh(labels, share, left=left, color=STATUS_COLORS[status], label=status, height=0.6)
        left += share
    for y, l in enumerate(labels):
        ax.text(1.01, y, f"{per[l]['rate']:.1%}  (n={per[l]['entities']:,})", va="center", fontsize=9)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    ax.legend(ncols=4, fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.18 if len(labels) > 2 else -0.35),
              frameon=False)
    return _png(fig)


def length_source_target(entities: pd.DataFrame) -> bytes:
    """How many tokens each entity has in the source and in the target (entities with a target span)."""
    fig, ax = _figure(5.2, 3.6)
    ax.set_title("Entity length: source vs target (tokens)", loc="left", fontsize=11)
    sel = entities.dropna(subset=["tgt_start", "tgt_end"])
    if sel.empty:
        _empty(ax, "no entity has a target span")
        return _png(fig)
    src_raw = (sel["src_end"] - sel["src_start"]).to_numpy(dtype=int)
    tgt_raw = (sel["tgt_end"] - sel["tgt_start"]).to_numpy(dtype=int)
    top_len = int(min(MAX_LEN, max(3, src_raw.max(), tgt_raw.max())))  # no empty rows beyond what occurs
    src, tgt = np.clip(src_raw, 1, top_len), np.clip(tgt_raw, 1, top_len)
    grid = np.zeros((top_len, top_len), dtype=int)
    np.add.at(grid, (tgt - 1, src - 1), 1)
    shown = np.where(grid > 0, np.log1p(grid), np.nan)
    ax.imshow(shown, origin="lower", cmap="Blues", vmin=0, vmax=max(np.log1p(grid.max()), 1) * 1.15, aspect="auto")
    top = grid.max()
    for (j, i), n in np.ndenumerate(grid):
        if n:
            ax.text(i, j, f"{n:,}", ha="center", va="center", fontsize=8,
                    color="white" if np.log1p(n) > 0.6 * np.log1p(top) else "#222")
    ticks = [str(k) for k in range(1, top_len + 1)]
    if top_len == MAX_LEN:
        ticks[-1] += "+"
    ax.set_xticks(range(top_len), ticks)
    ax.set_yticks(range(top_len), ticks)
    ax.set_xlabel("source tokens")
    ax.set_ylabel("target tokens")
    ax.plot([-0.5, top_len - 0.5], [-0.5, top_len - 0.5], color="#999", lw=0.8, ls=":")
    return _png(fig)


def score_distribution(entities: pd.DataFrame, edges: list[float]) -> bytes:
    """Histogram of entity scores, stacked by status, over the same bins as the summary."""
    fig, ax = _figure(6.0, 3.6)
    ax.set_title("Score distribution", loc="left", fontsize=11)
    scores = entities["score"].to_numpy(dtype=float)
    if not np.isfinite(scores).any():
        _empty(ax, "no scores")
        return _png(fig)
    data, colors, names = [], [], []
    for status in STATUS_ORDER:
        s = scores[(entities["status"].astype(str) == status).to_numpy()]
        s = s[np.isfinite(s)]
        if s.size:
            data.append(s)
            colors.append(STATUS_COLORS[status])
            names.append(status)
    ax.hist(data, bins=edges, stacked=True, color=colors, label=names, edgecolor="white", linewidth=0.5)
    ax.set_xlabel("score")
    counts = np.histogram(np.concatenate(data), bins=edges)[0]
    if counts.max() > 50 * max(counts[counts > 0].min(), 1):  # one bin dwarfs the others: use a log scale
        ax.set_yscale("log")
        ax.set_ylabel("entities (log scale)")
    else:
        ax.set_ylabel("entities")
    ax.yaxis.set_major_formatter(lambda y, _: f"{y:,.0f}")
    ax.legend(fontsize=8, frameon=False)
    return _png(fig)


def _short(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def lowest_scoring(entities: pd.DataFrame, colors: dict[str, str], n: int = 12,
                   title: str = "Lowest-scoring projections in projected.conll") -> bytes:
    """The ``n`` lowest-scoring of ``entities`` that have a target span: where the projection was least sure."""
    sel = entities.dropna(subset=["tgt_start", "tgt_end"])
    sel = sel[np.isfinite(sel["score"].to_numpy(dtype=float))].sort_values("score", kind="stable").head(n)
    fig, ax = _figure(6.0, min(3.6, 1.0 + 0.22 * max(len(sel), 2)))
    ax.set_title(title, loc="left", fontsize=11)
    if sel.empty:
        _empty(ax, "no projected entity")
        return _png(fig)
    sel = sel.iloc[::-1]
    names = [f"{_short(str(s))} → {_short(str(t))}" for s, t in zip(sel["src_text"], sel["tgt_text"])]
    y = np.arange(len(sel))
    ax.barh(y, sel["score"], color=[colors.get(l, "#ddd") for l in sel["label"]], height=0.7,
            edgecolor=[STATUS_COLORS.get(s, "#999") for s in sel["status"].astype(str)], linewidth=1.2)
    ax.set_yticks(y, names, fontsize=8)
    for yi, (score, label) in enumerate(zip(sel["score"], sel["label"])):
        ax.text(float(score), yi, f" {score:.2f} {label}", va="center", fontsize=7.5, color="#333")
    hi = max(1.0, float(sel["score"].max()) * 1.25)
    ax.set_xlim(min(0.0, float(sel["score"].min())), hi)
    ax.set_xlabel("score")
    return _png(fig)


__all__ = ["rate_per_label", "length_source_target", "score_distribution", "lowest_scoring"]
