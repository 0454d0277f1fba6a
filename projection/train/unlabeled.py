"""Unlabeled target-language text: the tokens of a corpus, never its tags.

A reference is a corpus name (``conll2002-es:train``, ``masakhaner2-swa:train``: the
token column of the CoNLL file behind it) or a file:

* CoNLL: one token per line in the first column, sentences separated by blank lines
  (``-DOCSTART-`` lines skipped). Only the first field of a line is looked at; whatever
  follows it (gold tags, garbage, nothing) is never split off, parsed or kept;
* plain text: one tokenised sentence per line, tokens separated by spaces (blank lines
  skipped).

The format is chosen when not given (``fmt`` overrides it): CoNLL for the extensions
``.conll*``, ``.tsv``, ``.iob``, ``.bio`` and for named corpora; otherwise from the content:
a ``-DOCSTART-`` line, or blank lines between lines that have a tab or at most 4
space-separated fields (a token and its columns), make CoNLL; anything else is text. The returned :class:`~projection.records.Sentence` objects carry ``O`` tags (the
record needs some) and ``meta["unlabeled"] = True``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.corpora import CORPORA, is_corpus_name, resolve_corpus
from projection.corpus import read_lines
from projection.errors import InputError, ProjectionError
from projection.records import Sentence
from projection.store import content_key, file_sha256

FORMATS = ("conll", "text")
_SPACE = re.compile(r"[ \t]+")


def _first_field(line: str) -> str:
    """The token of a CoNLL line: everything before the first tab (or space). The rest is not read."""
    cut = len(line)
    for sep in ("\t", " "):
        k = line.find(sep)
        if k != -1:
            cut = min(cut, k)
    return line[:cut]


def guess_format(lines: Sequence[str]) -> str:
    """``conll`` when blank lines separate blocks of token lines, else ``text`` (see the module documentation)."""
    blank_inside, multi_word_lines, seen = False, 0, False
    for line in lines:
        if not line.strip():
            if seen:
                blank_inside = True
            continue
        seen = True
        if line.startswith("-DOCSTART-"):
            return "conll"
        if "\t" not in line and len(line.strip().split(" ")) > 4:  # a sentence, not a token and its columns
            multi_word_lines += 1
    if not seen:
        return "text"
    return "conll" if blank_inside and multi_word_lines == 0 else "text"


def read_unlabeled(ref: str | Path, *, fmt: str | None = None, encoding: str | None = None) -> list[Sentence]:
    """The sentences (tokens only) of a corpus name or a file; see the module documentation."""
    ref_s = str(ref)
    path = resolve_corpus(ref_s)
    if is_corpus_name(ref_s):
        spec = CORPORA[ref_s]
        if spec.token_col != 0:  # every registered corpus has its tokens first; keep the reader honest
            raise ProjectionError(f"{ref_s}: tokens are in column {spec.token_col}; unlabeled reading takes column 0")
        encoding = encoding or spec.encoding
        fmt = fmt or "conll"
    lines = read_lines(path, encoding or "utf-8")
    if fmt is None and (path.suffix.lower().startswith(".conll") or path.suffix.lower() in (".tsv", ".iob", ".bio")):
        fmt = "conll"
    fmt = fmt or guess_format(lines)
    if fmt not in FORMATS:
        raise ProjectionError(f"unlabeled text format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out: list[Sentence] = []

    def add(tokens: list[str], line: int) -> None:
        out.append(Sentence(f"u{len(out):08d}", tokens, ["O"] * len(tokens), {"line": line, "unlabeled": True}))

    if fmt == "text":
        for lineno, line in enumerate(lines, start=1):
            tokens = [t for t in _SPACE.split(line.strip()) if t]
            if tokens:
                add(tokens, lineno)
    else:
        tokens: list[str] = []
        first = 0
        for lineno, line in enumerate(lines, start=1):
            if not line.strip(" \t"):
                if tokens:
                    add(tokens, first)
                tokens = []
                continue
            if line.startswith("-DOCSTART-"):
                if tokens:
                    add(tokens, first)
                tokens = []
                continue
            if line[0] in " \t":
                raise InputError(path, lineno, "empty token (the line starts with whitespace)")
            if not tokens:
                first = lineno
            tokens.append(_first_field(line))
        if tokens:
            add(tokens, first)
    if not out:
        raise InputError(path, 1, "empty file: no sentences found")
    return out


def text_hash(sentences: Sequence[Sentence] | Sequence[Sequence[str]]) -> str:
    """A content hash of the token sequences (ids, tags and metadata play no part)."""
    return content_key([list(s.tokens) if isinstance(s, Sentence) else list(s) for s in sentences], length=24)


def describe_unlabeled(ref: str | Path, sentences: Sequence[Sentence], fmt: str | None = None) -> dict[str, Any]:
    """Name, file, file hash, token hash and size of an unlabeled corpus (for train.json)."""
    path = resolve_corpus(str(ref))
    return {"name": str(ref) if is_corpus_name(str(ref)) else None, "path": str(path),
            "sha256": file_sha256(path)[:16], "text_hash": text_hash(sentences), "sentences": len(sentences),
            "tokens": sum(len(s.tokens) for s in sentences), "format": fmt, "tags_read": False}
