"""Symmetrisation of two directional word alignments, written once for every aligner.

Directional aligners (IBM models, HMM, eflomal, fast_align) produce one alignment per
direction, each with a functional constraint (every target word has at most one source
word, or the reverse). The heuristics below combine them (Och & Ney 2003; Koehn et al.
2003; the pseudocode of Koehn, *Statistical Machine Translation*, 2010, sec. 4.5.3):

* ``intersection`` - high precision, one-to-one links only;
* ``union`` - high recall;
* ``grow-diag`` - start from the intersection and repeatedly add union links that are
  neighbours (including diagonal ones) of existing links and cover a still-unaligned word;
* ``grow-diag-final`` - then add remaining directional links covering a word that is
  still unaligned (on either side);
* ``grow-diag-final-and`` - the same, but only links whose words are both unaligned
  (Moses' default);
* ``forward`` / ``reverse`` - one direction unchanged.

Both alignments are given in source-target orientation: ``forward`` links (i, j) and
``backward`` links (i, j) with i a source index. Use ``backward_inverted=True`` when the
backward alignment is in target-source orientation (j, i), as a reverse aligner run on
swapped inputs produces it.

The grow step follows the textbook exactly: a row-major scan over the points of the
current alignment (points added during a scan are visited in the same scan when they
come later in row-major order), repeated until nothing is added; neighbours are tried in
the order left, up, right, down, then the four diagonals.
"""

from __future__ import annotations

import heapq

from projection.errors import ProjectionError
from projection.records import Alignment

METHODS = ("intersection", "union", "grow-diag", "grow-diag-final", "grow-diag-final-and", "forward", "reverse")
_ALIASES = {"gdfa": "grow-diag-final-and", "gdf": "grow-diag-final", "gd": "grow-diag", "inter": "intersection",
            "srctotgt": "forward", "tgttosrc": "reverse"}
# Koehn (2010): neighbouring = ((-1,0),(0,-1),(1,0),(0,1),(-1,-1),(-1,1),(1,-1),(1,1))
_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def canonical_method(method: str) -> str:
    m = _ALIASES.get(method, method)
    if m not in METHODS:
        raise ProjectionError(f"unknown symmetrization {method!r}; choose one of: {', '.join(METHODS)}")
    return m


def _grow_diag(alignment: set[tuple[int, int]], union: frozenset[tuple[int, int]]) -> None:
    src_aligned = {i for i, _ in alignment}
    tgt_aligned = {j for _, j in alignment}
    added = True
    while added:
        added = False
        heap = sorted(alignment)  # a sorted list is a valid heap
        seen: set[tuple[int, int]] = set()
        while heap:
            point = heapq.heappop(heap)
            if point in seen:
                continue
            seen.add(point)
            i, j = point
            for di, dj in _NEIGHBOURS:
                ni, nj = i + di, j + dj
                if (ni, nj) in union and (ni, nj) not in alignment and (ni not in src_aligned or nj not in tgt_aligned):
                    alignment.add((ni, nj))
                    src_aligned.add(ni)
                    tgt_aligned.add(nj)
                    added = True
                    if (ni, nj) > point:  # still ahead in this row-major scan
                        heapq.heappush(heap, (ni, nj))


def _final(alignment: set[tuple[int, int]], directional: frozenset[tuple[int, int]], both_unaligned: bool) -> None:
    src_aligned = {i for i, _ in alignment}
    tgt_aligned = {j for _, j in alignment}
    for i, j in sorted(directional):
        if (i, j) in alignment:
            continue
        free_i, free_j = i not in src_aligned, j not in tgt_aligned
        if (free_i and free_j) if both_unaligned else (free_i or free_j):
            alignment.add((i, j))
            src_aligned.add(i)
            tgt_aligned.add(j)


def symmetrize(forward: Alignment, backward: Alignment, method: str = "grow-diag-final-and", *,
               backward_inverted: bool = False) -> Alignment:
    """Combine a forward and a backward alignment of one sentence pair with ``method``."""
    method = canonical_method(method)
    fwd = forward.links
    bwd = backward.inverse().links if backward_inverted else backward.links
    if method == "forward":
        return Alignment(fwd)
    if method == "reverse":
        return Alignment(bwd)
    if method == "intersection":
        return Alignment(fwd & bwd)
    union = fwd | bwd
    if method == "union":
        return Alignment(union)
    alignment = set(fwd & bwd)
    _grow_diag(alignment, union)
    if method in ("grow-diag-final", "grow-diag-final-and"):
        both = method == "grow-diag-final-and"
        _final(alignment, fwd, both)
        _final(alignment, bwd, both)
    return Alignment(frozenset(alignment))


def symmetrize_all(forward: list[Alignment], backward: list[Alignment], method: str = "grow-diag-final-and", *,
                   backward_inverted: bool = False) -> list[Alignment]:
    """:func:`symmetrize` over parallel lists of alignments."""
    if len(forward) != len(backward):
        raise ProjectionError(f"symmetrize: {len(forward)} forward but {len(backward)} backward alignments")
    return [symmetrize(f, b, method, backward_inverted=backward_inverted) for f, b in zip(forward, backward)]
