"""Alignment quality against gold: precision, recall, F1 and alignment error rate (AER).

Gold alignments distinguish *sure* links S and *possible* links P (S is a subset of P;
Och & Ney 2003). For predicted links A, summed over the corpus:

* precision = |A & P| / |A|
* recall    = |A & S| / |S|
* AER       = 1 - (|A & S| + |A & P|) / (|A| + |S|)

With no possible links (P = S), AER = 1 - F1. An empty denominator gives 0.0 for that
score (AER is 0.0 only when both A and S are empty).

Gold readers:

* :func:`read_pharaoh_gold` - one line per pair, ``i-j`` sure and ``ipj`` (or ``i?j``)
  possible links, 0-indexed by default (``one_indexed=True`` for 1-based files such as
  the original RWTH/Lambert sets); an optional leading ``id<TAB>`` is ignored (SimAlign's
  sample format).
* :func:`read_jsonl_gold` - ``{"src_words": [...], "tgt_words": [...], "alignment":
  [[i, j], ...]}`` per line (the INESC en-es set of binaryalign: lower-cased words,
  0-indexed, sure/possible not distinguished, so every link is treated as sure); an
  optional ``"possible"`` list adds possible links.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from projection.align.io import is_jsonl, parse_jsonl_pairs
from projection.corpus import read_lines
from projection.errors import InputError, ProjectionError
from projection.records import Alignment


@dataclass(frozen=True, slots=True)
class GoldAlignment:
    """Sure links and possible links of one sentence pair (``possible`` includes ``sure``)."""

    sure: frozenset[tuple[int, int]]
    possible: frozenset[tuple[int, int]]

    @classmethod
    def of(cls, sure: Iterable[tuple[int, int]], possible: Iterable[tuple[int, int]] = ()) -> "GoldAlignment":
        s = frozenset((int(i), int(j)) for i, j in sure)
        return cls(s, s | frozenset((int(i), int(j)) for i, j in possible))

    @classmethod
    def from_alignment(cls, alignment: Alignment) -> "GoldAlignment":
        return cls(alignment.links, alignment.links)


@dataclass(frozen=True, slots=True)
class GoldPair:
    """A gold-aligned sentence pair (from a JSONL gold file)."""

    src_words: list[str]
    tgt_words: list[str]
    gold: GoldAlignment


@dataclass(frozen=True, slots=True)
class AlignmentScores:
    precision: float
    recall: float
    f1: float
    aer: float
    pairs: int
    predicted: int
    sure: int
    possible: int
    hits_sure: int
    hits_possible: int

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "aer": self.aer,
                "pairs": self.pairs, "predicted": self.predicted, "sure": self.sure, "possible": self.possible,
                "hits_sure": self.hits_sure, "hits_possible": self.hits_possible}


def _links(a: Alignment | Iterable[tuple[int, int]]) -> frozenset[tuple[int, int]]:
    return a.links if isinstance(a, Alignment) else frozenset((int(i), int(j)) for i, j in a)


def _gold(g: GoldAlignment | Alignment | Iterable[tuple[int, int]]) -> GoldAlignment:
    if isinstance(g, GoldAlignment):
        return g
    if isinstance(g, Alignment):
        return GoldAlignment.from_alignment(g)
    return GoldAlignment.of(g)


def score_alignments(predicted: Sequence[Alignment | Iterable[tuple[int, int]]],
                     gold: Sequence[GoldAlignment | Alignment | Iterable[tuple[int, int]]]) -> AlignmentScores:
    """Corpus-level (micro-averaged) precision, recall, F1 and AER; gold without a
    possible/sure distinction counts every link as sure."""
    if len(predicted) != len(gold):
        raise ProjectionError(f"{len(predicted)} predicted alignments but {len(gold)} gold alignments")
    n_a = n_s = n_p = hit_s = hit_p = 0
    for a, g in zip(predicted, gold):
        links, gg = _links(a), _gold(g)
        n_a += len(links)
        n_s += len(gg.sure)
        n_p += len(gg.possible)
        hit_s += len(links & gg.sure)
        hit_p += len(links & gg.possible)
    precision = hit_p / n_a if n_a else 0.0
    recall = hit_s / n_s if n_s else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    aer = 1.0 - (hit_s + hit_p) / (n_a + n_s) if n_a + n_s else 0.0
    return AlignmentScores(precision, recall, f1, aer, len(gold), n_a, n_s, n_p, hit_s, hit_p)


def _parse_link(path: Path, lineno: int, item: str, one_indexed: bool) -> tuple[int, int, bool]:
    for sep, sure in (("-", True), ("p", False), ("?", False)):
        if sep in item:
            a, _, b = item.partition(sep)
            break
    else:
        raise InputError(path, lineno, f"bad link {item!r}: expected i-j (sure) or ipj (possible)")
    try:
        i, j = int(a), int(b)
    except ValueError:
        raise InputError(path, lineno, f"bad link {item!r}: expected i-j (sure) or ipj (possible)") from None
    if one_indexed:
        i, j = i - 1, j - 1
    if i < 0 or j < 0:
        base = "1-indexed" if one_indexed else "0-indexed"
        raise InputError(path, lineno, f"bad link {item!r}: negative index for a {base} file"
                         + ("" if one_indexed else " (is the file 1-indexed?)"))
    return i, j, sure


def parse_pharaoh_line(path: Path, lineno: int, line: str, one_indexed: bool = False) -> GoldAlignment:
    if "\t" in line:  # "id<TAB>links" (SimAlign's sample gold)
        line = line.rsplit("\t", 1)[1]
    sure, possible = [], []
    for item in line.split():
        i, j, is_sure = _parse_link(path, lineno, item, one_indexed)
        (sure if is_sure else possible).append((i, j))
    return GoldAlignment.of(sure, possible)


def read_pharaoh_gold(path: str | Path, *, one_indexed: bool = False, encoding: str = "utf-8") -> list[GoldAlignment]:
    """One gold alignment per line (``i-j`` sure, ``ipj``/``i?j`` possible)."""
    path = Path(path)
    return [parse_pharaoh_line(path, n, line, one_indexed) for n, line in enumerate(read_lines(path, encoding), 1)]


def read_pharaoh(path: str | Path, *, one_indexed: bool = False, encoding: str = "utf-8") -> list[Alignment]:
    """Predicted alignments, one Pharaoh line per pair (every link counts, sure or possible)."""
    return [Alignment(g.possible) for g in read_pharaoh_gold(path, one_indexed=one_indexed, encoding=encoding)]


def _jsonl_links(path: Path, lineno: int, obj: dict, key: str, n_src: int, n_tgt: int) -> list[tuple[int, int]]:
    raw = obj.get(key, [])
    if not isinstance(raw, list):
        raise InputError(path, lineno, f"{key!r} must be a list of [i, j] pairs")
    out = []
    for item in raw:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in item)):
            raise InputError(path, lineno, f"{key!r}: bad link {item!r}, expected [i, j] with integer indices")
        i, j = item
        if not (0 <= i < n_src and 0 <= j < n_tgt):
            raise InputError(path, lineno, f"{key!r}: link {i}-{j} out of range for {n_src} source and {n_tgt} target words")
        out.append((i, j))
    return out


def read_jsonl_gold(path: str | Path, *, encoding: str = "utf-8") -> list[GoldPair]:
    """Gold pairs from JSONL (``src_words``, ``tgt_words``, ``alignment``, optional ``possible``).

    The INESC en-es file has no sure/possible distinction: all its links are read as sure.
    """
    path = Path(path)
    lines = read_lines(path, encoding)
    pairs, objs, where = parse_jsonl_pairs(path, lines)
    out = []
    for (src, tgt), obj, lineno in zip(pairs, objs, where):
        if "alignment" not in obj:
            raise InputError(path, lineno, "missing key 'alignment'")
        sure = _jsonl_links(path, lineno, obj, "alignment", len(src), len(tgt))
        possible = _jsonl_links(path, lineno, obj, "possible", len(src), len(tgt))
        out.append(GoldPair(src, tgt, GoldAlignment.of(sure, possible)))
    return out


def read_gold(path: str | Path, *, one_indexed: bool = False, encoding: str = "utf-8") -> list[GoldAlignment]:
    """Gold alignments from JSONL (by extension or content) or Pharaoh lines."""
    path = Path(path)
    if is_jsonl(path, read_lines(path, encoding)[:5]):
        if one_indexed:
            raise ProjectionError(f"{path}: JSONL gold is 0-indexed; --one-indexed applies to Pharaoh files only")
        return [p.gold for p in read_jsonl_gold(path, encoding=encoding)]
    return read_pharaoh_gold(path, one_indexed=one_indexed, encoding=encoding)


def looks_one_indexed(gold: Sequence[GoldAlignment], min_pairs: int = 10) -> bool:
    """Whether 0-based gold is probably 1-based: among at least ``min_pairs`` aligned pairs, no link
    uses source word 0 and none uses target word 0 (a first word is almost never left unaligned in
    every sentence, while a 1-based file can never use index 0)."""
    aligned = [g for g in gold if g.possible]
    if len(aligned) < min_pairs:
        return False
    return not any(i == 0 for g in aligned for i, _ in g.possible) and not any(j == 0 for g in aligned for _, j in g.possible)


def _check_ranges(path: str | Path, links: Sequence[frozenset[tuple[int, int]]], lengths: Sequence[tuple[int, int]],
                  hint: str = "") -> None:
    for k, (ls, (n, m)) in enumerate(zip(links, lengths), start=1):
        bad = sorted((i, j) for i, j in ls if not (0 <= i < n and 0 <= j < m))
        if bad:
            i, j = bad[0]
            raise InputError(path, k, f"link {i}-{j} is out of range for a pair of {n} source and {m} target words{hint}")


def evaluate_files(predicted: str | Path, gold: str | Path, *, one_indexed: bool | None = None,
                   pairs: str | Path | None = None) -> AlignmentScores:
    """Score a Pharaoh prediction file (0-indexed) against a gold file (Pharaoh or JSONL).

    ``one_indexed`` None: a Pharaoh gold file is read as 0-based, and one that looks 1-based
    (:func:`looks_one_indexed`, or an index equal to a sentence's length) is an error asking for
    ``one_indexed`` True or False. Links are checked against the sentence lengths, which come from
    JSONL gold or from ``pairs`` (the sentence pairs, ``src ||| tgt`` or JSONL).
    """
    from projection.align.io import read_pairs

    pred = read_pharaoh(predicted)
    gold_path = Path(gold)
    lengths: list[tuple[int, int]] | None = None
    if is_jsonl(gold_path, read_lines(gold_path)[:5]):
        if one_indexed:
            raise ProjectionError(f"{gold}: JSONL gold is 0-indexed; --one-indexed applies to Pharaoh files only")
        gold_pairs = read_jsonl_gold(gold_path)
        g = [p.gold for p in gold_pairs]
        lengths = [(len(p.src_words), len(p.tgt_words)) for p in gold_pairs]
    else:
        g = read_pharaoh_gold(gold_path, one_indexed=bool(one_indexed))
    if pairs is not None:
        sent = read_pairs(pairs)
        if len(sent) != len(g):
            raise ProjectionError(f"{pairs} has {len(sent)} sentence pairs but {gold} has {len(g)} gold pairs")
        lengths = [(len(a), len(b)) for a, b in sent]
    if len(pred) != len(g):
        raise ProjectionError(f"{predicted} has {len(pred)} alignments but {gold} has {len(g)} gold pairs")
    if one_indexed is None and not lengths and looks_one_indexed(g):
        raise ProjectionError(
            f"{gold}: no link uses word 0 in any of its {sum(1 for x in g if x.possible):,} aligned pairs: the file "
            "looks 1-indexed (as awesome-align's gold files are); pass --one-indexed, or --zero-indexed if it is 0-based")
    if lengths is not None:
        hint = " (is the file 1-indexed? pass --one-indexed)" if one_indexed is None else ""
        _check_ranges(gold, [x.possible for x in g], lengths, hint)
        _check_ranges(predicted, [a.links for a in pred], lengths)
    return score_alignments(pred, g)


def load_gold_pairs(paths: Sequence[str | Path]) -> list[GoldPair]:
    """Concatenate JSONL gold files (e.g. the INESC train and valid splits)."""
    out: list[GoldPair] = []
    for p in paths:
        out.extend(read_jsonl_gold(p))
    return out


__all__ = ["GoldAlignment", "GoldPair", "AlignmentScores", "score_alignments", "read_pharaoh_gold", "read_pharaoh",
           "read_jsonl_gold", "read_gold", "evaluate_files", "load_gold_pairs", "parse_pharaoh_line", "looks_one_indexed"]
