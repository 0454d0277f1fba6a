"""The numbers of a run: sentences in/out, entities and projection rate per label, drop
reasons, statuses, score histogram, entity lengths. Plain dicts, so ``--json`` prints them
as they are and both views (terminal, HTML) show the same figures.

The sentence and entity counts, the statuses per label and the projection rates are
:func:`projection.runstats.projection_stats` of the run's records (``counts``: the key set the
pipeline writes into the manifest), and both views read them there; the rest (kept projections
and mean score per label, methods, scores, lengths) is what only the inspectors show. The counts
are always computed from ``projections.jsonl``, so a run folder of an older version, whose
manifest ``counts`` lack keys added since, reads the same.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from projection.inspect.run import Run, is_kept
from projection.inspect.select import ENTITY_STATUSES
from projection.records import EntityStatus
from projection.runstats import projection_stats

HIST_BINS = 10
#: the statuses of an unprojected entity that the per-label tables show (in this order)
SHOWN_STATUSES = ("unaligned", "conflict", "below-threshold")


def labels_of(run: Run) -> list[str]:
    """Labels in a stable order: the CoNLL four first, then the rest alphabetically."""
    found = set(run.entities["label"].astype(str)) if len(run.entities) else set()
    for ps in run.sentences:
        found.update(s.label for s in ps.source.spans)
    conll = [x for x in ("PER", "ORG", "LOC", "MISC") if x in found]
    return conll + sorted(found - set(conll))


def kept_projections(run: Run) -> pd.DataFrame:
    """The rows of ``entities.parquet`` that are in ``projected.conll``: projected, in a kept sentence.
    These are what a trainer learns from, so the "lowest-scoring" views look at them."""
    kept_ids = {ps.id for ps in run.sentences if is_kept(ps)}
    e = run.entities
    return e[(e["status"].astype(str) == "projected") & e["id"].astype(str).isin(kept_ids)]


def score_edges(scores: np.ndarray, bins: int = HIST_BINS) -> np.ndarray:
    """Bins of width 1/``bins`` over [0, 1] (the usual range of scores), with more bins of the
    same width when scores fall outside it, so every edge stays a round number."""
    lo, hi = 0, bins
    if scores.size:
        lo = min(lo, int(np.floor(float(scores.min()) * bins)))
        hi = max(hi, int(np.ceil(float(scores.max()) * bins)))
    return np.arange(lo, hi + 1) / bins


def status_count(row: dict[str, Any], status: str) -> int:
    """Entities of one status in a row of ``counts["per_label"]``. Entities of sentences without a
    translation (``untranslated``) have no target span: the views count them as unaligned, as
    ``entities.parquet`` does (the rates leave them out)."""
    n = int(row.get(status, 0))
    return n + int(row.get("untranslated", 0)) if status == "unaligned" else n


def status_totals(counts: dict[str, Any]) -> dict[str, int]:
    """Entities per status over every label (:func:`status_count`)."""
    return {s: sum(status_count(row, s) for row in counts["per_label"].values()) for s in ENTITY_STATUSES}


def drop_reasons(counts: dict[str, Any]) -> dict[str, int]:
    """The dropped sentences per reason, most frequent first (a missing reason is ``unspecified``)."""
    reasons = Counter({(reason or "unspecified"): n for reason, n in counts["dropped"].items()})
    return dict(reasons.most_common())


def summarize(run: Run) -> dict[str, Any]:
    """The run's numbers: ``counts`` (:func:`projection.runstats.projection_stats` of its records, the
    key set of the manifest's ``counts``), then what only the inspectors show: per label in display
    order (:func:`labels_of`) the projected entities with a target in kept sentences and the mean
    score, sentences with an empty target and with every entity projected, entities per method,
    the score histogram, entity lengths and the warnings of :func:`load_run`."""
    ents = run.entities
    counts = projection_stats(run.sentences)
    kept_entities = Counter(
        e.source.label
        for ps in run.sentences if is_kept(ps)
        for e in ps.entities
        if e.status == EntityStatus.PROJECTED and e.target is not None
    )
    labels: dict[str, dict[str, Any]] = {}
    for label in labels_of(run):
        scores = ents[ents["label"] == label]["score"].to_numpy(dtype=float)
        labels[label] = {
            "in_kept_sentences": kept_entities.get(label, 0),
            "mean_score": float(np.nanmean(scores)) if len(scores) and not np.isnan(scores).all() else None,
        }

    scores = ents["score"].to_numpy(dtype=float) if len(ents) else np.zeros(0)
    scores = scores[~np.isnan(scores)]
    edges = score_edges(scores)
    hist = np.histogram(scores, bins=edges)[0] if scores.size else np.zeros(len(edges) - 1, dtype=int)

    with_target = ents.dropna(subset=["tgt_start", "tgt_end"]) if len(ents) else ents
    src_len = (with_target["src_end"] - with_target["src_start"]).to_numpy(dtype=float)
    tgt_len = (with_target["tgt_end"] - with_target["tgt_start"]).to_numpy(dtype=float)
    return {
        "run": str(run.path),
        "counts": counts,
        "labels": labels,
        "empty_target": sum(not ps.target_tokens for ps in run.sentences),
        "complete": sum(ps.complete for ps in run.sentences),
        "methods": dict(Counter(ents["method"].astype(str)).most_common()) if len(ents) else {},
        "score_histogram": {"edges": [round(float(x), 6) for x in edges], "counts": [int(c) for c in hist]},
        "length": {
            "pairs": int(len(with_target)),
            "source_mean": float(src_len.mean()) if src_len.size else None,
            "target_mean": float(tgt_len.mean()) if tgt_len.size else None,
            "same_length": float((src_len == tgt_len).mean()) if src_len.size else None,
        },
        "warnings": list(run.warnings),
    }
