"""Intrinsic evaluation of projection: projected target spans against gold target spans.

Used on parallel text with gold entities on both sides (Europarl-NER): the gold English
entities are projected onto the gold target words and compared, span by span, with the
gold target entities (seqeval, strict IOB2 exact-span matching).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projection.records import ProjectedSentence, Sentence


def span_scores(gold: Sequence[Sentence], projected: Sequence[ProjectedSentence]) -> dict[str, Any]:
    """Exact-span precision/recall/F1 (percent) overall and per label, with seqeval."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    if len(gold) != len(projected):
        raise ValueError(f"{len(gold)} gold sentences but {len(projected)} projected")
    y_true = [list(g.tags) for g in gold]
    y_pred = [list(p.target_sentence().tags) for p in projected]
    for k, (t, p) in enumerate(zip(y_true, y_pred)):
        if len(t) != len(p):
            raise ValueError(f"sentence {k}: {len(t)} gold tags but {len(p)} projected tags")
    rep = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    micro = rep["micro avg"]
    per_label = {
        label: {"f1": 100 * v["f1-score"], "precision": 100 * v["precision"], "recall": 100 * v["recall"],
                "support": int(v["support"])}
        for label, v in rep.items() if label not in ("micro avg", "macro avg", "weighted avg")
    }
    return {"f1": 100 * micro["f1-score"], "precision": 100 * micro["precision"], "recall": 100 * micro["recall"],
            "support": int(micro["support"]), "per_label": per_label}
