"""From a tagger's per-word scores to IOB2 tags: the argmax of every word, or the best valid sequence.

``argmax`` takes each word's best tag on its own and repairs the result to IOB2 (an ``I-X`` after
``O`` or after another type opens an entity), so a lone ``I-MISC`` on ``de`` becomes an entity of its
own. ``bio`` (Viterbi over the same scores) takes the sequence with the highest total score among
those where ``I-X`` only follows ``B-X`` or ``I-X`` and no sentence opens with ``I-X``: a word whose
best tag is ``I-X`` either joins the entity before it or takes its next-best valid tag. The scores
are the head's logits (or log-probabilities: a per-word constant does not change the best path).

A core module (it imports no stage): the train stage decodes its tagger's scores with it, and the
label stage its labellers' probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from projection.errors import ProjectionError
from projection.tags import to_iob2

DECODERS: tuple[str, ...] = ("argmax", "bio")


def check(mode: str, what: str = "decode") -> str:
    """``mode`` if it names a decoder, else an error naming the option ``what`` and the choices."""
    if mode not in DECODERS:
        raise ProjectionError(f"{what} must be one of {', '.join(DECODERS)}, not {mode!r}")
    return mode


def transitions(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(start, allowed)``: which tags may open a sentence, and ``allowed[i, j]``: may tag ``j`` follow
    tag ``i``. ``labels`` are IOB2 tags (``O``, ``B-X``, ``I-X``)."""
    kinds, types = [], []
    for label in labels:
        kind, _, typ = label.partition("-")
        if label != "O" and (kind not in ("B", "I") or not typ):
            raise ProjectionError(f"BIO decoding needs IOB2 tags (O, B-X, I-X), not {label!r}")
        kinds.append("O" if label == "O" else kind)
        types.append(typ)
    begun = {t for k, t in zip(kinds, types) if k == "B"}
    if unopened := sorted({t for k, t in zip(kinds, types) if k == "I"} - begun):
        raise ProjectionError(f"BIO decoding needs a B- tag for every I- tag; no B- for {', '.join(unopened)}")
    inside = np.array([k == "I" for k in kinds])
    same_type = np.array([[a == b for b in types] for a in types])
    opens_or_continues = np.array([k in ("B", "I") for k in kinds])
    allowed = ~inside[None, :] | (same_type & opens_or_continues[:, None])
    return ~inside, allowed


def bio_viterbi(scores: np.ndarray, labels: Sequence[str]) -> list[int]:
    """The indices of the best-scoring valid IOB2 sequence for ``scores`` (``(words, labels)``)."""
    n = len(scores)
    if n == 0:
        return []
    start, allowed = transitions(labels)
    penalty = np.where(allowed, 0.0, -np.inf)
    best = np.where(start, scores[0].astype(np.float64), -np.inf)
    back = np.zeros((n, len(labels)), dtype=np.int64)
    for i in range(1, n):
        cand = best[:, None] + penalty
        back[i] = cand.argmax(0)
        best = cand[back[i], np.arange(len(labels))] + scores[i]
    path = [int(best.argmax())]
    for i in range(n - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    return path[::-1]


def decode(scores: np.ndarray, labels: Sequence[str], mode: str = "argmax") -> list[str]:
    """IOB2 tags for one sentence's ``(words, labels)`` scores under decoder ``mode`` (:data:`DECODERS`)."""
    if check(mode) == "argmax":
        return to_iob2([labels[i] for i in np.asarray(scores).argmax(-1).tolist()]) if len(scores) else []
    return [labels[i] for i in bio_viterbi(np.asarray(scores), labels)]
