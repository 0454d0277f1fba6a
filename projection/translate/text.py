"""Text utilities around MT: CoNLL tokens -> text before translation, text -> words after.

MT systems read and write natural text, while NER corpora are word lists. Before
translation the source tokens are detokenised with sacremoses (``"U.S. , "`` -> ``"U.S.,"``),
because MT systems mistranslate the spaced-out form. The translation is then cut into
target words with spaCy's rule-based tokenizer for the target language
(``spacy.blank(lang)``: no model download), keeping character offsets so markers and
alignments can be mapped back to words. Languages spaCy has no rules for (or whose
tokenizer needs extra packages, e.g. Japanese, Thai) fall back to spaCy's multilingual
``xx`` tokenizer; whitespace tokens are dropped.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

_WS = re.compile(r"\s+")
_lock = threading.Lock()


def _lang_candidates(lang: str) -> list[str]:
    from projection.translate.languages import resolve_language

    try:
        language = resolve_language(lang)
    except Exception:
        return [lang.split("-")[0].split("_")[0].lower()]
    return [c for c in (language.iso1, language.iso3) if c]


@lru_cache(maxsize=64)
def _moses(code: str):
    from sacremoses import MosesDetokenizer

    return MosesDetokenizer(lang=code)


def detokenize(tokens: list[str], lang: str = "en") -> str:
    """Join CoNLL tokens into natural text with the Moses detokenizer for ``lang``.

    Moses XML escapes are not undone (``unescape=False``): CoNLL text is not escaped, so a
    literal ``&amp;`` token stays as it is. Whitespace inside tokens is collapsed.
    """
    if not tokens:
        return ""
    code = _lang_candidates(lang)[0]
    with _lock:  # sacremoses' detokenizer keeps no state, but guard the lru_cache construction
        detok = _moses(code)
    toks = [t for t in tokens if t.strip()]
    if code == "en":
        toks = _join_ptb_negation(toks)
    text = detok.detokenize(toks, unescape=False)
    return " ".join(text.split())


def _join_ptb_negation(tokens: list[str]) -> list[str]:
    """Undo the Penn Treebank split of negations that Moses leaves alone: ``do n't`` -> ``don't``.

    CoNLL-2003 is PTB-tokenised (``ca n't``, ``wo n't``, ``do n't``); concatenation restores
    the original word, and an MT system reading ``do n't`` translates it badly.
    """
    out: list[str] = []
    for tok in tokens:
        if tok.lower() == "n't" and out:
            out[-1] = out[-1] + tok
        else:
            out.append(tok)
    return out


@lru_cache(maxsize=64)
def _spacy_tokenizer(lang: str) -> tuple[str, Any]:
    import spacy

    for code in [*_lang_candidates(lang), "xx"]:
        try:
            return code, spacy.blank(code).tokenizer
        except Exception:  # no rules for this language, or rules that need an extra package
            continue
    raise RuntimeError("spaCy's multilingual tokenizer 'xx' is not available")  # pragma: no cover


def tokenizer_language(lang: str) -> str:
    """The spaCy language code actually used for ``lang`` (``xx`` when spaCy has no rules for it)."""
    return _spacy_tokenizer(lang)[0]


def tokenize_with_offsets(text: str, lang: str) -> list[tuple[str, int, int]]:
    """Words of ``text`` with character offsets ``(word, start, end_exclusive)``.

    Uses ``spacy.blank(lang)``'s rule-based tokenizer; whitespace tokens are dropped, so
    ``text[start:end] == word`` for every word.
    """
    if not text or not text.strip():
        return []
    tok = _spacy_tokenizer(lang)[1]
    out = []
    for t in tok(text):
        if t.is_space or not t.text.strip():
            continue
        out.append((t.text, t.idx, t.idx + len(t.text)))
    return out


def tokenize(text: str, lang: str) -> list[str]:
    """Words of ``text`` (see :func:`tokenize_with_offsets`)."""
    return [w for w, _, _ in tokenize_with_offsets(text, lang)]


def clean_text(text: str) -> str:
    """One line of text: every run of whitespace (newlines, tabs, NBSP...) becomes one space.

    MT engines get one sentence per line, so a newline inside an input must never reach
    them; stripping also makes ``"a "`` and ``"a"`` share a cache entry.
    """
    return " ".join(text.split())
