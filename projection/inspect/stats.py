"""The numbers of a run: sentences in/out, entities and projection rate per label, drop
reasons, statuses, score histogram, entity lengths. Plain dicts, so ``--json`` prints them
as they are and both views (terminal, HTML) show the same figures.

The sentence and entity counts and the projection rates are those of
:func:`projection.runstats.projection_stats`, the same figures the pipeline writes into the
manifest's ``counts`` (included as ``counts``); the rest (per-status and per-method
breakdowns, scores, lengths) is what only the inspectors show.
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


def summarize(run: Run) -> dict[str, Any]:
    ents = run.entities
    counts = projection_stats(run.sentences)
    n_in = counts["sentences_in"]
    kept = [ps for ps in run.sentences if is_kept(ps)]
    reasons = Counter({(reason or "unspecified"): n for reason, n in counts["dropped"].items()})
    kept_entities = Counter(
        e.source.label
        for ps in kept
        for e in ps.entities
        if e.status == EntityStatus.PROJECTED and e.target is not None
    )

    per_label: dict[str, dict[str, Any]] = {}
    status = ents["status"].astype(str) if len(ents) else pd.Series(dtype=str)
    for label in labels_of(run):
        sel = ents[ents["label"] == label]
        st = Counter(sel["status"].astype(str))
        n = len(sel)
        scores = sel["score"].to_numpy(dtype=float)
        core = counts["per_label"].get(label, {})
        per_label[label] = {
            "source": n,
            "projected": st.get("projected", 0),
            "rate": core.get("rate"),
            **{s: st.get(s, 0) for s in ENTITY_STATUSES if s != "projected"},
            "in_kept_sentences": kept_entities.get(label, 0),
            "mean_score": float(np.nanmean(scores)) if n and not np.isnan(scores).all() else None,
        }

    scores = ents["score"].to_numpy(dtype=float) if len(ents) else np.zeros(0)
    scores = scores[~np.isnan(scores)]
    edges = score_edges(scores)
    hist = np.histogram(scores, bins=edges)[0] if scores.size else np.zeros(len(edges) - 1, dtype=int)

    with_target = ents.dropna(subset=["tgt_start", "tgt_end"]) if len(ents) else ents
    src_len = (with_target["src_end"] - with_target["src_start"]).to_numpy(dtype=float)
    tgt_len = (with_target["tgt_end"] - with_target["tgt_start"]).to_numpy(dtype=float)
    n_total = len(ents)
    n_projected = int((status == "projected").sum())
    return {
        "run": str(run.path),
        "counts": counts,
        "sentences": {
            "in": n_in,
            "kept": counts["sentences_out"],
            "dropped": n_in - counts["sentences_out"],
            "drop_reasons": dict(reasons.most_common()),
            "empty_target": sum(not ps.target_tokens for ps in run.sentences),
            "complete": sum(ps.complete for ps in run.sentences),
        },
        "entities": {
            "source": n_total,
            "projected": n_projected,
            "rate": counts["rate"],
            "in_kept_sentences": counts["entities_in_output"],
            "by_status": {s: int((status == s).sum()) for s in ENTITY_STATUSES},
            "by_method": dict(Counter(ents["method"].astype(str)).most_common()) if n_total else {},
        },
        "per_label": per_label,
        "score_histogram": {"edges": [round(float(x), 6) for x in edges], "counts": [int(c) for c in hist]},
        "length": {
            "pairs": int(len(with_target)),
            "source_mean": float(src_len.mean()) if src_len.size else None,
            "target_mean": float(tgt_len.mean()) if tgt_len.size else None,
            "same_length": float((src_len == tgt_len).mean()) if src_len.size else None,
        },
        "warnings": list(run.warnings),
    }
