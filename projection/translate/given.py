"""``given``: translations the user already has, read from a file (no MT at all).

Typical use: the DeepL translations of CoNLL-2003 published by Easy-Label-Projection
(``automatic_projections/en2es/DeepL.50000.awesome.train.tsv``), or any parallel corpus.
``path`` (alias ``model``, so ``--model FILE`` works on the command line) is one of:

* **lines** - plain text, one translation per line, line *i* translating input *i*
  (blank lines are translations of blank inputs; UTF-8, BOM and CRLF accepted);
* **conll** - a CoNLL file of *target* tokens (first column; other columns ignored), one
  block per sentence, read in block order. ``-DOCSTART-`` blocks are skipped, as are
  single-token blocks that are a mangled ``-DOCSTART-`` (DeepL turned 36 of them into
  ``-OCSTART-`` in the en2de files). For damage no pattern can recognise (en2nl train has
  one ``-DOCSTART-`` translated to ``-``), give ``source=`` the original source CoNLL file
  *with* its ``-DOCSTART-`` lines (e.g. ``original/en/en.conll.train.tsv``): target blocks
  are then matched to source blocks by position, and exactly the blocks facing a source
  ``-DOCSTART-`` are dropped. A CoNLL translation is returned as its tokens joined by single
  spaces, so ``text.split(" ")`` gives the file's tokens back (also in :attr:`tokens`).

**Words split at their combining marks.** A CoNLL translation whose tokeniser cut words at
every combining mark (the Yoruba file published with T-Projection: ``Amẹ ◌́ ríkà`` for
``Amẹ́ríkà``, 38,560 mark-only tokens) is repaired by ``marks``: ``rejoin`` (default) glues each
mark to its word and the piece after it back on where the file's statistics say it continues
the word (:func:`projection.textnorm.mark_groups`); ``attach`` glues only the marks; ``keep``
leaves the tokens as they are. The counts go to the translate stage's statistics.

**Hyphens inside words.** ``hyphens = "split"`` cuts a CoNLL translation's tokens at every hyphen
(``I-HOUSTON`` becomes ``I - HOUSTON``, ``1996-08-22`` becomes ``1996 - 08 - 22``), the tokenisation
of a test set that splits them all (MasakhaNER 2.0: no token of its four train splits has a hyphen
inside, while T-Projection's Zulu NLLB file has 7,350), so that a model is trained on the words it
will be tested on. ``keep`` (default) leaves the tokens as they are. The number of tokens split goes
to the translate stage's statistics (``hyphens_split``).

``format`` is ``auto`` (CoNLL for ``.conll``/``.tsv``/... or when the file looks like
``token tag`` blocks; lines otherwise), ``lines`` or ``conll``.

The translations are positional, so ``translate`` must get the whole input list at once;
the engine is therefore not cacheable (there is nothing to save anyway). For
back-translation give the file of translations into the source language.

**Files that are not line-parallel.** Real MT output drops or merges sentences (the NLLB
translations of CoNLL-2003 published with T-Projection have 13,881 to 14,031 sentences for
14,041). ``match`` says how translations are paired with the inputs:

* ``auto`` (default) - by position when the counts are equal, else by sentence matching;
* ``position`` - by position; different counts are an error naming the file and both counts;
* ``sentences`` - always by sentence matching.

Sentence matching is the monotone alignment of :mod:`projection.sentalign` (names, numbers
and punctuation copied by MT, and the length ratio; skips on either side, 2-1 merges and
1-2 splits). An input sentence without a translation of its own (skipped, or merged with
its neighbour into one target sentence) gets ``""`` and is listed in :attr:`untranslated`;
the pipeline drops it from the run with the reason ``untranslated``. Two target sentences
that together translate one input (a split) are joined. :attr:`match_info` has the counts
and the unmatched inputs for the run's manifest. A match too poor to trust (fewer than
``min_matched`` of the inputs matched, or fewer than ``min_distinct`` of the matched pairs
scoring above their neighbours; see :mod:`projection.sentalign`) is a
:class:`ProjectionError` naming the file.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from projection.corpus import conll_blocks, read_conll_blocks, read_lines
from projection.errors import ProjectionError
from projection.store import code_hash, file_sha256
from projection.textnorm import MARK_MODES, mark_groups, regroup
from projection.translate.text import clean_text

CONLL_SUFFIXES = {".conll", ".tsv", ".conll02", ".conll03", ".conllu", ".iob", ".iob1", ".iob2", ".bio", ".bioes",
                  ".testa", ".testb", ".train"}
_TAG = re.compile(r"^(O|[BIES]-\S+)$")
HYPHEN_MODES = ("keep", "split")
_HYPHEN = re.compile(r"(-)")
DOCSTART = "-DOCSTART-"


def split_hyphens(sentences: list[list[str]]) -> tuple[list[list[str]], int]:
    """Every token cut at its hyphens, the hyphens kept as tokens (``e-Afrika`` -> ``e - Afrika``);
    tokens of hyphens only (``-``, ``--``) stay whole. Returns the sentences and how many tokens were cut."""
    out: list[list[str]] = []
    n = 0
    for toks in sentences:
        new: list[str] = []
        for tok in toks:
            if "-" in tok and tok.strip("-"):
                new.extend(p for p in _HYPHEN.split(tok) if p)
                n += 1
            else:
                new.append(tok)
        out.append(new)
    return out, n


def _read_lines(path: Path, encoding: str) -> list[str]:
    """Lines of a text file: the project's one reader (BOM, CRLF, clear decoding errors)."""
    return read_lines(path, encoding)


def looks_like_conll(lines: list[str]) -> bool:
    """``token ... tag`` lines separated by blank lines, or a ``-DOCSTART-`` line."""
    sample = [ln for ln in lines[:2000] if ln.strip()]
    if not sample:
        return False
    if any(ln.startswith(DOCSTART) for ln in sample[:5]):
        return True
    fields = [ln.split() for ln in sample[:200]]
    tagged = sum(1 for f in fields if len(f) >= 2 and _TAG.match(f[-1]))
    has_blank = any(not ln.strip() for ln in lines[:2000])
    return has_blank and tagged >= 0.95 * len(fields)


def is_docstart(tokens: list[str]) -> bool:
    """A ``-DOCSTART-`` block, or a single token that an MT system mangled from one (``-OCSTART-``)."""
    if len(tokens) != 1:
        return False
    tok = tokens[0]
    return tok == DOCSTART or (len(tok) >= 7 and SequenceMatcher(None, tok.upper(), DOCSTART).ratio() >= 0.8)


class GivenTranslator:
    """Translations read from a file (see the module docstring)."""

    name = "given"
    cacheable = False

    def __init__(self, src_lang: str = "en", tgt_lang: str = "es", path: str | None = None, model: str | None = None,
                 format: str = "auto", encoding: str = "utf-8", source: str | None = None,
                 match: str = "auto", min_matched: float = 0.9, min_distinct: float = 0.8,
                 marker_style: str = "brackets", markers: bool = False, marks: str = "rejoin", hyphens: str = "keep",
                 **ignored: Any):
        unknown = set(ignored) - {"device", "beam_size", "max_length", "batch_tokens", "threads"}
        if unknown:
            raise ProjectionError(f"given: unknown option(s) {', '.join(sorted(unknown))}")
        file = path or model
        if not file:
            raise ProjectionError("the given engine needs path=FILE (on the command line: --model FILE)")
        if format not in ("auto", "lines", "conll"):
            raise ProjectionError(f"given: format must be auto, lines or conll, not {format!r}")
        if match not in ("auto", "position", "sentences"):
            raise ProjectionError(f"given: match must be auto, position or sentences, not {match!r}")
        if marks not in MARK_MODES:
            raise ProjectionError(f"given: marks must be one of {', '.join(MARK_MODES)}, not {marks!r}")
        if hyphens not in HYPHEN_MODES:
            raise ProjectionError(f"given: hyphens must be one of {', '.join(HYPHEN_MODES)}, not {hyphens!r}")
        self.src_lang, self.tgt_lang = src_lang, tgt_lang
        self.marks = marks
        self.hyphens = hyphens
        self.last_stats: dict[str, int] = {}
        self.match = match
        self.min_matched, self.min_distinct = float(min_matched), float(min_distinct)
        self.untranslated: list[int] = []
        self.match_info: dict[str, Any] | None = None
        self._file_tokens: list[list[str]] | None = None
        self.path = Path(file)
        self.format = format
        self.encoding = encoding
        self.source = Path(source) if source else None
        self.marker_style = marker_style
        self.tokens: list[list[str]] | None = None
        self._translations: list[str] | None = None

    def _load(self) -> list[str]:
        if self._translations is not None:
            return self._translations
        lines = _read_lines(self.path, self.encoding)
        fmt = self.format
        if fmt == "auto":
            fmt = "conll" if self.path.suffix.lower() in CONLL_SUFFIXES or looks_like_conll(lines) else "lines"
        self.resolved_format = fmt
        if fmt == "lines":
            self._translations = [clean_text(ln) for ln in lines]
            return self._translations
        blocks = [(b.line, b.tokens) for b in conll_blocks(lines, self.path)]
        if self.source is not None:
            src_blocks = [(b.line, b.tokens) for b in read_conll_blocks(self.source)]
            if len(src_blocks) != len(blocks):
                raise ProjectionError(
                    f"{self.path}: {len(blocks)} blocks, but the source file {self.source} has {len(src_blocks)}; "
                    "block-by-block matching needs the same number of blocks (-DOCSTART- lines included)"
                )
            kept = [b for b, (_, s) in zip(blocks, src_blocks) if not (len(s) == 1 and s[0] == DOCSTART)]
        else:
            kept = [b for b in blocks if not is_docstart(b[1])]
        tokens = [toks for _, toks in kept]
        groups, self.file_stats = mark_groups(tokens, self.marks)
        if self.file_stats["marks_attached"]:
            tokens = [regroup(toks, g) for toks, g in zip(tokens, groups)]
        if self.hyphens == "split":
            tokens, self.file_stats["hyphens_split"] = split_hyphens(tokens)
        self.tokens = self._file_tokens = tokens
        self.block_lines = [line for line, _ in kept]
        self._translations = [" ".join(toks) for toks in self.tokens]
        return self._translations

    def signature(self) -> dict[str, Any]:
        sig = {"engine": self.name, "file": self.path.name, "sha256": file_sha256(self.path)[:16], "format": self.format,
               "marks": self.marks, **({"hyphens": self.hyphens} if self.hyphens != "keep" else {}),
               "source": self.source.name if self.source else None,
               "code": code_hash(__name__, "projection.translate.text", "projection.textnorm")}
        if self.match != "position":  # the matcher's code decides the pairing when the counts differ
            import projection.sentalign

            sig.update(match=self.match, min_matched=self.min_matched, min_distinct=self.min_distinct,
                       matcher=file_sha256(projection.sentalign.__file__)[:16])
        return sig

    def _matched(self, texts: list[str], out: list[str]) -> list[str]:
        """Pair ``out`` (the file's sentences) with ``texts`` by sentence matching."""
        from projection.sentalign import match_sentences

        file_tokens = self._file_tokens
        try:
            m = match_sentences(texts, file_tokens if file_tokens is not None else out)
        except ProjectionError as e:
            raise ProjectionError(f"{self.path}: {e}") from None
        m.check(str(self.path), self.min_matched, self.min_distinct)
        result: list[str] = []
        tokens: list[list[str]] = []
        for i in range(len(texts)):
            tgt = m.target_of(i)
            if tgt is None:
                result.append("")
                tokens.append([])
            else:
                result.append(" ".join(out[j] for j in tgt if out[j]))
                if file_tokens is not None:
                    tokens.append([t for j in tgt for t in file_tokens[j]])
        self.untranslated = m.unmatched_source
        info = m.info()
        if file_tokens is not None and hasattr(self, "block_lines"):
            info["unused_target_lines"] = [self.block_lines[j] for j in info["unused_target"]]
        self.match_info = {"method": "sentences", **info, "params": m.params}
        self.tokens = tokens if file_tokens is not None else None
        return result

    def translate(self, texts: list[str]) -> list[str]:
        out = self._load()
        self.untranslated, self.match_info = [], None
        self.last_stats = {k: v for k, v in getattr(self, "file_stats", {}).items() if v}
        self.tokens = self._file_tokens
        if self.match == "sentences" or (self.match == "auto" and len(out) != len(texts)):
            return self._matched(list(texts), out)
        if len(out) != len(texts):
            what = "sentences (blocks)" if self.resolved_format == "conll" else "lines"
            hint = ""
            if self.resolved_format == "conll" and self.source is None and len(out) > len(texts):
                hint = (" (if some -DOCSTART- lines were damaged by translation, pass source=<the source CoNLL file "
                        "with its -DOCSTART- lines> to match blocks by position)")
            raise ProjectionError(
                f"{self.path}: {len(out)} translated {what} for {len(texts)} input sentences; "
                f"given translations must match the input one to one with match=position{hint}"
            )
        return list(out)
