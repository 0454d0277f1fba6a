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

import contextlib
import gc
import unicodedata
from collections.abc import Iterator
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
_BREAK_CHARS = frozenset(".,;:!?()[]{}\"«»“”„‟‘’‚‹›¿¡…—–-/|·")
# A lone apostrophe is an elision inside a name when a tokenizer splits it off ("Banque d ' Angleterre",
# "Museo dell ' Opera", "l ' Hospitalet"), not a clause break.
APOSTROPHES = frozenset({"'", "\u2019", "\u02bc"})


def is_break_token(token: str) -> bool:
    """True for a token made only of clause punctuation (``,`` ``.`` ``(`` ``--`` ...); a lone
    apostrophe (``'``, ``’``) is not one: elided articles split off by tokenizers sit inside names."""
    if token in APOSTROPHES:
        return False
    return bool(token) and all(ch in _BREAK_CHARS or unicodedata.category(ch) in ("Pd", "Ps", "Pe", "Pi", "Pf") for ch in token)


def fast_spans(tags: Sequence[str]) -> list[Span]:
    """:func:`projection.tags.tags_to_spans` (same lenient IOB1/IOB2 reading) without the
    per-tag regular expression: projection reads the spans of every sentence, and most
    tags are ``O``. Tags were validated when the corpus was read."""
    spans: list[Span] = []
    if tags.count("O") == len(tags):
        return spans
    start = -1
    label: str | None = None
    for i, tag in enumerate(tags):
        if tag == "O":
            if label is not None:
                spans.append(Span(start, i, label))
                label = None
            continue
        lab = tag[2:]
        if tag[0] == "I" and lab == label:
            continue
        if label is not None:
            spans.append(Span(start, i, label))
        label, start = lab, i
    if label is not None:
        spans.append(Span(start, len(tags), label))
    return spans


_TAG_CODES: dict[str, int] = {"O": 0}  # O -> 0, B-X -> 2 * label + 1, I-X -> 2 * label + 2
_LABELS: list[str] = []


def _add_tags(tags: set[str]) -> None:
    for tag in sorted(tags):
        label = tag[2:]
        if label not in _LABELS:
            _LABELS.append(label)
        _TAG_CODES[tag] = 2 * _LABELS.index(label) + (1 if tag[0] == "B" else 2)


def batch_spans(tag_lists: Sequence[Sequence[str]]) -> list[list[Span]]:
    """:func:`fast_spans` for many sentences at once, vectorised over all their tags."""
    counts = np.fromiter((len(t) for t in tag_lists), dtype=np.int64, count=len(tag_lists))
    flat = [t for tags in tag_lists for t in tags]
    out: list[list[Span]] = [[] for _ in tag_lists]
    if not flat:
        return out
    new = set(flat).difference(_TAG_CODES)
    if new:
        _add_tags(new)
    codes = np.fromiter(map(_TAG_CODES.__getitem__, flat), dtype=np.int64, count=len(flat))
    kind = np.where(codes == 0, 0, 2 - codes % 2)  # 0 = O, 1 = B, 2 = I
    lab = np.where(codes == 0, -1, (codes - 1) // 2)
    offsets = np.cumsum(counts) - counts
    first = np.zeros(len(flat), dtype=bool)
    first[offsets[counts > 0]] = True
    prev_lab = np.concatenate(([-1], lab[:-1]))
    prev_lab[first] = -1
    starts = (kind == 1) | ((kind == 2) & (lab != prev_lab))
    inside = kind > 0
    # an entity ends where the next token does not continue it
    nxt_cont = np.concatenate((~starts[1:] & inside[1:] & ~first[1:], [False]))
    ends = inside & ~nxt_cont
    s_idx = np.flatnonzero(starts)
    e_idx = np.flatnonzero(ends) + 1
    sent = np.repeat(np.arange(len(tag_lists)), counts)[s_idx]
    offset = offsets[sent]
    labels = _LABELS
    for b, s0, e0, l0 in zip(sent.tolist(), (s_idx - offset).tolist(), (e_idx - offset).tolist(), lab[s_idx].tolist()):
        out[b].append(Span(s0, e0, labels[l0]))
    return out


def code_hash(*modules: str) -> str:
    """A short hash of this module and of ``modules`` (:func:`projection.store.code_hash`): part of
    each projector's signature, so that a changed implementation never reuses cached projections."""
    from projection.store import code_hash as _code_hash

    return _code_hash(__name__, *modules)


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while records are built in bulk.

    Projection allocates a few objects per entity and creates no reference cycles; with
    the collector on, every few hundred allocations it traverses the whole corpus in
    memory, which costs about a quarter of the projection time on CoNLL-2003.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def make_sentence(inp: ProjectionInput, entities: list[ProjectedEntity], meta: dict[str, Any] | None = None) -> ProjectedSentence:
    return ProjectedSentence(inp.source, inp.target_tokens, entities, inp.alignment, inp.translation, dict(meta or {}))
