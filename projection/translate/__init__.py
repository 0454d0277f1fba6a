"""Translation stage: source sentences -> target sentences, one line per input, cached.

Engines (registry ``translators``; ``translators.create(name, src_lang=, tgt_lang=, **options)``):

* ``nllb``     NLLB-200 through CTranslate2 (int8 on CPU, float16 on GPU)   - :mod:`.nllb`
* ``hf``       any transformers seq2seq model with ``generate``             - :mod:`.hf`
* ``apertium`` the Debian Apertium engine as a subprocess                   - :mod:`.apertium`
* ``given``    translations the user already has, read from a file          - :mod:`.given`

Every engine has ``translate(texts) -> list[str]`` and ``signature() -> dict``.
:func:`cached` adds the content-addressed sqlite cache (and a progress bar);
:func:`make_translator` is ``cached(translators.create(...))``. Back-translation is the
same engine with the languages swapped: :func:`back_translate`. Mark-then-translate
lives in :mod:`.markers`, text (de)tokenisation in :mod:`.text`, language codes in
:mod:`.languages`. Importing this package imports neither torch nor CTranslate2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projection.registry import Registry
from projection.translate.base import Translator
from projection.translate.cache import CachedTranslator, TranslationCache, cache_root, cached
from projection.translate.languages import Language, nllb_code, resolve_language
from projection.translate.text import detokenize, tokenize, tokenize_with_offsets

_MARKER_NAMES = ("MarkedTranslation", "mark", "marker_stats", "parse_marked", "translate_marked")


def __getattr__(name: str) -> Any:
    """Marker functions load on first use: plain translation (and its cached reruns) does not need them."""
    if name in _MARKER_NAMES:
        from projection.translate import markers

        return getattr(markers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

translators: Registry[Any] = Registry("translation engine")
translators.add("nllb", "projection.translate.nllb:NllbTranslator")
translators.add("hf", "projection.translate.hf:HfTranslator")
translators.add("apertium", "projection.translate.apertium:ApertiumTranslator")
translators.add("given", "projection.translate.given:GivenTranslator")


def make_translator(engine: str, src_lang: str = "en", tgt_lang: str = "es", *,
                    cache_dir: str | Path | None | bool = None, **options: Any) -> CachedTranslator:
    """``cached(translators.create(engine, ...))``: the usual way to get a translator."""
    return cached(translators.create(engine, src_lang=src_lang, tgt_lang=tgt_lang, **options), cache_dir=cache_dir)


def back_translate(engine: str, texts: list[str], src_lang: str = "en", tgt_lang: str = "es", *,
                   cache_dir: str | Path | None | bool = None, **options: Any) -> list[str]:
    """Translate target-language ``texts`` back into the source language.

    ``src_lang``/``tgt_lang`` name the *forward* direction (en -> es); the engine runs
    tgt -> src with the same options (Apertium ``spa-eng``, NLLB ``spa_Latn -> eng_Latn``;
    for ``given``, ``path`` is the file of back-translations). Cached like any translation.
    """
    return make_translator(engine, tgt_lang, src_lang, cache_dir=cache_dir, **options).translate(list(texts))


__all__ = [
    "CachedTranslator", "Language", "MarkedTranslation", "TranslationCache", "Translator", "back_translate",
    "cache_root", "cached", "detokenize", "make_translator", "mark", "marker_stats", "nllb_code", "parse_marked",
    "resolve_language", "tokenize", "tokenize_with_offsets", "translate_marked", "translators",
]
