"""NER scores, one type for every stage: exact-span precision, recall and F1, always fractions in [0, 1].

Training (``metrics.json``, ``results.csv``), the intrinsic projection evaluation and the report
all hold fractions; only the formatters here turn them into percentages, for people. Scoring is
seqeval's strict mode with the IOB2 scheme: an entity counts only when its type and both
boundaries match the gold entity exactly; callers pass well-formed IOB2 tags.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from projection.errors import ProjectionError

METRICS = ("f1", "precision", "recall")


@dataclass(frozen=True)
class Scores:
    """Micro-averaged precision, recall and F1 (fractions) over ``support`` gold entities, and per label."""

    precision: float
    recall: float
    f1: float
    support: int
    per_label: dict[str, Scores] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"f1", "precision", "recall", "support", "per_label": {label: {...}}}`` (the ``metrics.json`` keys)."""
        per_label = {k: {"precision": v.precision, "recall": v.recall, "f1": v.f1, "support": v.support}
                     for k, v in self.per_label.items()}
        return {"f1": self.f1, "precision": self.precision, "recall": self.recall, "per_label": per_label,
                "support": self.support}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scores:
        """The inverse of :meth:`to_dict`; rejects a value outside [0, 1] (a percentage, say)."""
        for m in METRICS:
            check_fraction(d[m], m)
        per = {k: cls.from_dict(v) for k, v in d.get("per_label", {}).items()}
        return cls(float(d["precision"]), float(d["recall"]), float(d["f1"]), int(d.get("support", 0)), per)


def check_fraction(value: Any, name: str = "score") -> float:
    """``value`` as a float in [0, 1] (NaN allowed: no score); a :class:`ProjectionError` otherwise."""
    x = float(value)
    if not math.isnan(x) and not 0.0 <= x <= 1.0:
        raise ProjectionError(f"{name} = {value!r}: scores are fractions in [0, 1], not percentages")
    return x


def seqeval_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Scores:
    """Strict IOB2 exact-span scores of ``pred`` against ``gold`` (lists of tag sequences of equal lengths)."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    if len(gold) != len(pred):
        raise ProjectionError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    y_true, y_pred = [], []
    for k, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ProjectionError(f"sentence {k}: {len(g)} gold tags but {len(p)} predicted")
        y_true.append(list(g))
        y_pred.append(list(p))
    with warnings.catch_warnings():  # seqeval's averages over an empty label set warn; the figures are 0
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    per_label = {
        label: Scores(float(v["precision"]), float(v["recall"]), float(v["f1-score"]), int(v["support"]))
        for label, v in sorted(report.items())
        if not label.endswith(" avg")
    }
    micro = report.get("micro avg")
    if micro is None or not per_label:  # no entity on either side
        return Scores(0.0, 0.0, 0.0, 0, per_label)
    return Scores(float(micro["precision"]), float(micro["recall"]), float(micro["f1-score"]),
                  sum(v.support for v in per_label.values()), per_label)


def pct(x: float | None, digits: int = 1, missing: str = "", sign: bool = False) -> str:
    """A fraction as a percentage, without the % sign (``0.7834`` -> ``78.3``; with ``sign``, ``+78.3``);
    ``missing`` for None or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return missing
    return f"{100 * x:{'+' if sign else ''}.{digits}f}"


def pct_mean_sd(mean: float, sd: float | None, digits: int = 1, one: str = "", sign: bool = False) -> str:
    """``78.3 ± 0.7`` from fractions; ``78.3`` followed by ``one`` when there is no spread (one seed)."""
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return f"{pct(mean, digits, sign=sign)}{one}"
    return f"{pct(mean, digits, sign=sign)} ± {pct(sd, digits)}"
