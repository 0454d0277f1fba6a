"""Decoding word scores into IOB2 tags (projection.decoding): argmax and the BIO-constrained Viterbi."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from projection.errors import ProjectionError
from projection.tags import to_iob2
from projection.decoding import bio_viterbi, decode, transitions

LABELS = ["O", "B-MISC", "I-MISC", "B-LOC", "I-LOC"]


def _valid(path: list[int], labels=LABELS) -> bool:
    tags = [labels[i] for i in path]
    return to_iob2(tags) == tags


def test_transitions():
    start, allowed = transitions(LABELS)
    assert start.tolist() == [True, True, False, True, False]
    # I-MISC after B-MISC or I-MISC only; I-LOC after B-LOC or I-LOC only; O and B-X after anything
    assert allowed[:, 2].tolist() == [False, True, True, False, False]
    assert allowed[:, 4].tolist() == [False, False, False, True, True]
    assert allowed[:, [0, 1, 3]].all()


def test_a_lone_inside_word_joins_the_entity_or_takes_its_next_tag():
    # "Copa de la Liga": argmax gives B-MISC O I-MISC I-MISC (two MISC entities under IOB2 repair)
    lp = np.log(np.array([[0.1, 0.8, 0.05, 0.05, 0.0],
                          [0.6, 0.0, 0.4, 0.0, 0.0],
                          [0.2, 0.3, 0.5, 0.0, 0.0],
                          [0.1, 0.1, 0.8, 0.0, 0.0]]) + 1e-9)
    assert decode(lp, LABELS, "argmax") == ["B-MISC", "O", "B-MISC", "I-MISC"]
    assert decode(lp, LABELS, "bio") == ["B-MISC", "I-MISC", "I-MISC", "I-MISC"]  # one entity: the best valid path
    weak = lp.copy()
    weak[1] = np.log(np.array([0.98, 0.0, 0.02, 0.0, 0.0]) + 1e-9)  # "de" is O with confidence
    assert decode(weak, LABELS, "bio") == ["B-MISC", "O", "B-MISC", "I-MISC"]
    assert decode(np.zeros((0, 5)), LABELS, "bio") == [] == decode(np.zeros((0, 5)), LABELS, "argmax")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_viterbi_is_the_best_valid_sequence(n, seed):
    scores = np.random.default_rng(seed).normal(size=(n, len(LABELS))) * 3
    best = max((p for p in itertools.product(range(len(LABELS)), repeat=n) if _valid(list(p))),
               key=lambda p: scores[np.arange(n), p].sum())
    path = bio_viterbi(scores, LABELS)
    assert _valid(path)
    assert scores[np.arange(n), path].sum() == pytest.approx(scores[np.arange(n), best].sum())
    argmax = scores.argmax(-1).tolist()
    if _valid(argmax):  # a valid argmax sequence is already the best one
        assert path == argmax


def test_bad_labels_and_decoder():
    with pytest.raises(ProjectionError, match="IOB2 tags"):
        bio_viterbi(np.zeros((2, 2)), ["O", "S-PER"])
    with pytest.raises(ProjectionError, match="decode must be one of argmax, bio, not 'crf'"):
        decode(np.zeros((1, 5)), LABELS, "crf")
