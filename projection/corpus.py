"""Reading and writing NER corpora: CoNLL (N columns), JSONL, parquet, HF datasets.

Readers validate strictly and fail with :class:`~projection.errors.InputError`
(``FILE:LINE: what is wrong``) instead of tracebacks or silent loss. A UTF-8 BOM, CRLF
line ends and a missing final newline are accepted. Tags are read leniently (IOB1 and
IOB2 parse the same way, see :mod:`projection.tags`) and always returned as IOB2.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projection.errors import InputError, ProjectionError, parse_json, shorten
from projection.records import Sentence
from projection.store import atomic_open, atomic_path
from projection.tags import SCHEMES, parse_tag, spans_to_tags, tags_to_spans

_SPACES = re.compile(r" +")


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """A whole text file, decoded, BOM removed; missing files and undecodable bytes as one-line errors."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectionError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ProjectionError(f"{path}: is a directory, expected a corpus file") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        hint = ""
        if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig"):
            hint = "; if this is a latin-1 file (ISO-8859-1, as CoNLL-2002 Spanish is), pass --encoding latin-1"
        raise InputError(path, line, f"not valid {encoding}: byte 0x{raw[e.start]:02x} cannot be decoded{hint}") from None
    except LookupError:
        raise ProjectionError(f"unknown encoding {encoding!r}") from None
    return text.removeprefix("\ufeff")


def split_lines(text: str) -> list[str]:
    """Lines ended by ``\n``, ``\r\n`` or a lone ``\r`` (old Mac files), the last one possibly unended.

    ``str.splitlines`` would also break inside a sentence at U+2028, U+0085 and the like.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_lines(path: str | Path, encoding: str = "utf-8") -> list[str]:
    """The lines of a text file (see :func:`read_text` and :func:`split_lines`)."""
    return split_lines(read_text(path, encoding))


def _check_tag(path: Path, lineno: int | None, tag: str, labels: frozenset[str] | None, where: str = "") -> None:
    try:
        _, label = parse_tag(tag)
    except ValueError:
        raise InputError(path, lineno, f"{where}tag {shorten(tag)} is not O, B-LABEL or I-LABEL") from None
    if labels is not None and label is not None and label not in labels:
        raise InputError(path, lineno, f"{where}label {shorten(label)} is not in the declared label set "
                                       f"{{{', '.join(sorted(labels))}}}")


DOCSTART = "-DOCSTART-"


@dataclass
class ConllBlock:
    """One blank-line-separated block of a CoNLL file: ``rows`` are (line number, fields) of its
    lines; a ``-DOCSTART-`` line is a block of its own (``docstart``), blank line or not."""

    line: int
    rows: list[tuple[int, list[str]]]
    docstart: bool = False

    @property
    def tokens(self) -> list[str]:
        """The first column."""
        return [fields[0] for _, fields in self.rows]


def conll_blocks(lines: Sequence[str], path: str | Path) -> list[ConllBlock]:
    """The project's one CoNLL block reader: every block of ``lines`` (of the file ``path``).

    Fields are separated by tabs when the line has one, else by spaces; a line that starts
    with whitespace (an empty token) is an :class:`~projection.errors.InputError` naming the
    file and line. Column counts and tags are the caller's to check (:func:`read_conll`).
    """
    path = Path(path)
    blocks: list[ConllBlock] = []
    cur: list[tuple[int, list[str]]] = []

    def flush() -> None:
        nonlocal cur
        if cur:
            blocks.append(ConllBlock(cur[0][0], cur))
            cur = []

    for lineno, line in enumerate(lines, start=1):
        if not line.strip(" \t"):
            flush()
            continue
        if line[0] in " \t":
            raise InputError(path, lineno, "empty token (the line starts with whitespace)")
        fields = line.split("\t") if "\t" in line else _SPACES.split(line.rstrip(" "))
        if fields[0].strip(" ") == DOCSTART:
            flush()
            blocks.append(ConllBlock(lineno, [(lineno, fields)], docstart=True))
            continue
        cur.append((lineno, fields))
    flush()
    return blocks


def read_conll_blocks(path: str | Path, encoding: str = "utf-8") -> list[ConllBlock]:
    """:func:`conll_blocks` of a file (read with :func:`read_lines`)."""
    return conll_blocks(read_lines(path, encoding), path)


def read_conll(
    path: str | Path,
    *,
    token_col: int = 0,
    tag_col: int = -1,
    encoding: str = "utf-8",
    labels: Iterable[str] | None = None,
    id_prefix: str = "",
) -> list[Sentence]:
    """Read a CoNLL file: one token per line, columns separated by tabs or spaces.

    ``-DOCSTART-`` lines are skipped (the document index goes to ``meta["doc"]``);
    ``meta["line"]`` is the 1-based line of the sentence's first token.
    """
    path = Path(path)
    label_set = frozenset(labels) if labels is not None else None
    sentences: list[Sentence] = []
    ncols = 0
    ncols_line = 0
    doc = 0
    for block in read_conll_blocks(path, encoding):
        if block.docstart:
            doc += 1
            continue
        tokens: list[str] = []
        tags: list[str] = []
        for lineno, fields in block.rows:
            if ncols == 0:
                ncols, ncols_line = len(fields), lineno
                for col, what in ((token_col, "token"), (tag_col, "tag")):
                    if not -ncols <= col < ncols:
                        raise InputError(path, lineno, f"{ncols} columns, but the {what} column is {col}")
            elif len(fields) != ncols:
                raise InputError(path, lineno, f"expected {ncols} columns (as on line {ncols_line}), found {len(fields)}")
            token, tag = fields[token_col].strip(" "), fields[tag_col].strip(" ")
            if not token:
                raise InputError(path, lineno, "empty token")
            _check_tag(path, lineno, tag, label_set)
            tokens.append(token)
            tags.append(tag)
        sid = f"{id_prefix}{len(sentences):08d}"
        sentences.append(Sentence(sid, tokens, spans_to_tags(tags_to_spans(tags), len(tags)), {"line": block.line, "doc": doc}))
    if not sentences:
        raise InputError(path, 1, "empty file: no sentences found")
    return sentences


def write_conll(sentences: Iterable[Sentence], path: str | Path, *, scheme: str = "iob2", sep: str = "\t",
                extra: Sequence[Sequence[Sequence[str]]] | None = None) -> None:
    """Write ``token<sep>tag`` lines (plus optional extra columns per token), atomically.

    A token CoNLL cannot hold (with a tab, a line break, or the separator) is a :class:`ProjectionError`
    naming the sentence, before anything is written."""
    check_scheme(scheme)
    sentences = list(sentences)
    for s in sentences:
        for i, tok in enumerate(s.tokens):
            if _BREAKS.search(tok) or sep in tok:
                raise ProjectionError(f"{path}: sentence {s.id}, token {i + 1} ({shorten(tok)}) contains a tab or a "
                                      "line break, which CoNLL cannot hold; write jsonl or parquet, or fix the token")
    with atomic_open(path) as f:
        for k, s in enumerate(sentences):
            tags = s.tags if scheme in ("iob2", "bio") else spans_to_tags(s.spans, len(s.tokens), scheme)
            for i, (tok, tag) in enumerate(zip(s.tokens, tags)):
                cols = [tok, tag]
                if extra is not None:
                    cols.extend(col[k][i] for col in extra)
                f.write(sep.join(cols) + "\n")
            f.write("\n")


_BREAKS = re.compile(r"[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def check_scheme(scheme: str) -> str:
    """``scheme`` if it is a tag scheme (:data:`projection.tags.SCHEMES`), else a :class:`ProjectionError`."""
    if scheme not in SCHEMES:
        raise ProjectionError(f"unknown tag scheme {shorten(scheme)}; choose one of: {', '.join(SCHEMES)}")
    return scheme


def _sentence_from_obj(path: Path, where: int | None, index: int, obj: Any, labels: frozenset[str] | None,
                       row_word: str) -> Sentence:
    if not isinstance(obj, dict):
        raise InputError(path, where, f"{row_word}: expected a JSON object with 'tokens' and 'tags'")
    for key in ("tokens", "tags"):
        if not isinstance(obj.get(key), list):
            raise InputError(path, where, f"{row_word}: missing list field {key!r}")
    tokens, tags = obj["tokens"], obj["tags"]
    if len(tokens) != len(tags):
        raise InputError(path, where, f"{row_word}: {len(tokens)} tokens but {len(tags)} tags")
    if not tokens:
        raise InputError(path, where, f"{row_word}: empty sentence")
    for k, tok in enumerate(tokens):
        if not isinstance(tok, str):
            raise InputError(path, where, f"{row_word}: token at position {k} is {shorten(tok)}, not a string")
        if not tok.strip():
            raise InputError(path, where, f"{row_word}: empty token at position {k}")
    for tag in tags:
        _check_tag(path, where, str(tag), labels, f"{row_word}: ")
    meta = obj.get("meta") or {}
    if isinstance(meta, str):
        try:
            meta = parse_json(None, None, meta) if meta else {}
        except InputError as e:
            raise InputError(path, where, f"{row_word}: meta: {e.message}") from None
    if not isinstance(meta, dict):
        raise InputError(path, where, f"{row_word}: meta must be a JSON object, not {shorten(meta)}")
    sid = str(obj.get("id", f"{index:08d}"))
    return Sentence(sid, [str(t) for t in tokens], spans_to_tags(tags_to_spans(tags), len(tags)), dict(meta))


def read_jsonl(path: str | Path, *, encoding: str = "utf-8", labels: Iterable[str] | None = None) -> list[Sentence]:
    path = Path(path)
    label_set = frozenset(labels) if labels is not None else None
    out = []
    for lineno, line in enumerate(read_lines(path, encoding), start=1):
        if not line.strip():
            continue
        obj = parse_json(path, lineno, line)
        out.append(_sentence_from_obj(path, lineno, len(out), obj, label_set, "record"))
    if not out:
        raise InputError(path, 1, "empty file: no sentences found")
    return out


def write_jsonl(records: Iterable[Any], path: str | Path) -> None:
    """Write records (anything with ``to_dict`` or plain dicts) as JSON lines, atomically."""
    with atomic_open(path) as f:
        for r in records:
            f.write(json.dumps(r.to_dict() if hasattr(r, "to_dict") else r, ensure_ascii=False) + "\n")


def read_parquet(path: str | Path, *, labels: Iterable[str] | None = None) -> list[Sentence]:
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise ProjectionError(f"{path}: no such file")
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise InputError(path, None, f"not a readable parquet file ({e})") from None
    label_set = frozenset(labels) if labels is not None else None
    out = [_sentence_from_obj(path, None, k, row, label_set, f"row {k + 1}") for k, row in enumerate(rows)]
    if not out:
        raise InputError(path, None, "empty file: no sentences found")
    return out


def write_parquet(sentences: Iterable[Sentence], path: str | Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sentences = list(sentences)
    table = pa.table(
        {
            "id": [s.id for s in sentences],
            "tokens": [s.tokens for s in sentences],
            "tags": [s.tags for s in sentences],
            "meta": [json.dumps(s.meta, ensure_ascii=False, sort_keys=True) for s in sentences],
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def label_list(sentences: Iterable[Sentence]) -> list[str]:
    """The IOB2 tag list of a corpus: ``O`` then ``B-X``, ``I-X`` for each label, sorted."""
    labels = sorted({sp.label for s in sentences for sp in s.spans})
    return ["O"] + [f"{p}-{lab}" for lab in labels for p in ("B", "I")]


def to_hf_dataset(sentences: Sequence[Sentence], tag_names: Sequence[str] | None = None):
    """A Hugging Face ``datasets.Dataset`` with ``id``, ``tokens`` and ``ner_tags`` (ClassLabel)."""
    import datasets

    names = list(tag_names) if tag_names is not None else label_list(sentences)
    index = {t: i for i, t in enumerate(names)}
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "id": [s.id for s in sentences],
            "tokens": [s.tokens for s in sentences],
            "ner_tags": [[index[t] for t in s.tags] for s in sentences],
        },
        features=features,
    )


FORMATS = ("conll", "jsonl", "parquet")


def guess_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "conll"


def read_corpus(path: str | Path, *, fmt: str | None = None, encoding: str = "utf-8",
                labels: Iterable[str] | None = None, token_col: int = 0, tag_col: int = -1) -> list[Sentence]:
    """Read a corpus file in any supported format (guessed from the extension)."""
    fmt = fmt or guess_format(path)
    if fmt == "jsonl":
        return read_jsonl(path, encoding=encoding, labels=labels)
    if fmt == "parquet":
        return read_parquet(path, labels=labels)
    if fmt == "conll":
        return read_conll(path, token_col=token_col, tag_col=tag_col, encoding=encoding, labels=labels)
    raise ProjectionError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write_corpus(sentences: Iterable[Sentence], path: str | Path, *, fmt: str | None = None, scheme: str = "iob2") -> None:
    check_scheme(scheme)
    fmt = fmt or guess_format(path)
    if fmt == "jsonl":
        write_jsonl(sentences, path)
    elif fmt == "parquet":
        write_parquet(sentences, path)
    elif fmt == "conll":
        write_conll(sentences, path, scheme=scheme)
    else:
        raise ProjectionError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def corpus_stats(sentences: Sequence[Sentence]) -> dict[str, Any]:
    """Counts: sentences, tokens, entities and entities per label."""
    per_label: Counter[str] = Counter()
    for s in sentences:
        per_label.update(sp.label for sp in s.spans)
    return {
        "sentences": len(sentences),
        "tokens": sum(len(s.tokens) for s in sentences),
        "entities": sum(per_label.values()),
        "per_label": dict(sorted(per_label.items())),
    }
