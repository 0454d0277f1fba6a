"""Refinement of back-projected labels by re-translation with markers (projection.project.refine)."""

from __future__ import annotations

from projection.project.refine import agreed_spans, aligned_span, refine, similar_span
from projection.records import Alignment, EntityStatus, ProjectedEntity, ProjectedSentence, Sentence, Span

ORIGINAL = "el presidente de la Junta de Castilla visitó Arévalo ayer".split()
# a re-translation of the labelled English, with markers read back: "la Junta de Castilla" (ORG), "Arévalo" (LOC)
RETRANS = "el presidente de la Junta de Castilla visitó a Arévalo ayer".split()
IDENTITY = Alignment.of([(i, i) for i in range(8)] + [(9, 8), (10, 9)])


def test_aligned_and_similar_spans():
    assert aligned_span(Span(4, 7, "ORG"), IDENTITY, len(ORIGINAL)) == (4, 7)
    assert aligned_span(Span(8, 9, "X"), IDENTITY, len(ORIGINAL)) is None  # "a" is linked to nothing
    assert aligned_span(Span(0, 1, "X"), Alignment.of([(0, 0), (0, 9)]), 10) is None  # spread over 10 words
    assert similar_span("Junta de Castilla", ORIGINAL, 0.8)[:2] == (4, 7)
    assert similar_span("arevalo", ORIGINAL, 0.8)[:2] == (8, 9)  # case and accents: close enough
    assert similar_span("Valladolid", ORIGINAL, 0.8) is None


def test_agreement_is_required():
    marked = [Span(4, 7, "ORG"), Span(9, 10, "LOC")]
    assert agreed_spans(RETRANS, marked, IDENTITY, ORIGINAL) == [Span(4, 7, "ORG"), Span(8, 9, "LOC")]
    wrong = Alignment.of([(i, i) for i in range(8)] + [(9, 1)])  # the alignment puts Arévalo elsewhere
    assert agreed_spans(RETRANS, marked, wrong, ORIGINAL) == [Span(4, 7, "ORG")]


def _ps(entities):
    en = Sentence("s", ["x"] * 6, ["O"] * 6)
    return ProjectedSentence(en, ORIGINAL, entities)


def test_refine_prefers_agreed_spans_and_recovers_unprojected_entities():
    e_org = ProjectedEntity(Span(0, 3, "ORG"), Span(5, 7, "ORG"), 0.6, "ngram", EntityStatus.PROJECTED)  # too short
    e_loc = ProjectedEntity(Span(4, 5, "LOC"), None, 0.0, "ngram", EntityStatus.UNALIGNED)
    e_per = ProjectedEntity(Span(5, 6, "PER"), Span(1, 2, "PER"), 0.9, "ngram", EntityStatus.PROJECTED)
    ps = _ps([e_org, e_loc, e_per])
    done = refine(ps, [Span(4, 7, "ORG"), Span(8, 9, "LOC")], [0.7, 0.5, 0.9])
    assert done == {"changed": 1, "recovered": 1}
    org, loc, per = ps.entities
    assert org.target == Span(4, 7, "ORG") and org.method == "ngram+retranslation" and org.score == 0.6
    assert loc.target == Span(8, 9, "LOC") and loc.status == EntityStatus.PROJECTED and loc.score == 0.5
    assert per == e_per  # nothing agreed about it: the projection stands
    again = refine(ps, [Span(4, 7, "ORG")])
    assert again == {"confirmed": 1}


def test_refine_never_makes_two_entities_overlap():
    a = ProjectedEntity(Span(0, 1, "ORG"), Span(4, 5, "ORG"), 0.6, "ngram", EntityStatus.PROJECTED)
    b = ProjectedEntity(Span(1, 2, "ORG"), Span(6, 7, "ORG"), 0.6, "ngram", EntityStatus.PROJECTED)
    ps = _ps([a, b])
    done = refine(ps, [Span(4, 7, "ORG")])
    assert done == {"kept_overlap": 1} and ps.entities == [a, b]
