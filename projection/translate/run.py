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


def _classify(ref: str, force_text: bool) -> tuple[str, Path, dict[str, Any]]:
    """("corpus", path, load_corpus kwargs) or ("text", path, {}) for an input reference."""
    from projection.corpora import is_corpus_name, load_corpus, resolve_corpus
    from projection.translate.given import _read_lines, looks_like_conll

    if not force_text and is_corpus_name(ref):
        return "corpus", resolve_corpus(ref), {}
    path = Path(ref)
    if not path.exists():
        if ":" in ref and not path.suffix:
            load_corpus(ref)  # raises "unknown corpus ..." with the known names
        raise ProjectionError(f"{ref}: no such file, and not a corpus name (try e.g. conll2003-en:train or sample:train)")
    if force_text:
        return "text", path, {}
    if path.suffix.lower() in CORPUS_SUFFIXES:
        return "corpus", path, {}
    if looks_like_conll(_read_lines(path, "utf-8")[:2000]):
        return "corpus", path, {"fmt": "conll"}
    return "text", path, {}


def read_input(ref: str, force_text: bool = False) -> tuple[list[str] | None, list[Sentence] | None]:
    """(lines, None) for plain text, (None, sentences) for a corpus."""
    from projection.corpora import load_corpus
    from projection.translate.given import _read_lines

    kind, path, kwargs = _classify(ref, force_text)
    if kind == "text":
        return _read_lines(path, "utf-8"), None
    return None, load_corpus(ref, **kwargs)


def corpus_texts(ref: str, lang: str, cache: Any = None) -> list[str]:
    """The detokenised sentences of a corpus, memoised by the file's content in the translation cache.

    Reading and detokenising CoNLL-2003 train takes seconds: most of a rerun that the
    translation cache serves entirely. The memo key is the corpus file's sha256, how it
    is read, the language, the sacremoses version and the source of the reading and
    detokenising code, so any change to one of them reads the file again.
    """
    import hashlib
    import json

    import projection.corpora
    import projection.corpus
    import projection.translate.text
    from projection.corpora import load_corpus
    from projection.store import file_sha256, package_versions
    from projection.translate.text import detokenize

    if cache is None:
        return [detokenize(s.tokens, lang) for s in load_corpus(ref)]
    kind, path, kwargs = _classify(ref, False)
    code = hashlib.sha256()
    for mod in (projection.corpus, projection.corpora, projection.translate.text):
        code.update(Path(mod.__file__).read_bytes())
    key_src = json.dumps([ref if ":" in ref and not Path(ref).exists() else "", file_sha256(path), kwargs, lang,
                          package_versions("sacremoses"), code.hexdigest()], sort_keys=True)
    key = "corpus-texts:" + hashlib.sha256(key_src.encode("utf-8")).hexdigest()[:40]
    hit = cache.memo_get([key])
    if key in hit:
        return json.loads(hit[key])
    texts = [detokenize(s.tokens, lang) for s in load_corpus(ref, **kwargs)]
    cache.memo_put([(key, json.dumps(texts, ensure_ascii=False))])
    return texts


def translate_to_file(engine: str, input: str, output: str | Path, src_lang: str = "en", tgt_lang: str = "es", *,
                      markers: bool = False, cache: bool = True, force_text: bool = False,
                      options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Translate ``input`` into ``output``; returns a summary (``translated``, ``cached``, ``seconds``, ...)."""
    from projection.store import atomic_open, check_output_file
    from projection.translate import cached, translators

    check_output_file(output)  # before translating, not after
    t0 = time.perf_counter()
    opts = dict(options or {})
    if markers:
        opts["markers"] = True
    translator = cached(translators.create(engine, src_lang=src_lang, tgt_lang=tgt_lang, **opts),
                        cache_dir=None if cache else False)
    output = Path(output)
    lines: list[str] | None = None
    sentences: list[Sentence] | None = None
    kind = _classify(input, force_text)[0]
    if kind == "corpus" and not markers:
        texts = corpus_texts(input, src_lang, getattr(translator, "cache", None))
    else:
        lines, sentences = read_input(input, force_text)
    summary: dict[str, Any] = {}
    if markers:
        if sentences is None:
            raise ProjectionError("--markers needs a corpus input (CoNLL, JSONL, parquet or a corpus name) with entities")
        from projection.translate.markers import marked_sources

        texts = marked_sources(sentences, translator.marker_style, src_lang)
    elif lines is not None:
        texts = list(lines)
    out = translator.translate(texts)
    if markers:
        assert sentences is not None
        from projection.corpus import write_corpus
        from projection.translate.markers import MarkedTranslation, marker_stats, parse_marked
        from projection.translate.text import detokenize

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
