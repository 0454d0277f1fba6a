"""seqeval evaluation: exact-span micro precision/recall/F1 and per-label figures.

Scoring is seqeval's strict mode with the IOB2 scheme: an entity counts only when its
type and both boundaries match the gold entity exactly. Both sides are normalised to
well-formed IOB2 first with the conlleval reading of :func:`projection.tags.to_iob2`
(an ``I-X`` that does not continue an ``X`` starts a new entity), so a prediction that
starts with ``I-`` is read as conlleval reads it instead of being silently dropped.

Every evaluation writes ``predictions.conll`` (token, gold, predicted; a blank line
between sentences) and ``metrics.json`` (``f1``, ``precision``, ``recall``,
``per_label``, ``errors``: where the errors are, :func:`projection.scores.span_errors`; plus ``model``,
``data`` and ``seed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.records import Sentence
from projection.scores import seqeval_scores, span_errors
from projection.store import atomic_open, atomic_write_json
from projection.tags import to_iob2

PREDICTIONS = "predictions.conll"
METRICS = "metrics.json"


def score(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Micro precision/recall/F1 and per-label figures (fractions; seqeval, strict IOB2, exact spans)
    after normalising both sides to IOB2."""
    return seqeval_scores([to_iob2(g) for g in gold], [to_iob2(p) for p in pred]).to_dict()


def write_predictions(path: str | Path, gold: Sequence[Sentence], pred_tags: Sequence[Sequence[str]]) -> None:
    """``token<TAB>gold<TAB>predicted`` per line, a blank line between sentences."""
    with atomic_open(path) as f:
        for s, tags in zip(gold, pred_tags):
            for tok, g, p in zip(s.tokens, s.tags, tags):
                f.write(f"{tok}\t{g}\t{p}\n")
            f.write("\n")


def evaluate_predictions(
    gold: Sequence[Sentence],
    pred_tags: Sequence[Sequence[str]],
    out_dir: str | Path | None = None,
    *,
    model: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Score predictions against gold sentences; write both files to ``out_dir`` when given."""
    pred_tags = [to_iob2(p) for p in pred_tags]
    gold_tags = [to_iob2(s.tags) for s in gold]
    metrics = score(gold_tags, pred_tags)
    metrics["errors"] = span_errors(gold_tags, pred_tags)
    metrics.update(
        {
            "sentences": len(gold),
            "tokens": sum(len(s.tokens) for s in gold),
            "model": model or {},
            "data": data or {},
            "seed": seed,
            "scorer": "seqeval strict IOB2 (exact spans), micro average",
        }
    )
    if out_dir is not None:
        out = Path(out_dir)
        write_predictions(out / PREDICTIONS, gold, pred_tags)
        atomic_write_json(out / METRICS, metrics)
    return metrics

