"""NER scores, one type for every stage: exact-span precision, recall and F1, always fractions in [0, 1].

Training (``metrics.json``, ``results.csv``), the intrinsic projection evaluation and the report
all hold fractions; only the formatters here turn them into percentages, for people. Scoring is
seqeval's strict mode with the IOB2 scheme: an entity counts only when its type and both
boundaries match the gold entity exactly; callers pass well-formed IOB2 tags.
"""

from __future__ import annotations

import math
import warnings
from itertools import islice, takewhile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from projection.errors import ProjectionError
from projection.records import Span
from projection.tags import tags_to_spans

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


# ---------------------------------------------------------------------- where the errors are

ERROR_KINDS = ("exact", "type", "boundary", "type_boundary")  # an overlap's kind, best first


def _overlap_kind(a: Span, b: Span) -> str:
    """How span ``b`` overlaps span ``a``: the same words and label (``exact``), the same words and another label
    (``type``), the same label and other words (``boundary``), or both other (``type_boundary``)."""
    same_words = (a.start, a.end) == (b.start, b.end)
    if a.label == b.label:
        return "exact" if same_words else "boundary"
    return "type" if same_words else "type_boundary"


def _fates(mine: Sequence[Span], theirs: Sequence[Span]) -> list[tuple[str, str | None]]:
    """For each span of ``mine``: the kind of its best overlapping span of ``theirs`` (:data:`ERROR_KINDS` order,
    then the larger overlap, then the earlier span) and that span's label; ``("none", None)`` when nothing overlaps."""
    out: list[tuple[str, str | None]] = []
    j0 = 0
    for a in mine:  # both sorted by start; spans of one side do not overlap each other
        while j0 < len(theirs) and theirs[j0].end <= a.start:
            j0 += 1
        overlapping = takewhile(lambda b: b.start < a.end, islice(theirs, j0, None))
        best = min(overlapping, default=None, key=lambda b: (ERROR_KINDS.index(_overlap_kind(a, b)),
                                                              max(a.start, b.start) - min(a.end, b.end)))
        out.append(("none", None) if best is None else (_overlap_kind(a, best), best.label))
    return out


def span_errors(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Where a tagger's errors are, per label, counted in entities (the spans of well-formed IOB2 tags).

    ``gold[LABEL]``: of the gold entities of LABEL (``support``), how many were predicted ``exact`` (the same words
    and label: seqeval's true positives), with the same words and another label (``type``: per predicted label), with
    overlapping words and the same label (``boundary``), overlapping with another label (``type_boundary``: per
    predicted label), or not at all (``missed``). ``predicted[LABEL]``: the same for each predicted entity of LABEL
    (``count``) against the gold entities (``type`` and ``type_boundary`` per gold label; ``spurious``: no gold
    entity overlaps it). Of several overlapping entities the closest kind counts (exact, type, boundary, both), then
    the larger overlap. Precision of LABEL is ``predicted[LABEL]["exact"] / predicted[LABEL]["count"]``.
    """
    if len(gold) != len(pred):
        raise ProjectionError(f"{len(gold)} gold sentences but {len(pred)} predicted")

    def empty(total: str, none: str) -> dict[str, Any]:
        return {total: 0, "exact": 0, "type": {}, "boundary": 0, "type_boundary": {}, none: 0}

    out: dict[str, dict[str, dict[str, Any]]] = {"gold": {}, "predicted": {}}
    for k, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ProjectionError(f"sentence {k}: {len(g)} gold tags but {len(p)} predicted")
        gs, ps = tags_to_spans(g), tags_to_spans(p)
        for side, mine, theirs, total, none in (("gold", gs, ps, "support", "missed"),
                                                ("predicted", ps, gs, "count", "spurious")):
            for span, (kind, other) in zip(mine, _fates(mine, theirs)):
                c = out[side].setdefault(span.label, empty(total, none))
                c[total] += 1
                if kind == "none":
                    c[none] += 1
                elif kind in ("type", "type_boundary"):
                    c[kind][other] = c[kind].get(other, 0) + 1
                else:
                    c[kind] += 1
    return {side: dict(sorted(v.items())) for side, v in out.items()}
