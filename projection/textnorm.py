"""Unicode at the encoder's input: the same word in NFC and NFD gets the same subwords, and words
split at their combining marks are put back together (:func:`mark_groups`).

Text in the wild mixes composed and decomposed letters: MasakhaNER 2.0's Yoruba test set has
27,460 of its 45,653 words not in NFC (tone marks as combining characters), while NLLB writes
Yoruba in NFC. A tokenizer whose normaliser does not compose cuts the decomposed form into other
pieces (``lókùn`` NFD: ``▁lo ́ ku ̀ n``; NFC: ``▁l ók ù n`` with the multilingual-e5-small folder
made offline), so a model trained on one form meets unknown pieces in the other. XLM-R's own
SentencePiece normaliser (NFKC) composes; BERT's cased normaliser and some converted folders do
not. :func:`compose_unicode` puts NFC in front of a tokenizer's normaliser when, and only when, it
does not compose already, so a tokenizer that composes gives exactly the ids it gave before.

The words themselves are never changed: predictions, alignments and projections keep the text of
their input; only what the encoder sees is composed.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Any

# a decomposed letter that every composing normaliser (NFC, NFKC) turns into one code point
_PROBE = "o\u0301"


def _backend(tokenizer: Any) -> Any:
    """The ``tokenizers.Tokenizer`` of a transformers fast tokenizer (or the tokenizer itself)."""
    return getattr(tokenizer, "backend_tokenizer", tokenizer)


def _normalized(tokenizer: Any, text: str) -> str | None:
    """``text`` through the tokenizer's normaliser (None without one)."""
    norm = getattr(_backend(tokenizer), "normalizer", None)
    return None if norm is None else norm.normalize_str(text)


def _prepend(tokenizer: Any, steps: list[Any]) -> Any:
    """The tokenizer's normaliser preceded by ``steps`` (in place); the tokenizer returned."""
    from tokenizers import normalizers

    backend = _backend(tokenizer)
    current = backend.normalizer
    chain = steps if current is None else [*steps, current]
    backend.normalizer = chain[0] if len(chain) == 1 else normalizers.Sequence(chain)
    return tokenizer


def composes(tokenizer: Any) -> bool:
    """Whether the fast tokenizer's normaliser composes decomposed letters already."""
    out = _normalized(tokenizer, _PROBE)
    return out is not None and "\u0301" not in out


def compose_unicode(tokenizer: Any) -> Any:
    """``tokenizer`` (a transformers fast tokenizer or a ``tokenizers.Tokenizer``), its normaliser
    preceded by NFC unless it composes already; changed in place and returned."""
    from tokenizers import normalizers

    if not hasattr(_backend(tokenizer), "normalizer") or composes(tokenizer):
        return tokenizer
    return _prepend(tokenizer, [normalizers.NFC()])


def strips_marks(tokenizer: Any) -> bool:
    """Whether the fast tokenizer's normaliser removes combining marks already (``ó`` -> ``o``)."""
    return _normalized(tokenizer, unicodedata.normalize("NFC", _PROBE)) == "o"


def strip_marks(tokenizer: Any) -> Any:
    """``tokenizer`` with every combining mark removed before its own normaliser (``Èkó`` and
    ``Eko``, ``Amẹ́ríkà`` and ``Amerika`` get the same subwords); changed in place and returned.

    For a language whose diacritics are written inconsistently: machine-translated Yoruba marks
    tones on fewer words, and on fewer names, than the text a model meets later, so a model trained
    on the translations learns marks as the sign of a common word (docs/train.md). Like
    :func:`compose_unicode`, only what the encoder sees changes, never the words; a tokenizer
    that strips marks already is left as it is."""
    from tokenizers import normalizers

    if not hasattr(_backend(tokenizer), "normalizer"):
        raise ValueError(f"{type(tokenizer).__name__} has no normaliser: marks cannot be stripped")
    if strips_marks(tokenizer):
        return tokenizer
    return _prepend(tokenizer, [normalizers.NFD(), normalizers.StripAccents(), normalizers.NFC()])


def has_marks(words: Iterable[str]) -> bool:
    """Whether a word of ``words`` holds a combining mark once decomposed (``ó``, ``ọ̀``): the words
    :func:`strip_marks` changes. A text with none is read the same with marks stripped or kept, so
    a model trained on it is the same model either way."""
    return any(unicodedata.category(c).startswith("M") for w in words for c in unicodedata.normalize("NFD", w))


def not_composed(words: Iterable[str]) -> list[str]:
    """The words of ``words`` that NFC changes, in their order."""
    return [w for w in words if unicodedata.normalize("NFC", w) != w]


# --- detached combining marks ------------------------------------------------------------------

MARK_MODES = ("keep", "attach", "rejoin")


def is_detached_mark(token: str) -> bool:
    """A token made only of combining marks (Unicode categories Mn, Mc, Me): never a word of its own.

    Some tokenisers split words at every combining mark, since ``\\w`` does not match one: the
    NLLB Yoruba translations published with T-Projection write ``Amẹ́ríkà`` as the three tokens
    ``Amẹ`` ``◌́`` ``ríkà`` (38,560 of their 321,192 tokens are such marks; the marks have no
    precomposed form, so NFC cannot help)."""
    return bool(token) and all(unicodedata.category(c).startswith("M") for c in token)


def mark_groups(sentences: list[list[str]], mode: str = "rejoin") -> tuple[list[list[list[int]]], dict[str, int]]:
    """How to repair words split at their combining marks: for each sentence, the token indices
    that form each repaired word (in order; every index exactly once), and counts.

    ``attach`` glues every detached mark (:func:`is_detached_mark`) to the token before it (a
    mark that opens a sentence stays a token). ``rejoin`` also glues the token after a detached
    mark back on when it starts with a lower-case letter and, in ``sentences`` as a whole,
    occurs right after a detached mark at least as often as anywhere else: the split lost the
    spaces, so ``Amẹ ◌́ ríkà`` was one word and ``kalẹ ◌̀ lọ`` two, and only the statistics of
    the text tell them apart (``ríkà`` stands alone almost never, ``lọ`` often). A word that
    nearly always follows one ending in a mark is glued on wrongly (``ọkọ̀òfuurufú``). On
    MasakhaNER 2.0 Yoruba train, split the same way and repaired, words come back with
    precision/recall 0.806/0.899 with ``attach`` and 0.928/0.951 with ``rejoin``
    (``python -m bench.rejoin_marks``). ``keep`` changes nothing.
    """
    if mode not in MARK_MODES:
        raise ValueError(f"marks must be one of {', '.join(MARK_MODES)}, not {mode!r}")
    alone: Counter[str] = Counter()
    after: Counter[str] = Counter()
    detached = 0
    for toks in sentences:
        for i, tok in enumerate(toks):
            if is_detached_mark(tok):
                detached += 1
            elif i and is_detached_mark(toks[i - 1]):
                after[tok] += 1
            else:
                alone[tok] += 1
    groups: list[list[list[int]]] = []
    attached = joined = 0
    for toks in sentences:
        words: list[list[int]] = []
        for i, tok in enumerate(toks):
            glue = False
            if mode != "keep" and words:
                if is_detached_mark(tok):
                    glue = True
                    attached += 1
                elif (mode == "rejoin" and is_detached_mark(toks[i - 1]) and not is_detached_mark(toks[words[-1][0]])
                      and _continues(tok, after, alone)):
                    glue = True
                    joined += 1
            if glue:
                words[-1].append(i)
            else:
                words.append([i])
        groups.append(words)
    return groups, {"detached_marks": detached, "marks_attached": attached, "words_rejoined": joined}


def _continues(tok: str, after: Counter[str], alone: Counter[str]) -> bool:
    """Whether ``tok``, right after a detached mark, is the rest of the mark's word: a lower-case
    letter first (a capital or a non-letter starts a word), and at least as frequent after a
    detached mark as anywhere else."""
    return tok[0].isalpha() and not tok[0].isupper() and after[tok] >= alone[tok]


def regroup(items: list[Any], groups: list[list[int]], join: Any = "".join) -> list[Any]:
    """``items`` of one sentence merged by :func:`mark_groups`' ``groups`` (``join`` of each group)."""
    return [join([items[i] for i in g]) for g in groups]
