"""The ngram projector: hand-made cases, and the vectorised code against a plain reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projection.errors import ProjectionError
from projection.project import ProjectionInput, projectors
from projection.project.base import is_break_token
from projection.project.ngram import (COPY_MIN, NgramProjector, _Candidates, _is_copy, _normalise, exact_match, greedy_match,
                                      initial_words)
from projection.records import Alignment, EntityStatus, Sentence, Span


def _inp(src: str, tags: str, tgt: str, links: str, sim=None) -> ProjectionInput:
    s = Sentence("s", src.split(), tags.split())
    return ProjectionInput(s, tgt.split(), Alignment.from_pharaoh(links), sim)


def _targets(ps):
    return [(" ".join(ps.target_tokens[e.target.start:e.target.end]) if e.target else None, str(e.status), e.target.label if e.target else None)
            for e in ps.entities]


PLAIN = dict(name_weight=0.0, sim_weight=0.0, lowercase="keep")


def test_reordered_multiword_name():
    inp = _inp("the European Parliament voted", "O B-ORG I-ORG O", "el Parlamento Europeo votó", "0-0 1-2 2-1 3-3")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert _targets(ps) == [("Parlamento Europeo", "projected", "ORG")]
    assert ps.entities[0].score == pytest.approx(1.0)
    assert ps.entities[0].method == "ngram"


def test_candidate_does_not_cross_punctuation():
    # "Smith" is linked to "Smith" and (wrongly) to "Jones" after the comma; a candidate
    # spanning the comma is not allowed, so the name stays on one side
    inp = _inp("Smith met Jones", "B-PER O B-PER", "Smith , Jones", "0-0 0-2 2-2")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert [t for t, _, _ in _targets(ps)] == ["Smith", "Jones"]


def test_entity_containing_punctuation_may_span_it():
    inp = _inp("Jean - Pierre came", "B-PER I-PER I-PER O", "Jean - Pierre vino", "0-0 1-1 2-2 3-3")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert _targets(ps) == [("Jean - Pierre", "projected", "PER")]


def test_conflict_and_second_best():
    # both entities are linked to "Berlin"; the better-scoring one takes it, the other
    # falls back to its own next candidate when that passes the threshold, else conflict
    inp = _inp("Berlin and Bonn", "B-LOC O B-LOC", "Berlin y Bonn", "0-0 2-0 2-2 1-1")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert _targets(ps) == [("Berlin", "projected", "LOC"), ("Bonn", "projected", "LOC")]
    inp = _inp("Berlin and Bonn", "B-LOC O B-LOC", "Berlin y nada", "0-0 2-0 1-1")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert [s for _, s, _ in _targets(ps)] == ["projected", "conflict"]
    assert ps.entities[1].target == Span(0, 1, "LOC")  # the candidate it lost, for inspection


def test_unaligned_and_below_threshold():
    inp = _inp("Obama spoke", "B-PER O", "habló él", "1-0")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert _targets(ps) == [(None, "unaligned", None)]
    # one of three entity words linked: best candidate scores (1 + 1) / (3 + 1) = 0.5
    inp = _inp("New York City is big", "B-LOC I-LOC I-LOC O O", "Nueva es grande", "0-0 3-1 4-2")
    low = projectors.create("ngram", threshold=0.6, **PLAIN).project([inp])[0]
    assert [s for _, s, _ in _targets(low)] == ["below-threshold"]
    assert low.entities[0].score == pytest.approx(0.5)
    ok = projectors.create("ngram", threshold=0.5, **PLAIN).project([inp])[0]
    assert _targets(ok) == [("Nueva", "projected", "LOC")]


def test_greedy_versus_exact():
    # entity 0: (0,1) 0.6 or (0,2) 0.9; entity 1: (0,1) 0.7 or (1,2) 0.8
    cands = _Candidates(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1]), np.array([1, 2, 1, 2]),
                        np.array([0.6, 0.9, 0.7, 0.8], dtype=np.float32))
    sent = np.zeros(2, dtype=np.int64)
    # greedy: entity 0 takes (0,2) (0.9), which overlaps everything entity 1 could take
    assert greedy_match(sent, 2, cands).tolist() == [1, -1]
    # exact: 0.6 + 0.8 = 1.4 beats 0.9
    assert exact_match(sent, 2, cands).tolist() == [0, 3]
    # the same through the projector: "A B" -> two one-word entities, one two-word-linked
    inp = _inp("x A y B", "O B-PER O B-PER", "A B", "1-0 1-1 3-0 3-1 0-1")
    greedy = projectors.create("ngram", **PLAIN).project([inp])[0]
    exact = projectors.create("ngram", matching="exact", **PLAIN).project([inp])[0]
    assert sum(e.status == EntityStatus.PROJECTED for e in exact.entities) >= sum(
        e.status == EntityStatus.PROJECTED for e in greedy.entities)


def test_long_entity_gets_long_candidates():
    n = 14
    src = " ".join(f"w{i}" for i in range(n))
    tags = " ".join(["B-MISC"] + ["I-MISC"] * (n - 1))
    links = " ".join(f"{i}-{i}" for i in range(n))
    ps = projectors.create("ngram", max_len=10, **PLAIN).project([_inp(src, tags, src, links)])[0]
    assert ps.entities[0].target == Span(0, n, "MISC")


def test_name_similarity_links_copied_names():
    # no alignment link at all, but the name is copied
    inp = _inp("Lindqvist saved", "B-PER O", "paró Lindqvist", "")
    ps = projectors.create("ngram", sim_weight=0.0).project([inp])[0]
    assert _targets(ps) == [("Lindqvist", "projected", "PER")]
    off = projectors.create("ngram", name_weight=0.0, sim_weight=0.0).project([inp])[0]
    assert _targets(off) == [(None, "unaligned", None)]


def test_a_copied_word_overrides_its_other_links():
    # the aligner linked the surname to the first name; the copy of the surname wins
    inp = _inp("Mr Barón Crespo said", "O B-PER I-PER O", "el señor Barón Crespo dijo", "0-1 1-2 2-2 3-4")
    ps = projectors.create("ngram", sim_weight=0.0).project([inp])[0]
    assert _targets(ps) == [("Barón Crespo", "projected", "PER")]
    plain = projectors.create("ngram", name_weight=0.0, sim_weight=0.0).project([inp])[0]
    assert _targets(plain) == [("Barón", "projected", "PER")]


def test_embedding_similarity_adds_missing_links():
    # the aligner missed "Committee" <-> "Ausschuss"; the encoder finds them similar
    sim = np.full((4, 4), 0.1, dtype=np.float32)
    sim[0, 0] = sim[1, 1] = sim[2, 2] = sim[3, 3] = 0.9
    inp = _inp("Committee on Industry met", "B-ORG I-ORG I-ORG O", "Ausschuss für Industrie tagte", "1-1 2-2 3-3", sim=sim)
    without = projectors.create("ngram", name_weight=0.0, sim_weight=0.0, threshold=0.7).project([inp])[0]
    assert _targets(without) == [("Ausschuss für Industrie", "below-threshold", "ORG")]
    assert without.entities[0].score == pytest.approx(4 / 6)
    with_sim = projectors.create("ngram", name_weight=0.0, sim_weight=0.8, threshold=0.7).project([inp])[0]
    assert _targets(with_sim) == [("Ausschuss für Industrie", "projected", "ORG")]
    assert with_sim.entities[0].score > 0.9


def test_unlinked_inner_word_cannot_lift_a_shorter_window_above_the_full_name():
    # "U.S. Open" -> "Abierto de Estados Unidos": "de" is linked to nothing, but the encoder finds it a little
    # like "Open"; counted at full coverage and half its length it lifted "Abierto de Estados" above 1 and
    # above the full name, whose last word then only pulled the score back towards 1
    sim = np.full((3, 6), 0.0, dtype=np.float32)
    sim[0, 1], sim[1, 3], sim[1, 4], sim[2, 1], sim[2, 2] = 0.9, 0.9, 0.9, 0.45, 0.5
    inp = _inp("in U.S. Open", "O B-MISC I-MISC", "en Abierto de Estados Unidos .", "0-0 1-3 1-4 2-1", sim=sim)
    ps = projectors.create("ngram", name_weight=0.0, lowercase="keep").project([inp])[0]
    assert _targets(ps) == [("Abierto de Estados Unidos", "projected", "MISC")]
    assert ps.entities[0].score <= 1.0


def test_function_words_at_edges_and_inside():
    # "Fondo de Cohesión": "de" has no English counterpart, inside the name it is cheap;
    # the article "el" in front is linked but stays outside the span
    inp = _inp("the Cohesion Fund", "O B-MISC I-MISC", "el Fondo de Cohesión", "0-0 1-3 2-1")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert _targets(ps) == [("Fondo de Cohesión", "projected", "MISC")]
    # an entity that itself begins with a function word keeps it
    inp = _inp("Mrs de Palacio", "O B-PER I-PER", "Sra. de Palacio", "0-0 1-1 2-2")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert _targets(ps) == [("de Palacio", "projected", "PER")]


def test_the_article_that_opens_a_sentence_is_a_function_word():
    # "Iraqi" linked to both the article and the adjective: the article alone was a perfect candidate
    inp = _inp("Iraqi President Saddam Hussein", "B-MISC O B-PER I-PER", "El presidente iraquí Saddam Hussein",
               "0-0 0-2 1-1 2-3 3-4")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert _targets(ps) == [("iraquí", "projected", "MISC"), ("Saddam Hussein", "projected", "PER")]
    # after leading punctuation too, and the article stays outside a name ("El Banco de México")
    inp = _inp("- Bank of Mexico said", "O B-ORG I-ORG I-ORG O", "- El Banco de México dijo", "1-1 1-2 2-3 3-4 4-5")
    ps = projectors.create("ngram", **PLAIN).project([inp])[0]
    assert _targets(ps) == [("Banco de México", "projected", "ORG")]
    # the same word inside a sentence was a function word already; a short name that opens the sentence is not
    # one for its own entity (a copy, or the start of a word: "O" of "O'Neal"), with or without name evidence
    for opts in (PLAIN, dict(PLAIN, name_weight=0.9)):
        ps = projectors.create("ngram", **opts).project([_inp("Jim left", "B-PER O", "Jim se fue", "0-0 1-1 1-2")])[0]
        assert _targets(ps) == [("Jim", "projected", "PER")]
        ps = projectors.create("ngram", **opts).project([_inp("El Jadida won", "B-ORG I-ORG O", "El Jadida ganó",
                                                              "0-0 1-1 2-2")])[0]
        assert _targets(ps) == [("El Jadida", "projected", "ORG")]
    assert _is_copy("o", "o'neal", 0.7) and _is_copy("al", "al-anwar", 0.7) and _is_copy("jim", "jim", 0.7)
    assert not _is_copy("el", "israeli", 0.7) and not _is_copy("al", "alvaro", 0.7)
    assert initial_words([["-", "El", "presidente"], ["Los", "x"], ["La"], ["ONU", "dijo"], ["Die"], ["--"], []]) == \
        [1, 0, 0, -1, 0, -1, -1]


def test_lowercase_conventions():
    inp = _inp("Belgium and Europe", "B-LOC O B-LOC", "belgischen und Europa", "0-0 1-1 2-2")
    ps = projectors.create("ngram", name_weight=0.0).project([inp])[0]  # default: misc
    assert [e.target.label for e in ps.entities] == ["MISC", "LOC"]
    ps = projectors.create("ngram", name_weight=0.0, lowercase="keep").project([inp])[0]
    assert [e.target.label for e in ps.entities] == ["LOC", "LOC"]
    ps = projectors.create("ngram", name_weight=0.0, lowercase="drop").project([inp])[0]
    assert [str(e.status) for e in ps.entities] == ["removed", "projected"]
    assert ps.target_sentence().tags == ["O", "O", "B-LOC"]  # the adjective's words are O
    assert ps.complete  # a dropped entity does not make the sentence incomplete
    # a lower-case phrase is a common-noun translation: misc leaves it, drop removes it
    inp = _inp("the European mainland", "O B-LOC I-LOC", "el tronco europeo", "0-0 1-2 2-1")
    ps = projectors.create("ngram", name_weight=0.0).project([inp])[0]
    assert _targets(ps) == [("tronco europeo", "projected", "LOC")]
    ps = projectors.create("ngram", name_weight=0.0, lowercase="drop").project([inp])[0]
    assert _targets(ps) == [("tronco europeo", "removed", "LOC")]
    # MISC nationality adjectives: drop removes them, misc keeps MISC
    inp = _inp("German call", "B-MISC O", "petición alemana", "0-1 1-0")
    ps = projectors.create("ngram", name_weight=0.0, lowercase="drop").project([inp])[0]
    assert _targets(ps) == [("alemana", "removed", "MISC")]
    ps = projectors.create("ngram", name_weight=0.0, lowercase="misc").project([inp])[0]
    assert _targets(ps) == [("alemana", "projected", "MISC")]
    # not lower-case spans: a capital anywhere (Zulu prefixes, names with particles) is untouched
    for src, tags, tgt, al, want in [("Fischler said", "B-PER O", "uFischler uthe", "0-0 1-1", "uFischler"),
                                     ("de Palacio said", "B-PER I-PER O", "de Palacio dijo", "0-0 1-1 2-2", "de Palacio")]:
        ps = projectors.create("ngram", name_weight=0.0, lowercase="drop").project([_inp(src, tags, tgt, al)])[0]
        assert _targets(ps) == [(want, "projected", "PER")]
    # a source entity without a capital (a lower-case English name) is never affected
    inp = _inp("the euro rose", "O B-MISC O", "el euro subió", "0-0 1-1 2-2")
    ps = projectors.create("ngram", name_weight=0.0, lowercase="drop").project([inp])[0]
    assert _targets(ps) == [("euro", "projected", "MISC")]
    with pytest.raises(ProjectionError, match="lowercase must be one of"):
        NgramProjector(lowercase="O")


def test_lowercase_default_per_target_language():
    from projection.project.ngram import lowercase_default

    assert [lowercase_default(x) for x in ("es", "spa", "nl", "de", "deu_Latn", "swa", "zul", "yo", "fr")] == [
        "drop", "drop", "drop", "misc", "misc", "keep", "keep", "keep", "misc"]


def test_sentences_without_entities_and_empty_translations():
    a = _inp("nothing here", "O O", "nada aquí", "0-0 1-1")
    b = ProjectionInput(Sentence("b", ["Paris"], ["B-LOC"]), [], Alignment())
    out = projectors.create("ngram").project([a, b])
    assert out[0].entities == []
    assert _targets(out[1]) == [(None, "unaligned", None)]


def test_bad_options_and_inputs():
    with pytest.raises(ProjectionError, match="matching"):
        NgramProjector(matching="optimal")
    with pytest.raises(ProjectionError, match="threshold"):
        NgramProjector(threshold=1.5)
    with pytest.raises(ValueError, match="outside"):
        _inp("a b", "O O", "x", "1-3")
    with pytest.raises(ValueError, match="similarity matrix"):
        _inp("a b", "O O", "x", "", sim=np.zeros((3, 3)))


def test_break_tokens():
    assert is_break_token(",") and is_break_token("«") and is_break_token("--") and is_break_token("(")
    assert not is_break_token("U.S.") and not is_break_token("&") and not is_break_token("Jean-Pierre")


def test_signature_has_options_and_versions():
    sig = NgramProjector(threshold=0.4).signature()
    assert sig["method"] == "ngram" and sig["threshold"] == 0.4 and "numpy" in sig["versions"]
    assert len(sig["code"]) == 12  # a changed implementation never reuses cached projections


# ---------------------------------------------------------------------------- reference


def _name_key(token: str) -> str | None:
    """The first three characters of the normalised form, when they are worth comparing."""
    norm = _normalise(token)
    if len(norm) >= 3 and (norm[:3].isalnum() or sum(ch.isalnum() for ch in norm) >= 3):
        return norm[:3]
    return None


def _soft_similarity(sim: np.ndarray, p: NgramProjector) -> np.ndarray:
    """``sim_weight`` times the larger of the row and the column softmax, one row and one column at a time."""
    m, n = sim.shape
    s = sim.astype(np.float32) / np.float32(p.sim_temperature)
    out = np.zeros((m, n), dtype=np.float32)
    for i in range(m):
        e = np.exp(s[i] - s[i].max())
        out[i] = e / e.sum()
    for j in range(n):
        e = np.exp(s[:, j] - s[:, j].max())
        out[:, j] = np.maximum(out[:, j], e / e.sum())
    return np.float32(p.sim_weight) * out


def _evidence(inp: ProjectionInput, sp: Span, p: NgramProjector) -> tuple[np.ndarray, bool]:
    """(W, linked) of one entity: each (entity word, target word) pair's strongest evidence (link, name
    similarity, embedding similarity; an unambiguous copy replaces the word's other evidence), and
    whether any target word is linked to the entity or looks like one of its words."""
    from rapidfuzz.distance import Indel

    src, tgt = inp.source.tokens, inp.target_tokens
    n = len(tgt)
    E = list(range(sp.start, sp.end))
    W = np.zeros((len(E), n), dtype=np.float32)
    linked = False
    for i, j in inp.alignment.links:
        if sp.start <= i < sp.end:
            W[i - sp.start, j] = 1.0
            linked = True
    copies: dict[int, list[int]] = {}
    if p.name_weight > 0:
        for e, i in enumerate(E):
            for j in range(n):
                key = _name_key(src[i])
                if key is None or key != _name_key(tgt[j]):
                    continue
                sim = np.float32(Indel.normalized_similarity(_normalise(src[i]), _normalise(tgt[j])))
                if sim < np.float32(p.name_min):
                    continue
                W[e, j] = max(W[e, j], np.float32(p.name_weight) * sim)
                linked = True
                if sim >= np.float32(COPY_MIN):
                    copies.setdefault(e, []).append(j)
    if p.sim_weight > 0 and inp.similarity is not None and inp.similarity.size:
        soft = _soft_similarity(inp.similarity, p)
        W = np.maximum(W, soft[sp.start : sp.end, :n])
    # a copy is unambiguous when the word occurs among the sentence's entity words no more often than it has copies
    entity_words = [src[i] for s2 in inp.source.spans for i in range(s2.start, s2.end)]
    for e, js in copies.items():
        if entity_words.count(src[E[e]]) <= len(js):
            W[e, :] = 0.0
            W[e, js] = 1.0
    return W, linked


def reference_ngram(inp: ProjectionInput, p: NgramProjector) -> list[tuple[Span | None, str]]:
    """A plain loop implementation of the scores and the greedy matching, with the alignment links and,
    when the projector weighs them, name and embedding similarity."""
    src, tgt = inp.source.tokens, inp.target_tokens
    m, n = len(src), len(tgt)
    A = np.zeros((m, n), dtype=np.float32)
    for i, j in inp.alignment.links:
        A[i, j] = 1.0
    linked_anywhere = [any(A[i, j] > 0 for i in range(m)) for j in range(n)]
    fun_words = [len(t) <= 3 and t.isalpha() and t.islower() for t in tgt]
    # the sentence's first word with a letter, when a short word capitalised only at its start
    first = next((j for j, t in enumerate(tgt) if any(ch.isalpha() for ch in t)), None)
    opener = first if first is not None and len(tgt[first]) <= 3 and tgt[first].isalpha() and \
        tgt[first][0].isupper() and tgt[first][1:] == tgt[first][1:].lower() else None
    spans = inp.source.spans
    cands = []  # (score, entity, start, length)
    best = []
    has_link = []
    for k, sp in enumerate(spans):
        E = list(range(sp.start, sp.end))
        fun = list(fun_words)
        if opener is not None:  # a function word for this entity unless a copy of (the start of) one of its words
            from rapidfuzz.distance import Indel

            word = _normalise(tgt[opener])
            copied = False
            for i in E:
                w = _normalise(src[i])
                if w == word or (w.startswith(word) and not w[len(word)].isalpha()) or \
                        Indel.normalized_similarity(word, w) >= p.name_min:
                    copied = True
            fun[opener] = not copied
        Wk, linked = _evidence(inp, sp, p)
        W = np.zeros((m, n), dtype=np.float32)
        W[sp.start : sp.end] = Wk
        has_link.append(linked)
        ent_breaks = {src[i] for i in E if is_break_token(src[i])}
        lim = max(p.max_len, 2 * len(E))
        top = -1.0
        for s in range(n):
            for L in range(1, n - s + 1):
                if L > lim:
                    continue
                win = list(range(s, s + L))
                if any(is_break_token(tgt[j]) and tgt[j] not in ent_breaks for j in win):
                    continue
                # float32 sums in the vectorised code's order, so that near-equal candidates tie the same way
                src_cov = np.float32(0.0)
                for i in E:
                    src_cov += max(W[i, j] for j in win)
                t = [max(W[i, j] for i in E) for j in win]
                tcov = np.float32(0.0)
                for x in t:
                    tcov += x
                num = src_cov + tcov
                first_weak = fun[s] and not (len(src[E[0]]) <= 3 and src[E[0]].isalpha() and src[E[0]].islower())
                last = s + L - 1
                last_weak = fun[last] and not (len(src[E[-1]]) <= 3 and src[E[-1]].isalpha() and src[E[-1]].islower())
                if L == 1:
                    if first_weak and last_weak:
                        num -= np.float32(t[0] * np.float32(1 - p.edge_weight))
                else:
                    if first_weak:
                        num -= np.float32(t[0] * np.float32(1 - p.edge_weight))
                    if last_weak:
                        num -= np.float32(t[-1] * np.float32(1 - p.edge_weight))
                if L > 1:  # an unlinked inner word brings at most inner_cost of coverage
                    tn = [max(np.float32(x - np.float32(p.inner_cost)), np.float32(0.0)) if not linked_anywhere[j]
                          else np.float32(0.0) for x, j in zip(t, win)]
                    run = np.float32(0.0)
                    for x in tn:
                        run += x
                    num -= np.float32(run - tn[0] - tn[-1])
                inner = sum(1 for j in win[1:-1] if not linked_anywhere[j])
                score = num / np.float32(len(E) + L - (1 - p.inner_cost) * inner)
                shared = sum(1 for j in win if any(A[i, j] > 0 for i in range(m) if i not in E))
                cands.append((float(score), k, s, L, shared))
                top = max(top, float(score))
        best.append(top)
    cands.sort(key=lambda c: (-c[0], c[1], c[4], c[2], -c[3]))
    taken: dict[int, tuple[int, int, float]] = {}
    for score, k, s, L, _ in cands:
        if np.float32(score) < np.float32(p.threshold) or score <= 0:
            break
        if k in taken or any(s < e and s2 < s + L for s2, e, _ in taken.values()):
            continue
        taken[k] = (s, s + L, score)
    out = []
    for k, sp in enumerate(spans):
        if k in taken:
            out.append((Span(taken[k][0], taken[k][1], sp.label), "projected"))
        elif best[k] > 0 and np.float32(best[k]) >= np.float32(p.threshold):
            out.append((None, "conflict"))
        elif not has_link[k]:
            out.append((None, "unaligned"))
        else:
            out.append((None, "below-threshold"))
    return out


VOCAB = ["Ana", "Bo", "Cy", "de", "la", ",", ".", "x", "y", "Zed", "El", "O'Bo"]


@st.composite
def entity_tags(draw, m: int):
    """IOB2 tags of ``m`` words: PER and LOC entities of random lengths, never two adjacent."""
    tags, i = ["O"] * m, 0
    while i < m:
        if draw(st.booleans()):
            length = draw(st.integers(1, m - i))
            label = draw(st.sampled_from(["PER", "LOC"]))
            tags[i] = f"B-{label}"
            for k in range(i + 1, i + length):
                tags[k] = f"I-{label}"
            i += length
        i += 1
    return tags


@st.composite
def sentence_pairs(draw):
    m = draw(st.integers(1, 7))
    n = draw(st.integers(0, 9))
    src = draw(st.lists(st.sampled_from(VOCAB), min_size=m, max_size=m))
    tgt = draw(st.lists(st.sampled_from(VOCAB), min_size=n, max_size=n))
    tags = draw(entity_tags(m))
    links = draw(st.sets(st.tuples(st.integers(0, m - 1), st.integers(0, max(n - 1, 0))), max_size=12)) if n else set()
    return ProjectionInput(Sentence("h", src, tags), tgt, Alignment.of(links))


NAMES = ["Ana", "Anna", "Anabel", "Álvaro", "Alvaro", "Zed", "Zedd", "de", "la", ",", ".", "x", "El", "Al", "Al-Zed"]


@st.composite
def evidence_pairs(draw):
    """Sentence pairs whose words may look alike (copied or accented names), with an encoder similarity
    matrix or without one."""
    m = draw(st.integers(1, 6))
    n = draw(st.integers(0, 8))
    src = draw(st.lists(st.sampled_from(NAMES), min_size=m, max_size=m))
    tgt = draw(st.lists(st.sampled_from(NAMES), min_size=n, max_size=n))
    tags = draw(entity_tags(m))
    links = draw(st.sets(st.tuples(st.integers(0, m - 1), st.integers(0, max(n - 1, 0))), max_size=8)) if n else set()
    sim = None
    if n and draw(st.booleans()):
        values = draw(st.lists(st.sampled_from([-0.2, 0.1, 0.4, 0.7, 0.9]), min_size=m * n, max_size=m * n))
        sim = np.array(values, dtype=np.float32).reshape(m, n)
    return ProjectionInput(Sentence("h", src, tags), tgt, Alignment.of(links), sim)


@settings(max_examples=300, deadline=None)
@given(st.lists(sentence_pairs(), min_size=1, max_size=6), st.sampled_from([0.0, 0.25, 0.5, 0.75]),
       st.sampled_from([0.5, 1.0]), st.sampled_from([0.0, 0.5]), st.sampled_from([2, 3, 10]))
def test_vectorised_equals_reference(inputs, threshold, inner_cost, edge_weight, max_len):
    p = NgramProjector(threshold=threshold, inner_cost=inner_cost, edge_weight=edge_weight, max_len=max_len,
                       name_weight=0.0, sim_weight=0.0, lowercase="keep", batch_size=4)
    got = p.project(inputs)
    for inp, ps in zip(inputs, got):
        ref = reference_ngram(inp, p)
        mine = [(e.target if e.status == EntityStatus.PROJECTED else None, str(e.status)) for e in ps.entities]
        assert mine == ref, (inp, mine, ref)


@settings(max_examples=300, deadline=None)
@given(st.lists(evidence_pairs(), min_size=1, max_size=6), st.sampled_from([0.0, 0.5, 0.75]),
       st.sampled_from([0.0, 0.9]), st.sampled_from([0.0, 0.8]), st.sampled_from([2, 10]))
def test_vectorised_equals_reference_with_name_and_embedding_evidence(inputs, threshold, name_weight, sim_weight,
                                                                      max_len):
    p = NgramProjector(threshold=threshold, max_len=max_len, name_weight=name_weight, sim_weight=sim_weight,
                       lowercase="keep", batch_size=4)
    got = p.project(inputs)
    for inp, ps in zip(inputs, got):
        ref = reference_ngram(inp, p)
        mine = [(e.target if e.status == EntityStatus.PROJECTED else None, str(e.status)) for e in ps.entities]
        assert mine == ref, (inp, mine, ref)
        assert all(e.score <= 1.0 + 1e-6 for e in ps.entities), ps.entities  # every word brings at most its weight


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 4), st.integers(2, 5), st.randoms(use_true_random=False))
def test_exact_matching_is_optimal(k, n, rnd):
    spans = [(s, s + L) for s in range(n) for L in (1, 2) if s + L <= n]
    rows = [(e, s, t, rnd.choice([0.4, 0.6, 0.8, 1.0])) for e in range(k) for s, t in spans if rnd.random() < 0.5]
    cands = _Candidates(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
                        np.array([r[2] for r in rows], dtype=np.int64), np.array([r[3] for r in rows], dtype=np.float32))
    got = exact_match(np.zeros(k, dtype=np.int64), k, cands)

    def total(assign):
        return sum(rows[c][3] for c in assign if c >= 0)

    def feasible(assign):
        used = [(rows[c][1], rows[c][2]) for c in assign if c >= 0]
        return not any(a[0] < b[1] and b[0] < a[1] for x, a in enumerate(used) for b in used[x + 1:])

    options = [[-1] + [c for c, r in enumerate(rows) if r[0] == e] for e in range(k)]
    best = max(total(a) for a in itertools.product(*options) if feasible(a))
    assert all(c < 0 or rows[c][0] == e for e, c in enumerate(got.tolist()))
    assert feasible(got.tolist())
    assert total(got.tolist()) == pytest.approx(best, abs=1e-5)
