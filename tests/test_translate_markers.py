"""Mark-then-translate: marking source entities and parsing hand-written marked translations."""

from __future__ import annotations

import pytest

from projection.errors import ProjectionError
from projection.records import Span
from projection.translate import mark, parse_marked

TOKS = "EU rejects German call to boycott British lamb .".split()
SPANS = [Span(0, 1, "ORG"), Span(2, 3, "MISC"), Span(6, 7, "MISC")]


def test_mark_html_and_brackets():
    assert mark(TOKS, SPANS, "html") == (
        '<span class="ORG" id="e0">EU</span> rejects <span class="MISC" id="e1">German</span> call to boycott '
        '<span class="MISC" id="e2">British</span> lamb.'
    )
    assert mark(TOKS, SPANS, "brackets") == "[ EU ] rejects [ German ] call to boycott [ British ] lamb."


def test_mark_escapes_and_neutralises_literal_markers():
    toks = ["Peter", "Blackburn", "&", "[x]", "<y>"]
    assert mark(toks, [Span(0, 2, "PER")], "html") == '<span class="PER" id="e0">Peter Blackburn</span> &amp; [x] &lt;y&gt;'
    assert mark(toks, [Span(0, 2, "PER")], "brackets") == "[ Peter Blackburn ] & (x) <y>"
    with pytest.raises(ProjectionError):
        mark(toks, [Span(0, 9, "PER")], "html")
    with pytest.raises(ProjectionError):
        mark(toks, [], "xml")


def test_mark_then_parse_round_trip():
    for style in ("html", "brackets"):
        res = parse_marked(mark(TOKS, SPANS, style), style, "en", [s.label for s in SPANS])
        assert res.text == "EU rejects German call to boycott British lamb."
        assert res.spans == SPANS and (res.lost, res.broken, res.merged) == (0, 0, 0)


def test_html_split_entity_is_merged():
    text = ('<span class="PER" id="e0">Peter</span> <span class="PER" id="e0">Blackburn</span> fue a &amp; '
            '<span class="LOC" id="e1">Bruselas</span>.')
    res = parse_marked(text, "html", "es", ["PER", "LOC"])
    assert res.text == "Peter Blackburn fue a & Bruselas."
    assert res.tokens == ["Peter", "Blackburn", "fue", "a", "&", "Bruselas", "."]
    assert res.spans == [Span(0, 2, "PER"), Span(5, 6, "LOC")]
    assert (res.lost, res.broken, res.merged) == (0, 0, 1)


def test_html_same_id_around_a_plain_word_is_one_span():
    text = '<span class="MISC" id="e2">Maratón</span> de <span class="MISC" id="e2">Berlín</span> ganó'
    res = parse_marked(text, "html", "es", ["MISC"])
    assert res.spans == [Span(0, 3, "MISC")] and res.merged == 1 and res.broken == 0


def test_html_interleaved_entity_keeps_one_piece_and_counts_broken():
    # Apertium reorders "Kenyan Daniel Kiprono" into "Daniel keniano Kiprono"
    text = ('<span class="PER" id="e1">Daniel</span> <span class="MISC" id="e0">keniano</span> '
            '<span class="PER" id="e1">Kiprono</span> ganó')
    res = parse_marked(text, "html", "es", ["MISC", "PER"])
    assert res.spans == [Span(0, 1, "PER"), Span(1, 2, "MISC")]
    assert (res.lost, res.broken) == (0, 1)


def test_html_adjacent_pieces_without_ids_merge_only_when_there_are_too_many():
    two = '<span class="LOC">Alemania</span> <span class="LOC">Francia</span>'
    assert parse_marked(two, "html", "es", ["LOC", "LOC"]).spans == [Span(0, 1, "LOC"), Span(1, 2, "LOC")]
    res = parse_marked(two, "html", "es", ["LOC"])
    assert res.spans == [Span(0, 2, "LOC")] and res.merged == 1


def test_lost_and_broken_markers_are_counted():
    res = parse_marked('<span class="PER" id="e0">Peter</span> dijo <span class="LOC" id="e1">Bruselas', "html", "es",
                       ["PER", "LOC", "ORG"])
    assert res.spans == [Span(0, 1, "PER")]
    assert res.lost == 2 and res.broken == 1  # LOC unclosed, ORG gone entirely
    res = parse_marked("dijo ] que [ ] y [ UE ]", "brackets", "es", ["ORG"])
    assert res.text == "dijo que y UE"
    assert res.spans == [Span(3, 4, "ORG")]
    assert res.broken == 2 and res.lost == 0  # a stray "]" and an empty pair


def test_brackets_labels_by_order_and_split_merge():
    res = parse_marked("La [ UE ] rechaza la petición [ alemana ] de boicotear el cordero [ británico ].", "brackets", "es",
                       ["ORG", "MISC", "MISC"])
    assert res.text == "La UE rechaza la petición alemana de boicotear el cordero británico."
    assert res.spans == [Span(1, 2, "ORG"), Span(5, 6, "MISC"), Span(10, 11, "MISC")]
    res = parse_marked("La [ Comisión ] [ Europea ] dijo", "brackets", "es", [("ORG", "European Commission")])
    assert res.spans == [Span(1, 3, "ORG")] and res.merged == 1 and res.lost == 0


def test_brackets_count_mismatch_uses_entity_text():
    # three source entities, two pairs came back: labels by fuzzy match of the bracketed text
    res = parse_marked("[ Peter Blackburn ] visitó [ Bruselas ].", "brackets", "es",
                       [("PER", "Peter Blackburn"), ("ORG", "European Commission"), ("LOC", "Brussels")])
    assert res.spans == [Span(0, 2, "PER"), Span(3, 4, "LOC")]
    assert res.lost == 1


def test_marker_inside_a_word_snaps_to_the_word():
    res = parse_marked("de [ Bruselas],", "brackets", "es", ["LOC"])
    assert res.tokens == ["de", "Bruselas", ","] and res.spans == [Span(1, 2, "LOC")]


def test_sentence_from_marked():
    res = parse_marked("[ Peter ] vino", "brackets", "es", ["PER"])
    s = res.sentence("x")
    assert s.tokens == ["Peter", "vino"] and s.tags == ["B-PER", "O"]


def test_brackets_merge_uses_the_total_count_not_a_greedy_guess():
    # two source entities; the first came back split in two adjacent pairs, the second intact
    res = parse_marked("[ Comisión ] [ Europea ] y [ Alemania ]", "brackets", "es", ["ORG", "LOC"])
    assert res.spans == [Span(0, 2, "ORG"), Span(3, 4, "LOC")] and res.merged == 1 and res.lost == 0
    # two adjacent source entities stay two
    res = parse_marked("[ Alemania ] [ Francia ]", "brackets", "es", ["LOC", "LOC"])
    assert res.spans == [Span(0, 1, "LOC"), Span(1, 2, "LOC")] and res.merged == 0
