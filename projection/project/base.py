"""The projection stage's input record, protocol and shared helpers.

A projector receives, for each sentence pair, the English source sentence with its gold
entities, the target words, a word alignment and (when the aligner provides one) a
source x target word-similarity matrix, and returns one :class:`ProjectedEntity` per
source entity with a status:

* ``projected`` - a target span was found,
* ``unaligned`` - no target word is linked to the entity at all,
* ``conflict`` - the entity's best target span was taken by another entity,
* ``below-threshold`` - the best target span scored under the method's threshold.

Projectors work on batches (``project(inputs)``) so that they can vectorise across
sentences; the whole batch is in memory anyway.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from projection.records import Alignment, ProjectedEntity, ProjectedSentence, Sentence, Span


@dataclass(slots=True)
class ProjectionInput:
    """Everything a projector needs for one sentence pair.

    ``similarity`` is an optional ``(len(source.tokens), len(target_tokens))`` matrix of
    word similarities in [-1, 1] (cosine of encoder embeddings); ``marked`` holds target
    spans recovered from mark-then-translate output, in source-entity order when the
    marker style carries indices, else in target order (see :mod:`.markers`).
    """

    source: Sentence
    target_tokens: list[str]
    alignment: Alignment
    similarity: np.ndarray | None = None
    marked: list[Span] | None = None
    translation: str = ""

    def __post_init__(self) -> None:
        if self.similarity is not None:
            shape = (len(self.source.tokens), len(self.target_tokens))
            if tuple(self.similarity.shape) != shape:
                raise ValueError(f"sentence {self.source.id}: similarity matrix {self.similarity.shape}, expected {shape}")
        n, m = len(self.source.tokens), len(self.target_tokens)
        for i, j in self.alignment.links:
            if not (0 <= i < n and 0 <= j < m):
                raise ValueError(f"sentence {self.source.id}: alignment link {i}-{j} outside a {n}x{m} sentence pair")


@runtime_checkable
class Projector(Protocol):
    """Maps source entities onto target words for a batch of sentence pairs."""

    name: str

    def project(self, inputs: Sequence[ProjectionInput]) -> list[ProjectedSentence]: ...

    def signature(self) -> dict[str, Any]: ...


# Characters that end a clause: a target candidate may not cross a token made only of
# these (unless the source entity itself contains that token, e.g. "Jean - Pierre").
_BREAK_CHARS = frozenset(".,;:!?()[]{}\"'«»“”„‟‘’‚‹›¿¡…—–-/|·")


def is_break_token(token: str) -> bool:
    """True for a token made only of clause punctuation (``,`` ``.`` ``(`` ``--`` ...)."""
    return bool(token) and all(ch in _BREAK_CHARS or unicodedata.category(ch) in ("Pd", "Ps", "Pe", "Pi", "Pf") for ch in token)


def make_sentence(inp: ProjectionInput, entities: list[ProjectedEntity], meta: dict[str, Any] | None = None) -> ProjectedSentence:
    return ProjectedSentence(inp.source, list(inp.target_tokens), entities, inp.alignment, inp.translation, dict(meta or {}))
