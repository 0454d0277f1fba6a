"""Reading sentence pairs and writing alignments (Pharaoh format).

Pairs come in the two formats word aligners use:

* ``src ||| tgt`` lines (fast_align / eflomal joint format), words separated by spaces or tabs;
* JSONL with ``src_words`` and ``tgt_words`` lists (the format of the INESC gold set).

The format is taken from the extension (``.jsonl``/``.json``), else sniffed from the first
non-blank line. Every malformed line stops reading with ``FILE:LINE: what is wrong``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

from projection.corpus import read_lines
from projection.errors import InputError, parse_json
from projection.records import Alignment
from projection.store import atomic_open

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


def write_pharaoh(alignments: Iterable[Alignment], path: str | Path) -> int:
    """Write one ``i-j i-j ...`` line per alignment (atomically); returns the number of lines."""
    n = 0
    with atomic_open(path) as f:
        for a in alignments:
            f.write(a.to_pharaoh() + "\n")
            n += 1
    return n


def write_joint(pairs: Iterable[tuple[Sequence[str], Sequence[str]]], path: str | Path) -> None:
    """Write pairs as ``src ||| tgt`` lines (words must not contain whitespace)."""
    with atomic_open(path) as f:
        for src, tgt in pairs:
            f.write(" ".join(src) + " ||| " + " ".join(tgt) + "\n")
