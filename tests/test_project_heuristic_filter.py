"""The heuristic projector, the markers projector and the sentence filtering policies."""

from __future__ import annotations

import pytest

from projection.errors import ProjectionError
from projection.project import ProjectionInput, apply_policy, projectors
from projection.records import Alignment, EntityStatus, ProjectedEntity, ProjectedSentence, Sentence, Span


def _inp(src: str, tags: str, tgt: str, links: str, marked=None) -> ProjectionInput:
    return ProjectionInput(Sentence("s", src.split(), tags.split()), tgt.split(), Alignment.from_pharaoh(links), None, marked)


def _view(ps):
    return [(" ".join(ps.target_tokens[e.target.start:e.target.end]) if e.target else None, str(e.status)) for e in ps.entities]


def test_heuristic_merges_runs_across_small_gaps():
    inp = _inp("World Trade Organization", "B-ORG I-ORG I-ORG", "Organización Mundial del Comercio", "0-1 1-3 2-0")
    ps = projectors.create("heuristic").project([inp])[0]
    assert _view(ps) == [("Organización Mundial del Comercio", "projected")]
    assert ps.entities[0].method == "heuristic"
    strict = projectors.create("heuristic", gap=0).project([inp])[0]
    assert _view(strict) == [("Organización Mundial", "projected")]


def test_heuristic_keeps_the_best_run_and_checks_the_ratio():
    # a stray link far away does not stretch the span
    inp = _inp("Mr Smith said that", "O B-PER O O", "el señor Smith dijo que Smith", "0-1 1-2 1-5 2-3 3-4")
    ps = projectors.create("heuristic").project([inp])[0]
    assert _view(ps) == [("Smith", "projected")]
    # a one-word entity linked to a four-word run: ratio 1/4
    inp = _inp("Mercosur grows", "B-ORG O", "el Mercado Común del Sur crece", "0-1 0-2 0-3 0-4 1-5")
    assert _view(projectors.create("heuristic", threshold=0.3).project([inp])[0]) == [("Mercado Común del Sur", "below-threshold")]
    assert _view(projectors.create("heuristic", threshold=0.25).project([inp])[0]) == [("Mercado Común del Sur", "projected")]


def test_heuristic_does_not_merge_across_punctuation():
    inp = _inp("Paris", "B-LOC", "París , Francia", "0-0 0-2")
    assert _view(projectors.create("heuristic", gap=1).project([inp])[0]) == [("París", "projected")]


def test_heuristic_conflict_and_unaligned():
    inp = _inp("Bonn and Berlin and Rome", "B-LOC O B-LOC O B-LOC", "Berlín y Bonn", "0-2 2-0 2-2 1-1")
    ps = projectors.create("heuristic").project([inp])[0]
    # Berlin's links merge into "Berlín y Bonn" (ratio 1/3), which loses to Bonn's exact "Bonn"
    assert _view(ps) == [("Bonn", "projected"), ("Berlín y Bonn", "conflict"), (None, "unaligned")]
    # without gap merging Berlin keeps its own first run
    ps = projectors.create("heuristic", gap=0).project([inp])[0]
    assert _view(ps) == [("Bonn", "projected"), ("Berlín", "projected"), (None, "unaligned")]


def test_markers_assign_marked_spans_and_fall_back():
    src = "Obama met Putin in Moscow"
    tags = "B-PER O B-PER O B-LOC"
    tgt = "Putin recibió a Obama en Moscú"
    links = "0-3 1-1 2-0 3-4 4-5"
    # both PER spans are marked; the LOC lost its marker and falls back to n-gram matching
    marked = [Span(0, 1, "PER"), Span(3, 4, "PER")]
    ps = projectors.create("markers").project([_inp(src, tags, tgt, links, marked)])[0]
    assert _view(ps) == [("Obama", "projected"), ("Putin", "projected"), ("Moscú", "projected")]
    assert [e.method for e in ps.entities] == ["markers", "markers", "ngram"]
    # a marked span wins even against the alignment (the MT system put the markers there)
    ps = projectors.create("markers").project([_inp(src, tags, tgt, links, [Span(2, 4, "PER")])])[0]
    assert _view(ps)[0] == ("a Obama", "projected")
    assert ps.entities[0].method == "markers"
    # even against an unmarked candidate with a perfect score
    inp = _inp("India and England", "B-LOC O B-LOC", "India y objetivo de Inglaterra", "0-0 1-1 2-2",
               [Span(0, 1, "LOC"), Span(4, 5, "LOC")])
    ps = projectors.create("markers").project([inp])[0]
    assert _view(ps) == [("India", "projected"), ("Inglaterra", "projected")]


def _ps(statuses, scores=None, tokens=("a", "b", "c")):
    ents = []
    for k, st in enumerate(statuses):
        target = Span(k, k + 1, "PER") if st == EntityStatus.PROJECTED else None
        ents.append(ProjectedEntity(Span(k, k + 1, "PER"), target, (scores or [1.0] * len(statuses))[k], "ngram", st))
    src = Sentence("s", list(tokens), ["O"] * len(tokens))
    return ProjectedSentence(src, list(tokens), ents)


def test_policies():
    P, C = EntityStatus.PROJECTED, EntityStatus.CONFLICT
    sents = [_ps([P, P]), _ps([P, C]), _ps([]), _ps([P], tokens=())]
    out = apply_policy(sents, "drop-sentence")
    assert [ps.kept for ps in out] == [True, False, True, False]
    assert [ps.drop_reason for ps in out] == [None, "conflict", None, "empty-translation"]
    out = apply_policy([_ps([P, P]), _ps([P, C]), _ps([P], tokens=())], "keep-all")
    assert [ps.kept for ps in out] == [True, True, False]
    assert out[1].target_sentence().tags == ["B-PER", "O", "O"]  # the conflict is simply absent
    out = apply_policy([_ps([P, P], scores=[0.9, 0.4])], "drop-below-score", min_score=0.5)
    assert out[0].kept is True
    assert [str(e.status) for e in out[0].entities] == ["projected", "below-threshold"]
    with pytest.raises(ProjectionError, match="policy"):
        apply_policy([], "drop-everything")


def test_kept_and_drop_reason_are_fields_and_old_records_still_read():
    from projection.records import ProjectedSentence, Sentence

    ps = ProjectedSentence(Sentence("s1", ["a"], ["O"]), [], [], translation="", meta={"untranslated": True})
    apply_policy([ps], "drop-sentence")
    d = ps.to_dict()
    assert (d["kept"], d["drop_reason"], d["meta"]) == (False, "untranslated", {"untranslated": True})
    assert ProjectedSentence.from_dict(d) == ps
    old = {k: v for k, v in d.items() if k not in ("kept", "drop_reason")}  # as runs stored them before
    old["meta"] = {"untranslated": True, "kept": False, "drop_reason": "untranslated"}
    back = ProjectedSentence.from_dict(old)
    assert (back.kept, back.drop_reason, back.meta) == (False, "untranslated", {"untranslated": True})
    assert ProjectedSentence.from_dict({**old, "meta": {}}).kept is True  # no flag: kept, as before
