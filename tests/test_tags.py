import pytest
from hypothesis import given, strategies as st

from projection import Span, spans_to_tags, tags_to_spans, to_iob1, to_iob2
from projection.tags import tag_names, to_iobes

LABELS = ["PER", "ORG", "LOC", "MISC"]


@st.composite
def sentence_spans(draw):
    n = draw(st.integers(min_value=0, max_value=25))
    cuts = sorted(draw(st.sets(st.integers(0, n), max_size=12)))
    spans, i = [], 0
    while i + 1 < len(cuts):
        start, end = cuts[i], cuts[i + 1]
        if draw(st.booleans()):
            spans.append(Span(start, end, draw(st.sampled_from(LABELS))))
        i += draw(st.sampled_from([1, 2]))
    return n, spans


@given(sentence_spans())
def test_iob2_roundtrip(case):
    n, spans = case
    assert tags_to_spans(spans_to_tags(spans, n, "iob2")) == spans


@given(sentence_spans())
def test_iob1_roundtrip(case):
    n, spans = case
    tags = spans_to_tags(spans, n, "iob1")
    assert tags_to_spans(tags) == spans
    assert to_iob2(tags) == spans_to_tags(spans, n, "iob2")
    assert to_iob1(to_iob2(tags)) == tags


@given(sentence_spans())
def test_iob1_uses_b_only_between_adjacent_same_label(case):
    n, spans = case
    tags = spans_to_tags(spans, n, "iob1")
    for k, tag in enumerate(tags):
        if tag.startswith("B-"):
            assert k > 0 and tags[k - 1][2:] == tag[2:]


def test_iob1_conll2003_examples():
    # "EU rejects German call": IOB1 I- starts entities
    assert to_iob2(["I-ORG", "O", "I-MISC", "O"]) == ["B-ORG", "O", "B-MISC", "O"]
    # two adjacent LOC entities: B- separates them in IOB1
    assert tags_to_spans(["I-LOC", "B-LOC", "I-LOC"]) == [Span(0, 1, "LOC"), Span(1, 3, "LOC")]
    # an I- after another type starts a new entity
    assert tags_to_spans(["B-PER", "I-ORG"]) == [Span(0, 1, "PER"), Span(1, 2, "ORG")]


@given(sentence_spans())
def test_iobes_roundtrip(case):
    n, spans = case
    tags = spans_to_tags(spans, n, "iobes")
    assert tags_to_spans(tags) == spans
    assert to_iob2(tags) == spans_to_tags(spans, n, "iob2")
    assert to_iobes(to_iob1(tags)) == tags
    for span in spans:  # S- for one token, else B- I-* E-
        expected = [f"S-{span.label}"] if len(span) == 1 else \
            [f"B-{span.label}"] + [f"I-{span.label}"] * (len(span) - 2) + [f"E-{span.label}"]
        assert tags[span.start:span.end] == expected


def test_iobes_examples_and_lenient_reading():
    assert to_iobes(["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]) == \
        ["B-PER", "I-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC"]
    # S- and E- close an entity: an I- after them starts a new one (as IOB1 reads a lone I-)
    assert tags_to_spans(["S-ORG", "I-ORG", "E-ORG", "I-ORG"]) == [Span(0, 1, "ORG"), Span(1, 3, "ORG"), Span(3, 4, "ORG")]
    # a lone E- is a one-token entity; E- of another type ends the open entity first
    assert tags_to_spans(["E-PER", "B-LOC", "E-ORG"]) == [Span(0, 1, "PER"), Span(1, 2, "LOC"), Span(2, 3, "ORG")]
    assert tag_names(["PER", "LOC"], "iobes") == ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-PER", "I-PER", "E-PER", "S-PER"]
    assert tag_names(["PER", "LOC"]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    with pytest.raises(ValueError, match="unknown tag scheme 'bilou'"):
        spans_to_tags([], 0, "bilou")
    with pytest.raises(ValueError, match="not O, B-LABEL or I-LABEL"):
        tags_to_spans(["U-PER"])
