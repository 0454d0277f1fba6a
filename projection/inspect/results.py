"""Reading the folder that ``projection compare`` writes, to show it next to the data it came from.

The folder holds ``results.csv`` (one row per trained model: system, train, test, f1,
precision, recall, seed, command; the scores are fractions, see :mod:`projection.scores`),
``results.md`` (the same as a table) and one or more PNG charts. Only ``results.csv`` is
required; rows with several seeds are summarised as mean ± standard deviation, since one
seed says little about a difference of a point of F1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from projection.errors import InputError, ProjectionError
from projection.scores import pct_mean_sd

RESULT_COLUMNS = ("system", "train", "test", "f1", "precision", "recall", "seed", "command")
METRICS = ("f1", "precision", "recall")


@dataclass
class Results:
    path: Path
    rows: pd.DataFrame
    markdown: str | None = None
    charts: list[Path] = field(default_factory=list)


def read_results(folder: str | Path) -> Results:
    folder = Path(folder)
    if not folder.is_dir():
        raise ProjectionError(f"{folder}: no such results folder (written by `projection compare --out {folder}`)")
    csv = folder / "results.csv"
    if not csv.exists():
        raise ProjectionError(f"{folder}: no results.csv; is this a `projection compare` output folder?")
    try:
        rows = pd.read_csv(csv, dtype={"system": str, "train": str, "test": str, "command": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise InputError(csv, None, f"not a readable CSV file ({e})") from None
    missing = [c for c in RESULT_COLUMNS if c not in rows.columns]
    if missing:
        raise InputError(csv, 1, f"missing column(s) {', '.join(missing)}; expected {', '.join(RESULT_COLUMNS)}")
    for col in METRICS:
        values = pd.to_numeric(rows[col], errors="coerce")
        bad = values.isna() & rows[col].notna()
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2  # header is line 1
            raise InputError(csv, line, f"{col} is not a number: {rows[col][bad].iloc[0]!r}")
        outside = values.notna() & ((values < 0) | (values > 1))
        if outside.any():
            line = int(outside.to_numpy().nonzero()[0][0]) + 2
            raise InputError(csv, line, f"{col} = {float(values[outside].iloc[0]):g}: scores are fractions in [0, 1], "
                                        "not percentages")
        rows[col] = values
    md = folder / "results.md"
    markdown = md.read_text(encoding="utf-8", errors="replace") if md.exists() else None
    charts = sorted(folder.glob("*.png"))
    return Results(folder, rows, markdown, charts)


def selected_rows(results: Results) -> pd.DataFrame:
    """The rows that count: when ``projection compare`` tried several variants of a system (a column
    ``selected``, chosen on the dev set), only the selected one; averaging in the others would mix
    model selection into the score."""
    df = results.rows
    if "selected" not in df.columns:
        return df
    flag = df["selected"].map(lambda v: str(v).strip().lower() in ("true", "1", "yes"))
    return df[flag]


def aggregate(results: Results) -> pd.DataFrame:
    """One row per (system, train, test): mean and sample standard deviation of each metric over seeds."""
    df = selected_rows(results)
    if df.empty:
        return pd.DataFrame(columns=["system", "train", "test", "seeds", *[f"{m}_{s}" for m in METRICS for s in ("mean", "std")]])
    g = df.groupby(["system", "train", "test"], sort=False, dropna=False)
    out = g[list(METRICS)].agg(["mean", "std"])
    out.columns = [f"{m}_{s}" for m, s in out.columns]
    out.insert(0, "seeds", g.size())
    return out.reset_index()


def fmt_metric(mean: float, std: float | None) -> str:
    """A metric (a fraction) as a percentage, with ± std when there are several seeds."""
    return pct_mean_sd(mean, std)


def results_table(results: Results) -> Any:
    """A rich table of :func:`aggregate` for the terminal."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"comparison ({results.path})"), box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("system", "train", "test", "seeds", "F1", "precision", "recall"):
        table.add_column(col, justify="right" if col not in ("system", "train", "test") else "left")
    for row in aggregate(results).itertuples(index=False):
        r = row._asdict()
        table.add_row(escape(str(r["system"])), escape(str(r["train"])), escape(str(r["test"])), str(r["seeds"]),
                      *(fmt_metric(r[f"{m}_mean"], r[f"{m}_std"]) for m in METRICS))
    return table
