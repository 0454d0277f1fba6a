"""The word-alignment stage's contract: what every aligner takes and returns.

An aligner turns sentence pairs, each a (source words, target words) tuple, into one
:class:`~projection.records.Alignment` per pair whose links ``(i, j)`` are 0-based word
indices (source word i <-> target word j). Aligners work on *words* as given: they never
re-tokenise the sentence, so indices always refer to the caller's tokens (the entity
spans of the projection stage are defined over those same tokens).
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

from projection.errors import ProjectionError
from projection.records import Alignment

Pair = tuple[Sequence[str], Sequence[str]]


@runtime_checkable
class Aligner(Protocol):
    """Aligns word-tokenised sentence pairs."""

    name: str

    def align(self, pairs: Sequence[Pair]) -> list[Alignment]:
        """One alignment per pair, in input order, with 0-based word indices."""
        ...

    def signature(self) -> dict[str, Any]:
        """Everything that determines the output (engine, model and its hash, parameters, versions)."""
        ...


def check_pairs(pairs: Sequence[Pair], what: str = "pair") -> list[tuple[list[str], list[str]]]:
    """Validate and normalise pairs to ``(list[str], list[str])``.

    A bare string instead of a word list is the most common mistake (it would be aligned
    character by character), so it is rejected with the offending position.
    """
    out: list[tuple[list[str], list[str]]] = []
    for k, pair in enumerate(pairs):
        try:
            src, tgt = pair
        except (TypeError, ValueError):
            raise ProjectionError(f"{what} {k}: expected a (source words, target words) tuple, got {pair!r:.80}") from None
        for side, words in (("source", src), ("target", tgt)):
            if isinstance(words, str) or not all(isinstance(w, str) for w in words):
                raise ProjectionError(f"{what} {k}: {side} must be a list of words (str), got {words!r:.80}")
        out.append((list(src), list(tgt)))
    return out
