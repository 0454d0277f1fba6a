from hypothesis import given, strategies as st

from projection import Span, spans_to_tags, tags_to_spans, to_iob1, to_iob2

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
