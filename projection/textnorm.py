"""Unicode composition at the encoder's input: the same word in NFC and NFD gets the same subwords.

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
from collections.abc import Iterable
from typing import Any

# a decomposed letter that every composing normaliser (NFC, NFKC) turns into one code point
_PROBE = "o\u0301"


def composes(tokenizer: Any) -> bool:
    """Whether the fast tokenizer's normaliser composes decomposed letters already."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    norm = getattr(backend, "normalizer", None)
    if norm is None:
        return False
    out = norm.normalize_str(_PROBE)
    return "\u0301" not in out


def compose_unicode(tokenizer: Any) -> Any:
    """``tokenizer`` (a transformers fast tokenizer or a ``tokenizers.Tokenizer``), its normaliser
    preceded by NFC unless it composes already; changed in place and returned."""
    from tokenizers import normalizers

    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if not hasattr(backend, "normalizer") or composes(backend):
        return tokenizer
    current = backend.normalizer
    backend.normalizer = normalizers.NFC() if current is None else normalizers.Sequence([normalizers.NFC(), current])
    return tokenizer


def not_composed(words: Iterable[str]) -> list[str]:
    """The words of ``words`` that NFC changes, in their order."""
    return [w for w in words if unicodedata.normalize("NFC", w) != w]
