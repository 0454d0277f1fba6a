"""Translate a file or a named corpus into a file: what ``projection translate`` runs.

Input is either a corpus (a name such as ``conll2003-en:train``, or a CoNLL / JSONL /
parquet file), whose sentences are detokenised before translation, or plain text with
one sentence per line, translated as it is. The output has exactly one translation per
input sentence/line, written atomically. With ``markers=True`` (corpus input only) the
entities are marked before translation and parsed back: a corpus output path
(``.conll``/``.tsv``/``.jsonl``/``.parquet``) receives the target sentences with their
projected entities, a text path the marked translations.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from projection.errors import ProjectionError
from projection.records import Sentence

CORPUS_SUFFIXES = {".conll", ".tsv", ".jsonl", ".parquet", ".conll02", ".conll03", ".iob", ".iob1", ".iob2", ".bio",
                   ".testa", ".testb", ".train"}
OUTPUT_CORPUS_SUFFIXES = {".conll", ".tsv", ".jsonl", ".parquet"}


def read_input(ref: str, force_text: bool = False) -> tuple[list[str] | None, list[Sentence] | None]:
    """(lines, None) for plain text, (None, sentences) for a corpus."""
    from projection.corpora import is_corpus_name, load_corpus
    from projection.translate.given import _read_lines, looks_like_conll

    if not force_text and is_corpus_name(ref):
        return None, load_corpus(ref)
    path = Path(ref)
    if not path.exists():
        if ":" in ref and not path.suffix:
            load_corpus(ref)  # raises "unknown corpus ..." with the known names
        raise ProjectionError(f"{ref}: no such file, and not a corpus name (try e.g. conll2003-en:train or sample:train)")
    if not force_text:
        if path.suffix.lower() in CORPUS_SUFFIXES:
            return None, load_corpus(ref)
        lines = _read_lines(path, "utf-8")
        if looks_like_conll(lines):
            return None, load_corpus(ref, fmt="conll")
        return lines, None
    return _read_lines(path, "utf-8"), None


def translate_to_file(engine: str, input: str, output: str | Path, src_lang: str = "en", tgt_lang: str = "es", *,
                      markers: bool = False, cache: bool = True, force_text: bool = False,
                      options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Translate ``input`` into ``output``; returns a summary (``translated``, ``cached``, ``seconds``, ...)."""
    from projection.corpus import write_corpus
    from projection.store import atomic_open
    from projection.translate import cached, translators
    from projection.translate.markers import marked_sources, marker_stats, parse_marked
    from projection.translate.text import detokenize

    t0 = time.perf_counter()
    opts = dict(options or {})
    if markers:
        opts["markers"] = True
    translator = cached(translators.create(engine, src_lang=src_lang, tgt_lang=tgt_lang, **opts),
                        cache_dir=None if cache else False)
    lines, sentences = read_input(input, force_text)
    output = Path(output)
    summary: dict[str, Any] = {}
    if markers:
        if sentences is None:
            raise ProjectionError("--markers needs a corpus input (CoNLL, JSONL, parquet or a corpus name) with entities")
        style = translator.marker_style
        texts = marked_sources(sentences, style, src_lang)
    elif sentences is not None:
        texts = [detokenize(s.tokens, src_lang) for s in sentences]
    else:
        texts = list(lines or [])
    out = translator.translate(texts)
    if markers:
        assert sentences is not None
        from projection.translate.markers import MarkedTranslation

        results: list[MarkedTranslation] = []
        for s, o in zip(sentences, out):
            expected = [(sp.label, detokenize(s.tokens[sp.start : sp.end], src_lang)) for sp in s.spans]
            results.append(parse_marked(o, translator.marker_style, tgt_lang, expected))
        summary["markers"] = marker_stats(results)
        if output.suffix.lower() in OUTPUT_CORPUS_SUFFIXES:
            target = [r.sentence(s.id) for r, s in zip(results, sentences) if r.tokens]
            summary["skipped_empty"] = len(sentences) - len(target)
            write_corpus(target, output)
            out_written = len(target)
        else:
            out_written = _write_lines(output, out, atomic_open)
    else:
        out_written = _write_lines(output, out, atomic_open)
    stats = translator.last_stats
    summary = {
        "translated": stats.get("translated", 0),
        "cached": stats.get("cached", 0),
        "seconds": round(time.perf_counter() - t0, 3),
        "lines": len(texts),
        "empty": stats.get("empty", 0),
        "unique_translated": stats.get("unique_translated", 0),
        "written": out_written,
        "output": str(output),
        "engine": engine,
        "src_lang": src_lang,
        "tgt_lang": tgt_lang,
        "signature": translator.signature(),
        **summary,
    }
    return summary


def _write_lines(path: Path, lines: list[str], atomic_open) -> int:
    with atomic_open(path) as f:
        for line in lines:
            f.write(line.replace("\n", " ") + "\n")
    return len(lines)
