"""Intrinsic evaluation of projection: projected target spans against gold target spans.

Used on parallel text with gold entities on both sides (Europarl-NER): the gold English
entities are projected onto the gold target words and compared, span by span, with the
gold target entities (seqeval, strict IOB2 exact-span matching).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projection.errors import ProjectionError
from projection.records import ProjectedSentence, Sentence
from projection.scores import seqeval_scores


def span_scores(gold: Sequence[Sentence], projected: Sequence[ProjectedSentence]) -> dict[str, Any]:
    """Exact-span precision/recall/F1 (fractions, :class:`projection.scores.Scores`) overall and per label."""
    if len(gold) != len(projected):
        raise ProjectionError(f"{len(gold)} gold sentences but {len(projected)} projected")
    return seqeval_scores([list(g.tags) for g in gold], [list(p.target_sentence().tags) for p in projected]).to_dict()
