"""Symmetrisation heuristics: hand cases and a literal transcription of Koehn's pseudocode."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from projection.align.symmetrize import METHODS, symmetrize
from projection.records import Alignment

A = Alignment.of

# A hand case where every heuristic gives a different answer:
#   forward  {0-0, 1-1, 2-1, 3-3, 4-4}; backward {0-0, 3-0, 2-0}
#   intersection {0-0}
#   grow-diag: 1-1 (diagonal of 0-0, both words free), 2-1 (below 1-1, source 2 free),
#              3-0 (diagonal of 2-1, source 3 free); 2-0 never (both its words aligned by then)
#   final-and: 4-4 (both free); 3-3 only for grow-diag-final (source 3 already aligned, target 3 free)
FWD = A([(0, 0), (1, 1), (2, 1), (3, 3), (4, 4)])
BWD = A([(0, 0), (3, 0), (2, 0)])
GD = {(0, 0), (1, 1), (2, 1), (3, 0)}
EXPECTED = {
    "intersection": {(0, 0)},
    "grow-diag": GD,
    "grow-diag-final-and": GD | {(4, 4)},
    "grow-diag-final": GD | {(3, 3), (4, 4)},
    "union": GD | {(3, 3), (4, 4), (2, 0)},
    "forward": set(FWD.links),
    "reverse": set(BWD.links),
}


def test_hand_case_all_methods():
    for method, expected in EXPECTED.items():
        assert set(symmetrize(FWD, BWD, method).links) == expected, method
    assert symmetrize(FWD, BWD.inverse(), "grow-diag-final-and", backward_inverted=True) == symmetrize(FWD, BWD, "gdfa")


def test_one_to_one_agreement_is_kept():
    a = A([(0, 1), (1, 0), (2, 2)])
    for method in METHODS:
        assert symmetrize(a, a, method) == a


def _textbook(e2f: set, f2e: set, final: bool, final_and: bool) -> set:
    """Koehn (2010), Figure 4.13, transcribed literally (full row-major scans)."""
    union = e2f | f2e
    alignment = set(e2f & f2e)
    srclen = max([i for i, _ in union], default=-1) + 1
    tgtlen = max([j for _, j in union], default=-1) + 1
    neighbouring = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))

    def e_aligned(e):
        return any(i == e for i, _ in alignment)

    def f_aligned(f):
        return any(j == f for _, j in alignment)

    while True:
        added = False
        for e in range(srclen):
            for f in range(tgtlen):
                if (e, f) in alignment:
                    for de, df in neighbouring:
                        en, fn = e + de, f + df
                        if (not e_aligned(en) or not f_aligned(fn)) and (en, fn) in union:
                            alignment.add((en, fn))
                            added = True
        if not added:
            break
    if final:
        for a in (e2f, f2e):
            for e in range(srclen):
                for f in range(tgtlen):
                    free_e, free_f = not e_aligned(e), not f_aligned(f)
                    if ((free_e and free_f) if final_and else (free_e or free_f)) and (e, f) in a:
                        alignment.add((e, f))
    return alignment


# The example of NLTK's grow_diag_final_and docstring (a Japanese-English pair).
NLTK_FWD = ("0-0 2-1 9-2 21-3 10-4 7-5 11-6 9-7 12-8 1-9 3-10 4-11 17-12 17-13 25-14 13-15 24-16 11-17 28-18")
NLTK_BWD = ("0-0 1-9 2-9 3-10 4-11 5-12 6-6 7-5 8-6 9-7 10-4 11-6 12-8 13-12 15-12 17-13 18-13 19-12 20-13 "
            "21-3 22-12 23-14 24-17 25-15 26-17 27-18 28-18")


def test_classic_example_matches_textbook_pseudocode():
    f, b = Alignment.from_pharaoh(NLTK_FWD), Alignment.from_pharaoh(NLTK_BWD)
    gdfa = symmetrize(f, b, "grow-diag-final-and")
    assert set(gdfa.links) == _textbook(set(f.links), set(b.links), True, True)
    assert set(symmetrize(f, b, "grow-diag").links) == _textbook(set(f.links), set(b.links), False, False)
    assert f.links & b.links <= gdfa.links <= f.links | b.links
    # a directional link left out by final-and has at least one of its words aligned already;
    # one left out by grow-diag-final has both
    gdf = symmetrize(f, b, "grow-diag-final")
    for out, need_both in ((gdfa, False), (gdf, True)):
        src, tgt = {i for i, _ in out.links}, {j for _, j in out.links}
        for i, j in (f.links | b.links) - out.links:
            assert (i in src and j in tgt) if need_both else (i in src or j in tgt)
    assert len(gdfa) < len(gdf) < len(f.links | b.links)


links = st.frozensets(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20)


@settings(max_examples=150, deadline=None)
@given(links, links)
def test_random_alignments_match_textbook_and_nest(f, b):
    fa, ba = Alignment(f), Alignment(b)
    got = {m: set(symmetrize(fa, ba, m).links) for m in METHODS}
    assert got["grow-diag"] == _textbook(set(f), set(b), False, False)
    assert got["grow-diag-final"] == _textbook(set(f), set(b), True, False)
    assert got["grow-diag-final-and"] == _textbook(set(f), set(b), True, True)
    # (grow-diag-final-and is not always a subset of grow-diag-final: "final" can take a link
    # that would have let final-and add a different one)
    assert got["intersection"] <= got["grow-diag"] <= got["grow-diag-final-and"] <= got["union"]
    assert got["grow-diag"] <= got["grow-diag-final"] <= got["union"] == set(f | b)
