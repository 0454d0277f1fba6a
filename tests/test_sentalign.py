"""Sentence matching of translations that are not line-parallel (projection.sentalign)."""

from __future__ import annotations

import random

import pytest

from conftest import data_dir, need_data
from projection.errors import ProjectionError
from projection.sentalign import match_sentences

WORDS = ("the", "a", "of", "in", "said", "on", "was", "has", "will", "market", "team", "price", "government",
         "minister", "shares", "week", "year", "police", "match", "first", "talks", "city", "party", "bank",
         "rose", "fell", "won", "lost", "plans", "new", "after", "before", "with", "for", "to", "and", "by")
NAMES = ("Fischler", "Bonn", "Clinton", "Yeltsin", "Reuters", "Arafat", "Lebed", "Moscow", "Paris", "Muster",
         "Ajax", "Nestor", "Sarajevo", "Dole", "Britain", "Chechnya", "Lima", "Boston", "Seles", "Ivanisevic")


def _corpus(n: int, seed: int = 7) -> tuple[list[list[str]], list[list[str]]]:
    """An English-like source and a 'translation': every word mapped by a fixed dictionary (so a
    lexicon can be learnt), names and numbers copied, a few extra words; some sentences have no
    name or number at all, some are short headlines."""
    rng = random.Random(seed)
    lex = {w: "".join(rng.choice("aeioukmnrstlvz") for _ in range(rng.randint(3, 8))) for w in WORDS}
    src, tgt = [], []
    for _ in range(n):
        k = rng.choice((2, 3, 8, 12, 15, 20))
        s: list[str] = []
        for _ in range(k):
            r = rng.random()
            if r < 0.15:
                s.append(rng.choice(NAMES))
            elif r < 0.22:
                s.append(str(rng.randint(1, 3000)))
            else:
                s.append(rng.choice(WORDS))
        s.append(rng.choice((".", ".", ":", "?")))
        t = [lex.get(w, w) for w in s]
        if len(t) > 4:
            t.insert(rng.randrange(1, len(t) - 1), lex[rng.choice(WORDS)])
        src.append(s)
        tgt.append(t)
    return src, tgt


def _damage(tgt, p_delete: float, p_merge: float, seed: int):
    """Delete and merge target sentences at random; returns (new target, truth): truth[j] = source
    indices that target j translates."""
    rng = random.Random(seed)
    n = len(tgt)
    delete = set(rng.sample(range(1, n - 1), max(1, int(p_delete * n))))
    free = [i for i in range(1, n - 2) if not {i, i + 1} & delete]
    merge = set()
    for i in rng.sample(free, len(free)):
        if len(merge) >= max(1, int(p_merge * n)):
            break
        if not {i - 1, i, i + 1} & merge:
            merge.add(i)
    out, truth, i = [], [], 0
    while i < n:
        if i in delete:
            i += 1
        elif i in merge:
            out.append(tgt[i] + tgt[i + 1])
            truth.append((i, i + 1))
            i += 2
        else:
            out.append(tgt[i])
            truth.append((i,))
            i += 1
    return out, truth, delete, merge


def _recovered(m, truth) -> dict[int, tuple[int, ...]]:
    got = {}
    for kind, src, tgt, _ in m.links:
        if kind in ("1-1", "2-1"):
            got[tgt[0]] = src
    return got


def test_exact_recovery_of_deletions_and_merges():
    src, tgt = _corpus(1000)
    for seed in (1, 2):
        damaged, truth, deleted, merged = _damage(tgt, 0.01, 0.005, seed)
        m = match_sentences(src, damaged)
        assert _recovered(m, truth) == dict(enumerate(truth))
        assert set(m.unmatched_source) == deleted | {x for i in merged for x in (i, i + 1)}
        assert {m.unmatched_reason(i) for i in deleted} == {"skipped"}
        assert m.count("2-1") == len(merged) and m.count("1-0") == len(deleted)
        info = m.info([f"id{i}" for i in range(len(src))])
        assert info["matched"] == len(src) - len(deleted) - 2 * len(merged)
        assert sorted(info["merged_source_ids"]) == sorted(f"id{x}" for i in merged for x in (i, i + 1))
        m.check()  # a good match passes


def test_path_outside_the_first_band_widens_it():
    src, tgt = _corpus(600, seed=3)
    junk = [["zq" * (k % 5 + 1), "xv", "?"] for k in range(60)]
    # 60 consecutive translations missing and 60 unrelated sentences at the end: the counts are
    # equal, so the first band (margin 10 around the main diagonal) cannot hold the path
    damaged = tgt[:200] + tgt[260:] + junk
    m = match_sentences(src, damaged, margin=10)
    assert m.unmatched_source == list(range(200, 260))
    assert all(m.target_of(i) == (i,) for i in range(200)) and m.target_of(599) == (539,)
    assert m.unused_target == list(range(540, 600))
    assert m.band[0] <= -60


def test_target_insertions_and_splits():
    src, tgt = _corpus(400, seed=5)
    damaged = [list(t) for t in tgt]
    damaged.insert(100, ["Zzyzx", "9999", "qqq", "!"])  # a target sentence that translates nothing
    long = max(range(150, 250), key=lambda i: len(damaged[i]))
    half = len(damaged[long]) // 2
    damaged[long:long + 1] = [damaged[long][:half], damaged[long][half:]]  # one translation cut in two
    m = match_sentences(src, damaged)
    assert m.count("0-1") == 1 and m.unused_target == [100]
    assert m.target_of(long - 1) == (long, long + 1)
    assert m.matched == len(src)


def test_poor_match_is_refused():
    src, tgt = _corpus(500, seed=11)
    shuffled = list(tgt)
    random.Random(0).shuffle(shuffled)
    m = match_sentences(src, shuffled[:480])
    with pytest.raises(ProjectionError, match=r"mine\.txt: 480 sentences for 500 source sentences.*too poor to trust"):
        m.check("mine.txt")
    with pytest.raises(ProjectionError, match="too different"):
        match_sentences(src, tgt[:200])


def test_detokenised_text_and_tokens_give_the_same_features():
    from projection.sentalign import _features

    assert _features("We don't see it, Germany's 1996-08-22 rate.") == _features(
        "We do n't see it , Germany 's 1996-08-22 rate .")
    anchors, words, chars = _features("uFischler wathi eJalimane 12 .")
    assert "fischler" in anchors and "jalimane" in anchors and "#12" in anchors and "." in anchors
    assert "wathi" in words and "wathi" not in anchors


@pytest.mark.data
def test_nllb_translations_of_conll2003_train():
    """The NLLB files of T-Projection: matched counts are sane and the ends correspond."""
    need_data("tprojection-nllb/swa.train.txt")
    from projection.corpora import load_corpus

    src = load_corpus("conll2003-en:train")
    for lang, n_target in (("hau", 13881), ("swa", 14020), ("yor", 13986), ("zul", 14031)):
        tgt = load_corpus(f"tprojection-nllb-{lang}:train")
        assert len(tgt) == n_target
        m = match_sentences([s.tokens for s in src], [t.tokens for t in tgt])
        m.check(lang)
        assert m.target_of(0) == (0,) and m.target_of(len(src) - 1) == (n_target - 1,)  # per the data README
        assert m.matched >= 0.99 * n_target and m.unmatched_source[0] > 0
        assert m.distinct_rate > 0.95
        assert len(src) - m.matched >= len(src) - n_target  # every missing translation is unmatched


@pytest.mark.data
@pytest.mark.parametrize("lang", ["zul", "yor"])
def test_tprojection_sentences_have_the_ids_the_given_engine_keeps(lang):
    need_data(f"tprojection-nllb/{lang}.train.txt")
    from projection.corpora import load_corpus, tprojection_sentences
    from projection.translate.given import GivenTranslator
    from projection.textnorm import is_detached_mark
    from projection.translate.text import detokenize

    src = load_corpus("conll2003-en:train")
    published = tprojection_sentences(lang)
    engine = GivenTranslator(tgt_lang=lang, path=str(data_dir() / f"tprojection-nllb/{lang}.train.txt"))
    engine.translate([detokenize(s.tokens, "en") for s in src])  # detokenised text, as the pipeline gives it
    kept = [s.id for k, s in enumerate(src) if k not in set(engine.untranslated)]
    assert [s.id for s in published] == kept
    by_id = {s.id: s for s in published}
    assert all(by_id[s.id].tokens == engine.tokens[k] for k, s in enumerate(src) if s.id in by_id)
    if lang == "yor":  # the file splits words at their combining marks: both readers repair them alike
        assert engine.last_stats["detached_marks"] == 38560 == engine.last_stats["marks_attached"]
        assert not any(is_detached_mark(t) for s in published for t in s.tokens)
        america = [s for s in published if "Amẹ́ríkà" in s.tokens]
        assert len(america) > 50 and any(s.tags[s.tokens.index("Amẹ́ríkà")] == "B-LOC" for s in america)
        return
    assert published[0].tokens == ["I-EU", "iyasenqaba", "isimemo", "saseJalimane", "sokukhipha", "iWundlu",
                                   "laseBrithani", "."] and published[0].tags[0] == "B-ORG"
