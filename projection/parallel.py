"""Parallel text: sentence-pair files and the named extra parallel corpora.

Pairs come in the two formats word aligners use:

* ``src ||| tgt`` lines (fast_align / eflomal joint format), words separated by spaces or tabs;
* JSONL with ``src_words`` and ``tgt_words`` lists (the format of the INESC gold set).

The format is taken from the extension (``.jsonl``/``.json``), else sniffed from the first
non-blank line. Every malformed line stops reading with ``FILE:LINE: what is wrong``.
:func:`extra_parallel_pairs` gathers more parallel text for statistical aligners (the
pipeline's ``[align] extra_parallel``) from named corpora of the data directory or files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.corpora import CORPORA, data_dir, load_corpus
from projection.corpus import read_conll_blocks, read_lines
from projection.errors import InputError, ProjectionError, parse_json
from projection.store import file_sha256

logger = logging.getLogger(__name__)

PairList = list[tuple[list[str], list[str]]]


def is_jsonl(path: str | Path, lines: Sequence[str] | None = None) -> bool:
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".json"):
        return True
    for line in lines or ():
        if line.strip():
            return line.lstrip().startswith("{")
    return False


def _words(path: Path, lineno: int, obj: dict, key: str) -> list[str]:
    if key not in obj:
        raise InputError(path, lineno, f"missing key {key!r} (need src_words and tgt_words)")
    words = obj[key]
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise InputError(path, lineno, f"{key!r} must be a list of strings")
    return words


def parse_jsonl_pairs(path: Path, lines: Sequence[str]) -> tuple[PairList, list[dict], list[int]]:
    """Pairs, the raw objects and their 1-based line numbers (blank lines skipped)."""
    pairs, objs, where = [], [], []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        obj = parse_json(path, lineno, line)
        if not isinstance(obj, dict):
            raise InputError(path, lineno, "expected a JSON object with src_words and tgt_words")
        pairs.append((_words(path, lineno, obj, "src_words"), _words(path, lineno, obj, "tgt_words")))
        objs.append(obj)
        where.append(lineno)
    return pairs, objs, where


_SPACES = re.compile(r"[ \t]+")


def split_words(text: str) -> list[str]:
    """Words separated by spaces and tabs only: gold files count other Unicode spaces (U+3000, the
    ideographic space; U+00A0) as tokens, which ``str.split()`` would drop."""
    return [w for w in _SPACES.split(text) if w]


def parse_joint_pairs(path: Path, lines: Sequence[str]) -> PairList:
    pairs = []
    for lineno, line in enumerate(lines, 1):
        parts = line.split("|||")
        if len(parts) != 2:
            what = "no" if len(parts) == 1 else f"{len(parts) - 1}"
            raise InputError(path, lineno, f"expected 'source words ||| target words', found {what} '|||' separators")
        pairs.append((split_words(parts[0]), split_words(parts[1])))
    return pairs


def read_pairs(path: str | Path, *, encoding: str = "utf-8", lowercase: bool = False) -> PairList:
    """Sentence pairs from a ``src ||| tgt`` file or a JSONL file with ``src_words``/``tgt_words``."""
    path = Path(path)
    lines = read_lines(path, encoding)
    if is_jsonl(path, lines):
        pairs = parse_jsonl_pairs(path, lines)[0]
    else:
        pairs = parse_joint_pairs(path, lines)
    if lowercase:
        pairs = [([w.lower() for w in s], [w.lower() for w in t]) for s, t in pairs]
    return pairs



def extra_parallel_pairs(names: Sequence[str], lang: str) -> tuple[list[tuple[list[str], list[str]]], list[dict[str, Any]]]:
    """More parallel text for statistical aligners, by name or file.

    * ``deepl`` - CoNLL-2003 English with the DeepL translations published by
      Easy-Label-Projection (train, dev and test; ``en2{lang}``), matched block by block
      against the English original with all its ``-DOCSTART-`` lines, which are dropped;
    * ``europarl`` - the Europarl-NER sentences (en-es, en-de);
    * a file - ``src ||| tgt`` lines or JSONL with ``src_words``/``tgt_words``.

    Named sources that are absent from the data directory are skipped with a note.
    """
    pairs: list[tuple[list[str], list[str]]] = []
    info: list[dict[str, Any]] = []
    root = data_dir()
    for name in names:
        name = name.replace("{lang}", lang)
        if name == "deepl":
            added = 0
            for split in ("train", "dev", "test"):
                src = root / f"easy-label-projection-ner/original/en/en.conll.{split}.tsv"
                tgt = root / f"easy-label-projection-ner/automatic_projections/en2{lang}/DeepL.50000.awesome.{split}.tsv"
                if not (src.exists() and tgt.exists()):
                    continue
                sb, tb = [b.tokens for b in read_conll_blocks(src)], [b.tokens for b in read_conll_blocks(tgt)]
                if len(sb) != len(tb):
                    logger.warning(f"note: {tgt}: {len(tb)} blocks for {len(sb)} in {src}; skipped")
                    continue
                for s, t in zip(sb, tb):
                    if s != ["-DOCSTART-"]:
                        pairs.append((s, t))
                        added += 1
            if not added:
                logger.warning(f"note: extra parallel text 'deepl' (en2{lang}) not found under {root}: skipped")
            info.append({"name": "deepl", "pairs": added})
        elif name == "europarl":
            added = 0
            if f"europarl-ner-{lang}:test" in CORPORA:
                try:
                    en = load_corpus("europarl-ner-en:test")
                    tg = load_corpus(f"europarl-ner-{lang}:test")
                    pairs.extend((a.tokens, b.tokens) for a, b in zip(en, tg))
                    added = len(en)
                except ProjectionError:
                    pass
            if not added:
                logger.warning(f"note: extra parallel text 'europarl' (en-{lang}) not available: skipped")
            info.append({"name": "europarl", "pairs": added})
        else:
            path = Path(name.replace("{data}", str(root)))
            if not path.exists():
                raise ProjectionError(f"extra_parallel: {name!r} is neither 'deepl', 'europarl' nor an existing file")
            got = read_pairs(path)
            pairs.extend((list(s), list(t)) for s, t in got)
            info.append({"name": str(path), "pairs": len(got), "sha256": file_sha256(path)[:16]})
    return pairs, info
