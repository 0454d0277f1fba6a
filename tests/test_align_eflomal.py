"""eflomal + symmetrisation on a synthetic parallel corpus whose true alignment is known.

eflomal has no seed, so the assertions are properties with margins, not exact links."""

from __future__ import annotations

import random

import pytest

from projection.align import aligners
from projection.align.metrics import score_alignments
from projection.align.symmetrize import symmetrize_all
from projection.errors import ProjectionError
from projection.records import Alignment


def synthetic(n: int, seed: int, vocab: int = 80) -> tuple[list[tuple[list[str], list[str]]], list[Alignment]]:
    """Target = word-for-word translation of the source (sXX -> tXX), shuffled."""
    rng = random.Random(seed)
    pairs, gold = [], []
    for _ in range(n):
        src_ids = rng.sample(range(vocab), rng.randint(4, 12))
        order = list(range(len(src_ids)))
        rng.shuffle(order)  # target position k holds the translation of source word order[k]
        src = [f"s{w}" for w in src_ids]
        tgt = [f"T{src_ids[i]}" for i in order]
        pairs.append((src, tgt))
        gold.append(Alignment.of((i, k) for k, i in enumerate(order)))
    return pairs, gold


@pytest.fixture(scope="module")
def corpus():
    return synthetic(500, seed=1)


@pytest.fixture(scope="module")
def directions(corpus):
    pairs, _ = corpus
    return aligners.create("eflomal").align_directions(pairs)


def test_directions_are_functional_and_in_range(corpus, directions):
    pairs, _ = corpus
    fwd, rev = directions
    assert len(fwd) == len(rev) == len(pairs)
    for (src, tgt), f, r in zip(pairs, fwd, rev):
        assert all(0 <= i < len(src) and 0 <= j < len(tgt) for i, j in f.links | r.links)
        assert len({j for _, j in f.links}) == len(f.links)  # forward: one source word per target word
        assert len({i for i, _ in r.links}) == len(r.links)  # reverse: one target word per source word


def test_quality_and_ordering_of_symmetrizations(corpus, directions):
    pairs, gold = corpus
    fwd, rev = directions
    sym = {m: symmetrize_all(fwd, rev, m) for m in ("intersection", "grow-diag", "grow-diag-final-and", "union")}
    scores = {m: score_alignments(a, gold) for m, a in sym.items()}
    assert scores["grow-diag-final-and"].precision > 0.9 and scores["grow-diag-final-and"].recall > 0.9
    assert scores["intersection"].precision >= scores["union"].precision
    assert scores["union"].recall >= scores["grow-diag-final-and"].recall >= scores["intersection"].recall
    for k in range(len(pairs)):
        assert sym["intersection"][k].links <= sym["grow-diag"][k].links <= sym["grow-diag-final-and"][k].links
        assert sym["grow-diag-final-and"][k].links <= sym["union"][k].links


def test_extra_pairs_train_but_are_not_returned(corpus):
    pairs, gold = corpus
    small, small_gold = synthetic(30, seed=7)
    al = aligners.create("eflomal", symmetrization="intersection", extra_pairs=pairs)
    out = al.align(small)
    assert len(out) == len(small)
    s = score_alignments(out, small_gold)
    assert s.precision > 0.9 and s.recall > 0.8
    from projection.align import Aligner

    assert isinstance(al, Aligner)
    sig = al.signature()
    assert sig["engine"] == "eflomal" and sig["extra_pairs"] == len(pairs) and sig["symmetrization"] == "intersection"
    assert sig["extra_pairs_key"] != aligners.create("eflomal", extra_pairs=pairs[:-1]).signature()["extra_pairs_key"]


def test_awkward_words_and_empty_sides():
    pairs = [(["New York", "is", ""], ["Nueva York", "es"]), ([], ["x"]), (["a"], [])] * 3
    out = aligners.create("eflomal").align(pairs)
    assert len(out) == len(pairs)
    assert not out[1].links and not out[2].links
    assert all(i < 3 and j < 2 for i, j in out[0].links)
    assert aligners.create("eflomal").align([]) == []
    with pytest.raises(ProjectionError, match="symmetrization"):
        aligners.create("eflomal", symmetrization="best")
