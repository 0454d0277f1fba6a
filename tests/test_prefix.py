"""Hyphenated class prefixes joined to their entity (projection.prefix), and its place in the pipeline."""

from __future__ import annotations

import pytest

from projection.errors import ProjectionError
from projection.prefix import attach_prefixes, glued
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Sentence, Span


def _ps(tokens: list[str], spans: list[tuple[int, int, str]], translation: str | None = None) -> ProjectedSentence:
    src = Sentence("s", ["x"] * 3, ["O"] * 3)
    ents = [ProjectedEntity(Span(0, 1, label), Span(a, b, label), 1.0, "ngram", EntityStatus.PROJECTED)
            for a, b, label in spans]
    return ProjectedSentence(src, tokens, ents, translation=" ".join(tokens) if translation is None else translation)


def _targets(ps: ProjectedSentence) -> list[tuple[int, int, str]]:
    return [(e.target.start, e.target.end, e.target.label) for e in ps.entities]


@pytest.mark.parametrize("tokens, spans, translation, expected", [
    # tokenised translation (spacing unknown): the pattern decides
    (["Bobabili", "i", "-", "Iran", "neTurkey"], [(3, 4, "LOC")], None, [(1, 4, "LOC")]),
    (["I", "-", "HOUSTON", "68"], [(2, 3, "ORG")], None, [(0, 3, "ORG")]),           # headline capitals
    (["U", "-", "Alex", "Radulescu"], [(2, 4, "PER")], None, [(0, 4, "PER")]),        # the sentence's first word
    (["ka", "-", "Arafat"], [(2, 3, "PER")], None, [(0, 3, "PER")]),
    (["eya", "Paris", "-", "London"], [(3, 4, "LOC")], None, [(3, 4, "LOC")]),       # a capitalised name, not a prefix
    (["ngenxa", "yokuthi", "-", "Iran"], [(3, 4, "LOC")], None, [(3, 4, "LOC")]),    # longer than a prefix
    (["e", "-", "Afrika", "."], [(0, 1, "LOC"), (2, 3, "LOC")], None, [(0, 1, "LOC"), (2, 3, "LOC")]),  # taken
    (["noma", "-", "Iran"], [(2, 3, "LOC")], None, [(0, 3, "LOC")]),
    (["e", "2", "-", "Iran"], [(3, 4, "LOC")], None, [(3, 4, "LOC")]),              # not alphabetic
    # raw MT output tokenised here: the three tokens must be one written word
    (["e", "-", "Afrika", "."], [(2, 3, "LOC")], "e-Afrika.", [(0, 3, "LOC")]),
    (["noma", "-", "Iran", "."], [(2, 3, "LOC")], "noma - Iran.", [(2, 3, "LOC")]),
    (["noma", "-", "Iran"], [(2, 3, "LOC")], "noma -Iran", [(2, 3, "LOC")]),
])
def test_an_entity_after_prefix_hyphen_starts_at_the_prefix(tokens, spans, translation, expected):
    ps = _ps(tokens, spans, translation)
    before = _targets(ps)
    summary = attach_prefixes([ps])
    assert _targets(ps) == expected
    moved = [e for e, old in zip(ps.entities, before) if (e.target.start, e.target.end, e.target.label) != old]
    assert summary["attached"] == len(moved) and all(e.method == "ngram+prefix" for e in moved)
    assert all(e.method == "ngram" for e in ps.entities if e not in moved)


def test_summary_counts_labels_and_prefixes_and_keep_changes_nothing():
    corpus = [_ps(["i", "-", "ANC"], [(2, 3, "ORG")]), _ps(["I", "-", "ANC", "ne", "-", "Iran"],
                                                            [(2, 3, "ORG"), (5, 6, "LOC")])]
    kept = attach_prefixes(corpus, "keep")
    assert kept["attached"] == 0 and [_targets(p) for p in corpus] == [[(2, 3, "ORG")], [(2, 3, "ORG"), (5, 6, "LOC")]]
    summary = attach_prefixes(corpus)
    assert [_targets(p) for p in corpus] == [[(0, 3, "ORG")], [(0, 3, "ORG"), (3, 6, "LOC")]]
    assert summary["attached"] == 3 and summary["by_label"] == {"LOC": 1, "ORG": 2}
    assert summary["prefixes"] == [["i", 2], ["ne", 1]]
    removed = _ps(["i", "-", "ANC"], [])
    removed.entities.append(ProjectedEntity(Span(0, 1, "ORG"), None, 0.0, "ngram", EntityStatus.UNALIGNED))
    assert attach_prefixes([removed])["attached"] == 0
    with pytest.raises(ProjectionError, match="unknown prefix mode 'all'"):
        attach_prefixes(corpus, "all")


def test_glued_reads_the_spacing_of_raw_text_only():
    assert glued(["e", "-", "Afrika", "."], "e-Afrika.") == [True, True, True]
    assert glued(["e", "-", "Afrika"], "e - Afrika") is None  # the tokens joined by spaces: spacing lost
    assert glued(["x", "y"], "a b") is None
    assert glued(["Bosnia", "-", "Herzegovina"], "Bosnia -Herzegovina") == [False, True]
