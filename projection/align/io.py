"""Reading sentence pairs and writing alignments (Pharaoh format).

Pairs come in the two formats word aligners use (``src ||| tgt`` lines, or JSONL with
``src_words``/``tgt_words``); their readers are core I/O (:mod:`projection.parallel`, also
used for the pipeline's extra parallel text) and re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from projection.parallel import (PairList, is_jsonl, parse_joint_pairs, parse_jsonl_pairs, read_pairs,  # noqa: F401
                                 split_words)
from projection.records import Alignment
from projection.store import atomic_open

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
