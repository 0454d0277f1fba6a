"""Retyping projected MISC entities by the corpus (projection.retype), and its place in the pipeline."""

from __future__ import annotations

import pytest

from projection.errors import ProjectionError
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Sentence, Span
from projection.retype import derived_default, misc_default, retype_derived, retype_misc


def _ps(k: int, target: list[str], source_label: str, start: int, end: int,
        status: EntityStatus = EntityStatus.PROJECTED) -> ProjectedSentence:
    src = Sentence(f"s{k}", ["x"] * 3, ["O"] * 3)
    ent = ProjectedEntity(Span(0, 1, source_label), Span(start, end, source_label), 0.9, "ngram", status)
    return ProjectedSentence(src, target, [ent])


def _corpus(n_loc: int, n_misc: int, word: str = "Ujerumani") -> list[ProjectedSentence]:
    loc = [_ps(k, ["wa", word, "."], "LOC", 1, 2) for k in range(n_loc)]
    misc = [_ps(100 + k, ["wito", "wa", word.lower()], "MISC", 2, 3) for k in range(n_misc)]
    return loc + misc


def _labels(corpus: list[ProjectedSentence]) -> list[str]:
    return [e.target.label for ps in corpus for e in ps.entities if e.target is not None]


def test_a_misc_entity_on_words_the_corpus_projects_as_a_place_becomes_loc():
    corpus = _corpus(n_loc=3, n_misc=2)
    summary = retype_misc(corpus)
    assert _labels(corpus) == ["LOC"] * 5  # case-folded: "ujerumani" is "Ujerumani"
    retyped = [e for ps in corpus[3:] for e in ps.entities]
    assert all(e.method == "ngram+retyped" and e.source.label == "MISC" for e in retyped)
    assert [e.method for ps in corpus[:3] for e in ps.entities] == ["ngram"] * 3
    assert summary["retyped"] == 2 and summary["by_label"] == {"LOC": 2}
    assert summary["strings"] == [["ujerumani", "LOC", 2]]


@pytest.mark.parametrize("n_loc, n_misc, kwargs, retyped", [
    (2, 2, {}, 0),                         # fewer than min_count (3) LOC projections
    (3, 6, {}, 0),                         # LOC 3 of 9 = 0.33 < min_share 0.4: an adjective stays MISC
    (4, 6, {}, 6),                         # 4 of 10 = 0.4
    (4, 6, {"min_share": 0.5}, 0),
    (2, 2, {"min_count": 2}, 2),
    (9, 9, {"mode": "keep"}, 0),
])
def test_thresholds_and_keep(n_loc, n_misc, kwargs, retyped):
    corpus = _corpus(n_loc, n_misc)
    summary = retype_misc(corpus, **kwargs)
    assert summary["retyped"] == retyped
    assert _labels(corpus).count("MISC") == n_misc - retyped


def test_only_projected_entities_count_and_change():
    corpus = _corpus(n_loc=3, n_misc=1)
    # three unaligned LOC entities with a target span (as a below-threshold candidate has) do not count
    corpus += [_ps(200 + k, ["ya", "Ufaransa"], "LOC", 1, 2, EntityStatus.BELOW_THRESHOLD) for k in range(3)]
    corpus += [_ps(300, ["wa", "Ufaransa"], "MISC", 1, 2)]
    removed = _ps(400, ["wa", "ujerumani"], "MISC", 1, 2, EntityStatus.REMOVED)
    corpus.append(removed)
    summary = retype_misc(corpus)
    assert summary["retyped"] == 1 and corpus[-2].entities[0].target.label == "MISC"
    assert removed.entities[0].target.label == "MISC" and removed.entities[0].method == "ngram"


def test_bad_settings_and_defaults():
    with pytest.raises(ProjectionError, match="unknown MISC mode 'loc'"):
        retype_misc([], mode="loc")
    with pytest.raises(ProjectionError, match="misc_min_share"):
        retype_misc([], min_share=0)
    with pytest.raises(ProjectionError, match="misc_min_count"):
        retype_misc([], min_count=0)
    corpus_targets = ("sw", "swa", "swh_Latn", "hau", "yo", "zul_Latn", "es", "spa_Latn")
    assert [misc_default(c) for c in corpus_targets] == ["corpus"] * 8
    assert [misc_default(c) for c in ("nl", "deu_Latn", "fr", "xx")] == ["keep"] * 4


def _derived_corpus(n_place: int, word: str = "Londoner", place: str = "London") -> list[ProjectedSentence]:
    places = [_ps(k, ["in", place, "."], "LOC", 1, 2) for k in range(n_place)]
    return places + [_ps(500, ["der", word, "Markt"], "LOC", 1, 2)]


def test_a_place_word_plus_the_suffix_becomes_misc():
    corpus = _derived_corpus(3)
    summary = retype_derived(corpus, suffix="er")
    assert _labels(corpus) == ["LOC"] * 3 + ["MISC"]
    derived = corpus[-1].entities[0]
    assert derived.method == "ngram+derived" and derived.source.label == "LOC" and derived.score == 0.9
    assert [e.method for ps in corpus[:3] for e in ps.entities] == ["ngram"] * 3
    assert (summary["retyped"], summary["strings"], summary["suffix"]) == (1, [["londoner", "london", 1]], "er")


@pytest.mark.parametrize("corpus, kwargs, retyped", [
    (_derived_corpus(2), {"suffix": "er"}, 0),                        # the stem is LOC fewer than min_count times
    (_derived_corpus(2), {"suffix": "er", "min_count": 2}, 1),
    (_derived_corpus(3, "LONDONER"), {"suffix": "ER"}, 1),           # case-folded, word and suffix
    (_derived_corpus(3, "Hannover", "Hannov"), {"suffix": "er"}, 1),  # only a stem of the run counts...
    (_derived_corpus(9, "Hannover"), {"suffix": "er"}, 0),            # ...so a place ending in -er stays LOC
    (_derived_corpus(3, "Londense", "Londen"), {"suffix": "se"}, 1),
    (_derived_corpus(3, "Londense", "Londen"), {"suffix": "er"}, 0),
    (_derived_corpus(9), {"mode": "keep"}, 0),
])
def test_derived_thresholds_stems_and_keep(corpus, kwargs, retyped):
    assert retype_derived(corpus, **kwargs)["retyped"] == retyped
    assert _labels(corpus)[-1] == ("MISC" if retyped else "LOC")


def test_derived_touches_single_word_projected_loc_only():
    corpus = _derived_corpus(3)
    corpus += [_ps(600, ["der", "Londoner", "Markt"], "LOC", 1, 3),  # two words: a name, not an adjective
               _ps(601, ["die", "Londoner"], "ORG", 1, 2),
               _ps(602, ["die", "Londoner"], "LOC", 1, 2, EntityStatus.BELOW_THRESHOLD)]
    assert retype_derived(corpus, suffix="er")["retyped"] == 1
    assert _labels(corpus)[-4:] == ["MISC", "LOC", "ORG", "LOC"]


def test_derived_bad_settings_and_defaults():
    with pytest.raises(ProjectionError, match="unknown derived mode 'loc'"):
        retype_derived([], mode="loc", suffix="er")
    with pytest.raises(ProjectionError, match="needs a suffix"):
        retype_derived([], suffix="")
    with pytest.raises(ProjectionError, match="derived_min_count"):
        retype_derived([], suffix="er", min_count=0)
    assert [derived_default(c) for c in ("de", "deu_Latn", "nl", "nld")] == [("misc", "er")] * 2 + [("misc", "se")] * 2
    assert [derived_default(c) for c in ("es", "sw", "yo", "fr")] == [("keep", "")] * 4
