"""N-gram candidate matching (after Politov et al. 2025, arXiv 2501.18750), vectorised.

Every target n-gram of up to ``max_len`` words that does not cross clause punctuation is a
candidate for every source entity of the sentence. A candidate ``c`` for entity ``e`` scores

    score(e, c) = (sum_{i in e} max_{j in c} W[i, j] + sum_{j in c} max_{i in e} W[i, j]) / (|e| + |c|)

where ``W`` is a word-level link weight in [0, 1]. With ``W`` = the 0/1 word alignment this
is the Dice coefficient of the paper (2 * aligned / (|e| + |c|) for one-to-one links): it is 1
when every entity word is linked into the candidate and every candidate word to the entity,
and it falls with every unlinked or outside-linked word. ``W`` fuses three kinds of
evidence, each optional, by taking the strongest:

* the word alignment (1 for a link),
* name similarity: ``name_weight * similarity`` for a source entity word and a target word
  that look alike (copied or transliterated names: "Lindqvist"/"Lindqvist",
  "Commission"/"Comisión"), rapidfuzz's normalised Indel similarity above ``name_min``,
* embedding similarity: ``sim_weight * p`` where ``p`` is the larger of the row- and the
  column-softmax (temperature ``sim_temperature``) of the encoder's word cosine matrix:
  how sure the encoder is, in either direction, that the two words translate each other
  (a soft version of the aligner's union of argmaxes), when the aligner provides the matrix.

Two refinements of the plain Dice count the way names are translated:

* a short lower-case word (``de``, ``la``, ``der``, ``für``) at the edge of a candidate adds
  to its length but only ``edge_weight`` of its link (articles and prepositions around a
  name are outside the gold span), unless the entity itself begins (ends) with one; so does a
  short capitalised word that opens the sentence (``El``, ``Die``, ``Het``), unless it is a copy
  of one of the entity's words (:func:`initial_words`);
* a word *inside* a candidate that is linked to nothing in the sentence costs only
  ``inner_cost`` of a word ("Fondo de Cohesión" for "Cohesion Fund": the ``de`` has no
  English counterpart), and brings at most ``inner_cost`` of coverage (its embedding
  similarity), so that no score exceeds 1.

``lowercase`` is the target's convention for a source entity that begins with a capital and
is projected onto words that are entirely lower-case (no capital anywhere: Zulu ``uFischler`` or Spanish
``de Palacio`` are not lower-case spans). Such a span is a word derived from a name
("German" -> "alemana", "Europe" -> "europeas") or a common-noun translation, and
guidelines differ on it:

* ``misc`` - a one-word span from a LOC/ORG/PER entity becomes MISC (German CoNLL-2003 and
  Europarl-NER: ``deutschen`` B-MISC); longer lower-case phrases keep their label;
* ``drop`` - the projected entity is removed (status ``removed``): its words are O, and the
  sentence still counts as complete (CoNLL-2002 Spanish tags nationality adjectives O);
* ``keep`` - the projected label stays (MasakhaNER labels lower-cased names, and has no MISC).

The pipeline picks the default for the target language from :data:`LOWERCASE_DEFAULTS`
(:func:`lowercase_default`); ``misc`` otherwise.

Entities are then matched one-to-one with non-overlapping candidates, greedily by score
(``matching="greedy"``; of equally scored candidates the one with the fewest words that the
alignment also links outside the entity, then the earlier, then the longer) or exactly
(``matching="exact"``: the assignment maximising the total score, by branch and bound over
scipy's ``linear_sum_assignment``; it does not use that tie order). Candidates under
``threshold`` are never chosen.

Everything runs as NumPy array operations over batches: sentences of similar target length
are processed together, their entities grouped by length so that little is padded; the
scores of all (entity, start, length) candidates are computed with running sums and maxima
over the window length, and the greedy matching proceeds in rounds over all sentences at
once (each round every sentence takes its best remaining candidate).
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from itertools import chain
from typing import Any, Literal, Sequence, get_args

import numpy as np
from pydantic import Field

from projection.languages import language_key
from projection.project.base import (APOSTROPHES, ProjectionInput, batch_spans, code_hash, is_break_token, make_sentence,
                                     no_gc)
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Span
from projection.options import Options, validate_engine_options
from projection.store import package_versions

_NO_KEY = -1
_NO_KEY_TGT = -2
COPY_MIN = 0.95  # name similarity from which a target word counts as a copy of the source word


def _normalise(token: str) -> str:
    """Lower case without accents: the form compared for name similarity."""
    if token.isascii():
        return token.lower()
    decomposed = unicodedata.normalize("NFKD", token.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def is_initial_function_word(token: str) -> bool:
    """A word of at most three letters written with a capital first letter only (``El``, ``Die``, ``Het``, ``A``).

    At the start of a sentence such a word is most often an article or preposition capitalised by
    its position; see :func:`initial_words`.
    """
    return len(token) <= 3 and token.isalpha() and token[:1].isupper() and token[1:] == token[1:].lower()


def _is_copy(word: str, entity_word: str, name_min: float) -> bool:
    """Is the (normalised) target ``word`` a copy of the entity word, or its first part before a
    non-letter (``O`` of ``O'Meara``, ``Al`` of ``Al-Anwar``, ``S`` of ``S&P``)?"""
    from rapidfuzz.distance import Indel

    n = len(word)
    if entity_word.startswith(word) and (len(entity_word) == n or not entity_word[n].isalpha()):
        return True
    return Indel.normalized_similarity(word, entity_word) >= name_min


def initial_words(sentences: Sequence[Sequence[str]]) -> list[int]:
    """Per sentence, the index of its first word with a letter when that word is a short capitalised
    word (:func:`is_initial_function_word`), else -1.

    Function words are found by case (short lower-case words), so the article that opens a
    sentence (``El presidente iraquí``, ``Die deutsche Regierung``) escaped them, and a source
    entity linked to both it and the name ("Iraqi" -> ``El`` and ``iraquí``) could be projected onto
    the article alone. Such a word counts as a function word for every entity of which it is not a
    copy (``Jim`` for "Jim", ``El`` for "El Jadida", ``O`` for "O'Meara"). A source entity that
    opens its sentence gets no exemption ("The Washington Post" -> ``Washington Post``, the article
    outside as the CoNLL guidelines have it; "Sri Lankan" must not pull in the ``de`` of
    ``de Sri Lanka``).
    """
    out = []
    for tokens in sentences:
        j = next((i for i, t in enumerate(tokens) if any(ch.isalpha() for ch in t)), -1)
        out.append(j if j >= 0 and is_initial_function_word(tokens[j]) else -1)
    return out


class _TokenFeatures:
    """Memoised per-token features, as arrays indexed by a token-type id.

    The vocabulary repeats, so after warm-up a batch costs one dict lookup per token and a
    few fancy-indexing operations: ``brk`` (clause punctuation), ``fun`` (short lower-case
    function word), ``key`` (an integer for the first ``prefix`` normalised characters, -1
    for tokens with fewer letters or digits: only tokens with equal keys are compared by
    string similarity) and ``norm`` (the normalised form).
    """

    def __init__(self, prefix: int = 3) -> None:
        self.prefix = prefix
        self.ids: dict[str, int] = {}
        self.norm: list[str] = []
        self._brk: list[bool] = []
        self._fun: list[bool] = []
        self._apo: list[bool] = []
        self._key: list[int] = []
        self._keys: dict[str, int] = {}
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _add(self, new: Sequence[str]) -> None:
        """Features of new token types, in bulk (list comprehensions, no per-token calls)."""
        norms = [t.lower() if t.isascii() else _normalise(t) for t in new]
        p = self.prefix
        keys = self._keys
        for norm in norms:
            key = _NO_KEY
            if len(norm) >= p and (norm[:p].isalnum() or sum(map(str.isalnum, norm)) >= p):
                key = keys.setdefault(norm[:p], len(keys))
            self._key.append(key)
        self.norm.extend(norms)
        self._brk.extend(False if t[:1].isalnum() else is_break_token(t) for t in new)
        self._fun.extend(len(t) <= 3 and t.isalpha() and t.islower() for t in new)
        self._apo.extend(t in APOSTROPHES for t in new)
        first = len(self.ids)
        self.ids.update(zip(new, range(first, first + len(new))))
        self._arrays = None

    def lookup(self, tokens: Sequence[str]) -> np.ndarray:
        """Token-type ids of ``tokens``."""
        new = set(tokens).difference(self.ids)
        if new:
            self._add(list(new))
        return np.fromiter(map(self.ids.__getitem__, tokens), dtype=np.int64, count=len(tokens))

    def apostrophes(self) -> np.ndarray:
        """Per token-type id: a lone apostrophe (inside a name, never at its edge)."""
        return np.asarray(self._apo, dtype=bool)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(brk, fun, key) per token-type id."""
        if self._arrays is None:
            self._arrays = (np.asarray(self._brk, dtype=bool), np.asarray(self._fun, dtype=bool),
                            np.asarray(self._key, dtype=np.int64))
        return self._arrays


@dataclass
class _Candidates:
    """Sparse candidates of a batch: one row per (entity, target span) at or above the threshold."""

    ent: np.ndarray  # entity index (batch-local)
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray  # float32
    # per candidate, its words that the alignment also links to source words outside the entity: of two
    # equally scored windows the one with fewer such words wins ("Estados Unidos" for "U.S.", but "polnischer"
    # and not "polnischer Diplomat" for "Polish" when "Diplomat" is linked to "Polish" and to "diplomat")
    shared: np.ndarray | None = None


LowercaseConvention = Literal["misc", "drop", "keep"]

class NgramOptions(Options):
    """The options of :class:`NgramProjector` (the pipeline's ``[project]`` keys) and their ranges."""

    max_len: int = Field(10, ge=1)
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    matching: Literal["greedy", "exact"] = "greedy"
    name_weight: float = Field(0.9, ge=0.0, le=1.0)
    name_min: float = Field(0.7, ge=0.0, le=1.0)
    sim_weight: float = Field(0.8, ge=0.0, le=1.0)
    sim_temperature: float = Field(0.05, gt=0.0)
    edge_weight: float = Field(0.0, ge=0.0, le=1.0)
    inner_cost: float = Field(0.5, ge=0.0, le=1.0)
    lowercase: LowercaseConvention = "misc"
    batch_size: int = Field(2048, ge=1)


@dataclass
class NgramProjector:
    """Candidate matching; see the module docstring. Options are the pipeline's ``[project]`` keys."""

    max_len: int = 10
    threshold: float = 0.5
    matching: str = "greedy"
    name_weight: float = 0.9
    name_min: float = 0.7
    sim_weight: float = 0.8
    sim_temperature: float = 0.05
    edge_weight: float = 0.0
    inner_cost: float = 0.5
    lowercase: str = "misc"
    batch_size: int = 2048
    name: str = field(default="ngram", init=False)
    options_model = NgramOptions  # not a field: checks the options (also those of a pipeline file)

    def __post_init__(self) -> None:
        validate_engine_options(type(self), self.name, {k: getattr(self, k) for k in NgramOptions.model_fields})
        self._feat = _TokenFeatures()

    def signature(self) -> dict[str, Any]:
        opts = {k: v for k, v in asdict(self).items() if k not in ("name", "batch_size")}
        return {"method": self.name, **opts, "code": code_hash(type(self).__module__, __name__),
                "versions": package_versions("numpy", "scipy", "rapidfuzz")}

    # ------------------------------------------------------------------ public API

    def project(self, inputs: Sequence[ProjectionInput]) -> list[ProjectedSentence]:
        with no_gc():
            return self._project(inputs)

    def _project(self, inputs: Sequence[ProjectionInput]) -> list[ProjectedSentence]:
        results: list[list[ProjectedEntity]] = [[] for _ in inputs]
        spans = batch_spans([inp.source.tags for inp in inputs])
        todo = [b for b, sp in enumerate(spans) if sp]
        todo.sort(key=lambda b: len(inputs[b].target_tokens))
        for k in range(0, len(todo), self.batch_size):
            chunk = todo[k : k + self.batch_size]
            ents = self._project_batch([inputs[b] for b in chunk], [spans[b] for b in chunk])
            for b, e in zip(chunk, ents):
                results[b] = e
        return [make_sentence(inp, ents) for inp, ents in zip(inputs, results)]

    # ------------------------------------------------------------------ scoring

    def _soft(self, sim: np.ndarray) -> np.ndarray:
        """max(row softmax, column softmax) of a cosine matrix, scaled by ``sim_weight``."""
        s = np.asarray(sim, dtype=np.float32) / np.float32(self.sim_temperature)
        fwd = np.exp(s - s.max(axis=1, keepdims=True))
        fwd /= fwd.sum(axis=1, keepdims=True)
        bwd = np.exp(s - s.max(axis=0, keepdims=True))
        bwd /= bwd.sum(axis=0, keepdims=True)
        return np.float32(self.sim_weight) * np.maximum(fwd, bwd)

    def _candidates(self, inputs: Sequence[ProjectionInput], spans: Sequence[Sequence[Span]],
                    extra: dict[int, list[tuple[int, int]]] | None = None):
        """Score every candidate of every entity of a batch of sentences.

        Returns ``(ent_sent, ent_span, candidates, best, best_start, best_end, has_link,
        extra_scores)``: for each entity its sentence, span, best score and best span (over
        all valid candidates, for the status of unmatched entities), and whether any word
        is linked to it; the sparse candidates at or above the threshold; and for the
        requested ``extra`` (entity -> spans) their scores (-1 when not a valid candidate).
        """
        feat = self._feat
        B = len(inputs)
        ent_sent = np.fromiter((b for b, sps in enumerate(spans) for _ in sps), dtype=np.int64)
        ent_span = [sp for sps in spans for sp in sps]
        K = len(ent_span)
        ent_start = np.fromiter((sp.start for sp in ent_span), dtype=np.int64, count=K)
        ent_end = np.fromiter((sp.end for sp in ent_span), dtype=np.int64, count=K)
        elen = ent_end - ent_start
        n_tgt = np.fromiter((len(inp.target_tokens) for inp in inputs), dtype=np.int64, count=B)
        n_src = np.fromiter((len(inp.source.tokens) for inp in inputs), dtype=np.int64, count=B)
        N = max(int(n_tgt.max()) if B else 0, 1)

        # target words: features per sentence, padded to N
        flat_tgt = [t for inp in inputs for t in inp.target_tokens]
        tgt_ids = feat.lookup(flat_tgt)
        f_brk, f_fun, f_key = feat.arrays()
        rows = np.repeat(np.arange(B), n_tgt)
        cols = np.arange(len(flat_tgt)) - np.repeat(np.cumsum(n_tgt) - n_tgt, n_tgt)
        t_brk = np.zeros((B, N), dtype=bool)
        t_apo = np.zeros((B, N), dtype=bool)
        t_fun = np.zeros((B, N), dtype=np.float32)
        t_key = np.full((B, N), _NO_KEY_TGT, dtype=np.int64)
        t_id = np.zeros((B, N), dtype=np.int64)
        if flat_tgt:
            t_brk[rows, cols] = f_brk[tgt_ids]
            t_apo[rows, cols] = feat.apostrophes()[tgt_ids]
            t_fun[rows, cols] = f_fun[tgt_ids]
            keys = f_key[tgt_ids]
            keys[keys == _NO_KEY] = _NO_KEY_TGT
            t_key[rows, cols] = keys
            t_id[rows, cols] = tgt_ids

        t_init = np.asarray(initial_words([inp.target_tokens for inp in inputs]), dtype=np.int64)

        # alignment links -> (entity, entity word, target word)
        src_off = np.cumsum(n_src) - n_src
        tok2ent = np.full(int(n_src.sum()) + 1, -1, dtype=np.int64)
        ent_first = np.cumsum(elen) - elen
        within = np.arange(int(elen.sum())) - np.repeat(ent_first, elen)
        tok2ent[np.repeat(src_off[ent_sent] + ent_start, elen) + within] = np.repeat(np.arange(K), elen)
        counts = np.fromiter((len(inp.alignment.links) for inp in inputs), dtype=np.int64, count=B)
        lb_a = np.repeat(np.arange(B), counts)
        parr = np.fromiter(chain.from_iterable(chain.from_iterable(inp.alignment.links for inp in inputs)),
                           dtype=np.int64, count=2 * int(counts.sum())).reshape(-1, 2)
        li_a, lj_a = parr[:, 0], parr[:, 1]
        t_linked = np.zeros((B, N), dtype=bool)
        t_linked[lb_a, lj_a] = True
        t_nlinks = np.zeros((B, N), dtype=np.int64)  # links into each target word
        np.add.at(t_nlinks, (lb_a, lj_a), 1)
        t_neu = (~t_linked).astype(np.float32)
        lk = tok2ent[src_off[lb_a] + li_a]
        sel = lk >= 0
        lk, le, lj_e = lk[sel], (li_a[sel] - ent_start[lk[sel]]), lj_a[sel]

        # entity words: does a capitalised name begin/end with a function word ("de Palacio")?
        ent_tokens = [t for b, sp in zip(ent_sent.tolist(), ent_span) for t in inputs[b].source.tokens[sp.start : sp.end]]
        ent_ids = feat.lookup(ent_tokens)
        f_brk, f_fun, f_key = feat.arrays()
        src_fun = np.zeros((K, 2), dtype=bool)
        if K:
            src_fun[:, 0] = f_fun[ent_ids[ent_first]]
            src_fun[:, 1] = f_fun[ent_ids[ent_first + elen - 1]]
        ent_has_brk = (np.add.reduceat(f_brk[ent_ids].astype(np.int64), ent_first) > 0) if K else np.zeros(0, dtype=bool)
        ent_off = np.cumsum(elen) - elen
        ent_keys_a = np.append(f_key[ent_ids], _NO_KEY)
        # how often each entity word occurs among the entity words of its sentence
        tok_sent = np.repeat(ent_sent, elen)
        _, inverse, occ = np.unique(tok_sent * (int(ent_ids.max(initial=0)) + 1) + ent_ids, return_inverse=True,
                                    return_counts=True)
        tok_occurrences = occ[inverse.reshape(-1)]

        best = np.full(K, -1.0, dtype=np.float32)
        best_start = np.zeros(K, dtype=np.int64)
        best_end = np.zeros(K, dtype=np.int64)
        has_link = np.zeros(K, dtype=bool)
        c_ent: list[np.ndarray] = []
        c_start: list[np.ndarray] = []
        c_end: list[np.ndarray] = []
        c_score: list[np.ndarray] = []
        c_shared: list[np.ndarray] = []
        extra_scores: dict[int, list[float]] = {}
        soft_cache: dict[int, np.ndarray] = {}
        lim_all = np.maximum(self.max_len, 2 * elen)
        # entities grouped by length (1, 2, 3-4, 5-8, ...): little padding on the entity axis
        group_of = np.ceil(np.log2(np.maximum(elen, 1))).astype(np.int64)
        for g in np.unique(group_of).tolist():
            idx = np.flatnonzero(group_of == g)
            Kg = idx.size
            E = int(elen[idx].max())
            Ng = max(int(n_tgt[ent_sent[idx]].max()), 1)
            Lmax = min(int(lim_all[idx].max()), Ng)
            pos = np.full(K, -1, dtype=np.int64)
            pos[idx] = np.arange(Kg)
            X = np.zeros((Kg, E, Ng), dtype=np.float32)
            m = pos[lk] >= 0
            X[pos[lk[m]], le[m], lj_e[m]] = 1.0
            has_link[lk[m]] = True
            sg = ent_sent[idx]
            # target words linked to a source word outside the entity (more links than X, still links only,
            # holds from the entity), as running counts over the sentence
            shared_run = np.zeros((Kg, Ng + 1), dtype=np.int64)
            np.cumsum(t_nlinks[sg, :Ng] > X.sum(axis=1), axis=1, out=shared_run[:, 1:])
            # name similarity between entity words and target words with the same key
            copies = None
            if self.name_weight > 0:
                eword = np.arange(E)
                inside = eword[None, :] < elen[idx][:, None]
                flat_pos = np.where(inside, ent_off[idx][:, None] + eword[None, :], 0)
                kx = ent_keys_a[flat_pos]
                kx[~inside | (kx == _NO_KEY)] = -3
                kt = t_key[sg, :Ng]
                kk, ee, jj = np.nonzero(kx[:, :, None] == kt[:, None, :])
                if kk.size:
                    from rapidfuzz.distance import Indel
                    from rapidfuzz.process import cpdist

                    norm = feat.norm
                    a = [norm[i] for i in ent_ids[ent_off[idx[kk]] + ee].tolist()]
                    bt = [norm[i] for i in t_id[sg[kk], jj].tolist()]
                    sims = cpdist(a, bt, scorer=Indel.normalized_similarity, dtype=np.float32, workers=1)
                    ok = sims >= self.name_min
                    kk, ee, jj, sims = kk[ok], ee[ok], jj[ok], sims[ok]
                    X[kk, ee, jj] = np.maximum(X[kk, ee, jj], np.float32(self.name_weight) * sims)
                    has_link[idx[kk]] = True
                    # copies (similarity >= COPY_MIN) of a word that occurs no more often among the
                    # sentence's entity words than it has copies: unambiguous, as strong as a link
                    copy = sims >= COPY_MIN
                    ck, ce, cj = kk[copy], ee[copy], jj[copy]
                    tok = ent_off[idx[ck]] + ce
                    n_copies = np.bincount(tok, minlength=len(ent_ids))[tok]
                    sure = tok_occurrences[tok] <= n_copies
                    copies = (ck[sure], ce[sure], cj[sure])
            # embedding similarity
            if self.sim_weight > 0:
                for r, k in enumerate(idx.tolist()):
                    b = int(ent_sent[k])
                    sim = inputs[b].similarity
                    if sim is None or not sim.size:
                        continue
                    soft = soft_cache.get(b)
                    if soft is None:
                        soft = soft_cache[b] = self._soft(sim)
                    s0, s1 = int(ent_start[k]), int(ent_end[k])
                    n = soft.shape[1]
                    np.maximum(X[r, : s1 - s0, :n], soft[s0:s1], out=X[r, : s1 - s0, :n])
            # a word copied into the translation keeps only its copies: the aligner's other links
            # for it (e.g. a surname linked to the first name) are less reliable than the copy,
            # as long as the copies are unambiguous (a name twice in the source, once in the
            # translation, keeps its links: the other occurrence may be translated)
            if copies is not None and copies[0].size:
                ck, ce, cj = copies
                X[ck, ce, :] = 0.0
                X[ck, ce, cj] = 1.0
            pad = np.arange(Ng)[None, :] >= n_tgt[sg][:, None]
            brk = t_brk[sg, :Ng] | pad  # padding breaks windows
            # an entity that contains punctuation may span the same punctuation (never the padding,
            # whose token id 0 may be that punctuation's)
            for r in np.flatnonzero(ent_has_brk[idx]).tolist():
                k = int(idx[r])
                own = ent_ids[ent_off[k] : ent_off[k] + elen[k]]
                brk[r] &= ~np.isin(t_id[sg[r], :Ng], own[f_brk[own]]) | pad[r]
            fw = t_fun[sg, :Ng]
            for r in np.flatnonzero(t_init[sg] >= 0).tolist():  # the sentence's opening article, unless copied
                k, j0 = int(idx[r]), int(t_init[sg[r]])
                word = feat.norm[int(t_id[sg[r], j0])]
                own = (feat.norm[i] for i in ent_ids[ent_off[k] : ent_off[k] + elen[k]].tolist())
                if not any(_is_copy(word, w, self.name_min) for w in own):
                    fw[r, j0] = 1.0
            scores = self._window_scores(X, elen[idx].astype(np.float32), n_tgt[sg], brk, fw,
                                         t_neu[sg, :Ng], src_fun[idx], lim_all[idx], Lmax, t_apo[sg, :Ng])
            flat = scores.reshape(Kg, -1)
            arg = flat.argmax(axis=1)
            best[idx] = flat[np.arange(Kg), arg]
            best_start[idx] = arg % Ng
            best_end[idx] = arg % Ng + arg // Ng + 1
            kk, ll, ss = np.nonzero((scores >= np.float32(self.threshold)) & (scores > 0))
            c_ent.append(idx[kk])
            c_start.append(ss)
            c_end.append(ss + ll + 1)
            c_score.append(scores[kk, ll, ss])
            c_shared.append(shared_run[kk, ss + ll + 1] - shared_run[kk, ss])
            if extra:
                for r, k in enumerate(idx.tolist()):
                    for s0, s1 in extra.get(k, ()):
                        L = s1 - s0
                        ok = 1 <= L <= Lmax and 0 <= s0 and s1 <= Ng
                        extra_scores.setdefault(k, []).append(float(scores[r, L - 1, s0]) if ok else -1.0)
        cands = _Candidates(*(np.concatenate(x) if x else np.zeros(0, dtype=np.int64) for x in (c_ent, c_start, c_end)),
                            np.concatenate(c_score) if c_score else np.zeros(0, dtype=np.float32),
                            np.concatenate(c_shared) if c_shared else np.zeros(0, dtype=np.int64))
        return ent_sent, ent_span, cands, best, best_start, best_end, has_link, extra_scores

    def _window_scores(self, X, elen, tlen, brk, fw, neu, src_fun, lim, Lmax, apo=None) -> np.ndarray:
        """(K, Lmax, N) scores of every window [start, start + L); -1 where not a valid candidate
        (across a clause break, or starting or ending with a lone apostrophe, ``apo``).

        One pass per window length L: the running maximum (per entity word) and running sums
        over the window grow by one target word, so every score costs O(|e|) operations.
        """
        K, E, N = X.shape
        scores = np.full((K, Lmax, N), -1.0, dtype=np.float32)
        t = X.max(axis=1)  # (K, N): each target word's best link into the entity
        # coverage lost by a function word at a candidate's edge - unless the entity itself
        # starts (ends) with one, as in "de Palacio"
        weak = t * fw * np.float32(1.0 - self.edge_weight)
        weak_first = weak * ~src_fun[:, 0:1]
        weak_last = weak * ~src_fun[:, 1:2]
        R = X.copy()  # running max over the window, per entity word
        T = t.copy()  # running sum of target coverage over the window
        U = neu.copy()  # running count of unlinked words
        tn = np.maximum(t - np.float32(self.inner_cost), np.float32(0.0)) * neu  # unlinked coverage above inner_cost
        TN = tn.copy()  # running sum of that excess
        Bk = brk.copy()  # running "window contains a break token"
        saving = np.float32(1.0 - self.inner_cost)
        elen_c = elen[:, None]
        for L in range(1, Lmax + 1):
            w = N - L + 1
            if L > 1:
                np.maximum(R[:, :, :w], X[:, :, L - 1 :], out=R[:, :, :w])
                T[:, :w] += t[:, L - 1 :]
                U[:, :w] += neu[:, L - 1 :]
                TN[:, :w] += tn[:, L - 1 :]
                Bk[:, :w] |= brk[:, L - 1 :]
            num = R[:, 0, :w].copy() if E == 1 else R[:, :, :w].sum(axis=1)
            num += T[:, :w]
            if L == 1:
                num -= np.minimum(weak_first[:, :w], weak_last[:, :w])  # one word: both edges
                denom = elen_c + np.float32(1.0)
            else:
                num -= weak_first[:, :w]
                num -= weak_last[:, L - 1 :]
                # an unlinked inner word counts inner_cost of a word: in the length, and at most as much in the
                # coverage it brings (else its similarity lifts a score above 1, and then a shorter window above a
                # longer one: "Abierto de Estados" over "Abierto de Estados Unidos")
                inner_t = TN[:, :w] - tn[:, :w]
                inner_t -= tn[:, L - 1 :]
                num -= inner_t
                inner = U[:, :w] - neu[:, :w]
                inner -= neu[:, L - 1 :]
                inner *= -saving
                inner += elen_c + np.float32(L)
                denom = inner
            out = scores[:, L - 1, :w]
            np.divide(num, denom, out=out)
            invalid = Bk[:, :w]
            if apo is not None:
                invalid = invalid | apo[:, :w] | apo[:, L - 1 :]
            if L > self.max_len:
                invalid = invalid | (L > lim)[:, None]
            np.copyto(out, np.float32(-1.0), where=invalid)
        return scores

    # ------------------------------------------------------------------ matching and records

    def _match(self, ent_sent: np.ndarray, K: int, cands: _Candidates) -> np.ndarray:
        if self.matching == "greedy":
            return greedy_match(ent_sent, K, cands)
        return exact_match(ent_sent, K, cands)

    def _record(self, inp: ProjectionInput, sp: Span, target: Span | None, score: float, status: EntityStatus,
                method: str | None = None) -> ProjectedEntity:
        if target is not None and status == EntityStatus.PROJECTED:
            target, status = apply_lowercase(self.lowercase, inp, sp, target)
        return ProjectedEntity(sp, target, score, method or self.name, status)

    def _unmatched(self, inp, sp, best: float, start: int, end: int, has_link: bool, method: str | None = None):
        if best > 0 and np.float32(best) >= np.float32(self.threshold):
            status = EntityStatus.CONFLICT
        elif not has_link:
            status = EntityStatus.UNALIGNED
        else:
            status = EntityStatus.BELOW_THRESHOLD
        target = Span(start, end, sp.label) if best > 0 else None
        return self._record(inp, sp, target, max(best, 0.0), status, method)

    def _project_batch(self, inputs, spans) -> list[list[ProjectedEntity]]:
        ent_sent, ent_span, cands, best, bs, be, has_link, _ = self._candidates(inputs, spans)
        chosen = self._match(ent_sent, len(ent_span), cands)
        out: list[list[ProjectedEntity]] = [[] for _ in inputs]
        hit = chosen >= 0
        c = np.where(hit, chosen, 0)
        if cands.ent.size:
            starts, ends, scores = cands.start[c].tolist(), cands.end[c].tolist(), cands.score[c].tolist()
        projected, name, lowercase = EntityStatus.PROJECTED, self.name, self.lowercase
        for k, (sp, b, h) in enumerate(zip(ent_span, ent_sent.tolist(), hit.tolist())):
            if h:
                target, status = Span(starts[k], ends[k], sp.label), projected
                if lowercase != "keep":
                    target, status = apply_lowercase(lowercase, inputs[b], sp, target)
                rec = ProjectedEntity(sp, target, scores[k], name, status)
            else:
                rec = self._unmatched(inputs[b], sp, float(best[k]), int(bs[k]), int(be[k]), bool(has_link[k]))
            out[b].append(rec)
        return out


LOWERCASE_CONVENTIONS: tuple[str, ...] = get_args(LowercaseConvention)

# The lower-case convention of each target language's NER guidelines, read off the label statistics of
# its reference data (a design decision about a label convention: no model is selected with them):
# * es: CoNLL-2002 Spanish tags nationality adjectives O (esp.train: 579 lower-case "europeo",
#   "alemana", "británicos"... tagged O, 1 MISC);
# * nl: CoNLL-2002 Dutch capitalises nationality adjectives ("Nederlandse" B-MISC, 409 times) and
#   labels almost nothing lower-case (58 of 13,344 ned.train entities are entirely lower-case), so a
#   lower-case projection is a common noun or adjective that Dutch tags O;
# * de: German CoNLL-2003 tags them MISC (train: 145 lower-case nationality adjectives, all MISC;
#   "deutschen" B-MISC 50 times), as does Europarl-NER de;
# * hau, swa, yor, zul: MasakhaNER 2.0 has no MISC and labels lower-cased names as entities
#   (swa train: "marekani", "ulaya", "umoja wa mataifa" as LOC/ORG); NLLB lower-cases some names
#   (Yoruba "jámánì"), so the projected label is kept.
LOWERCASE_DEFAULTS: dict[str, str] = {"es": "drop", "nl": "drop", "de": "misc",
                                      "ha": "keep", "sw": "keep", "yo": "keep", "zu": "keep"}


def lowercase_default(lang: str) -> str:
    """The default lower-case convention for a target language code (ISO 639-1, 639-3 or NLLB)."""
    return LOWERCASE_DEFAULTS.get(language_key(lang), "misc")


def is_lowercase_span(tokens: Sequence[str]) -> bool:
    """Words with letters, none of which has a capital anywhere (``uFischler`` and ``de Palacio`` are not)."""
    alpha = [t for t in tokens if any(ch.isalpha() for ch in t)]
    return bool(alpha) and all(t == t.lower() and t != t.upper() for t in alpha)


def apply_lowercase(convention: str, inp: ProjectionInput, source: Span, target: Span) -> tuple[Span, EntityStatus]:
    """The projected span and status under a lower-case convention (see the module docstring).

    Only a source entity whose first word is capitalised and whose target span is entirely
    lower-case is affected; scripts without case never are.
    """
    if convention == "keep" or not is_lowercase_span(inp.target_tokens[target.start:target.end]):
        return target, EntityStatus.PROJECTED
    if not inp.source.tokens[source.start][:1].isupper():  # a name begins with a capital ("mainland European" does not)
        return target, EntityStatus.PROJECTED
    if convention == "drop":
        return target, EntityStatus.REMOVED
    if target.end - target.start == 1 and source.label in ("LOC", "ORG", "PER"):
        return Span(target.start, target.end, "MISC"), EntityStatus.PROJECTED
    return target, EntityStatus.PROJECTED


# ---------------------------------------------------------------------- matching


def greedy_match(ent_sent: np.ndarray, K: int, cands: _Candidates) -> np.ndarray:
    """Greedy one-to-one matching without overlapping candidates, all sentences at once.

    Candidates are sorted by sentence, then score (descending), entity, the number of their
    words also linked outside the entity (``shared``, when given), start and length
    (descending: of two equally good windows from one start, the one that takes in more words).
    In each round every sentence takes its first remaining candidate, then removes the
    other candidates of that entity and every candidate overlapping the chosen span.
    Returns, per entity, the index of its chosen candidate or -1.
    """
    chosen = np.full(K, -1, dtype=np.int64)
    if cands.ent.size == 0:
        return chosen
    sent = ent_sent[cands.ent]
    shared = cands.shared if cands.shared is not None else np.zeros_like(cands.start)
    order = np.lexsort((cands.start - cands.end, cands.start, shared, cands.ent, -cands.score, sent))
    sent_o, ent_o = sent[order], cands.ent[order]
    start_o, end_o = cands.start[order], cands.end[order]
    B = int(ent_sent.max()) + 1
    alive = np.flatnonzero(np.ones(order.size, dtype=bool))
    pick_start = np.zeros(B, dtype=np.int64)
    pick_end = np.zeros(B, dtype=np.int64)
    pick_ent = np.full(B, -1, dtype=np.int64)
    while alive.size:
        s = sent_o[alive]
        first = alive[np.concatenate(([True], s[1:] != s[:-1]))]
        chosen[ent_o[first]] = order[first]
        ps = sent_o[first]
        pick_start[ps], pick_end[ps], pick_ent[ps] = start_o[first], end_o[first], ent_o[first]
        has = np.zeros(B, dtype=bool)
        has[ps] = True
        sa = sent_o[alive]
        gone = has[sa] & ((ent_o[alive] == pick_ent[sa]) | ((start_o[alive] < pick_end[sa]) & (end_o[alive] > pick_start[sa])))
        alive = alive[~gone]
    return chosen


def exact_match(ent_sent: np.ndarray, K: int, cands: _Candidates, max_nodes: int = 2000) -> np.ndarray:
    """The non-overlapping one-to-one matching with the highest total score, per sentence.

    Solved by branch and bound: the assignment problem without the overlap constraint
    (scipy's ``linear_sum_assignment``, each entity may also stay unmatched) bounds every
    node; an overlap in its solution is split into "entity e takes candidate c" and "entity
    e never takes c". A sentence needing more than ``max_nodes`` nodes falls back to greedy.
    Sentences whose entities do not compete for overlapping spans take the greedy answer,
    which is then optimal.
    """
    chosen = greedy_match(ent_sent, K, cands)
    if cands.ent.size == 0:
        return chosen
    sent = ent_sent[cands.ent]
    per_sent = np.bincount(ent_sent[np.unique(cands.ent)], minlength=int(ent_sent.max()) + 1)
    for b in np.flatnonzero(per_sent >= 2).tolist():
        rows = np.flatnonzero(sent == b)
        ents = np.unique(cands.ent[rows])
        spans = np.unique(np.stack([cands.start[rows], cands.end[rows]], axis=1), axis=0)
        col = {(int(s), int(e)): c for c, (s, e) in enumerate(spans.tolist())}
        erow = {int(e): r for r, e in enumerate(ents.tolist())}
        block = np.full((ents.size, spans.shape[0]), -1.0, dtype=np.float64)
        index = np.full(block.shape, -1, dtype=np.int64)
        for r in rows.tolist():
            i, c = erow[int(cands.ent[r])], col[(int(cands.start[r]), int(cands.end[r]))]
            block[i, c] = cands.score[r]
            index[i, c] = r
        sol = _exact_sentence(block, spans[:, 0], spans[:, 1], -0.5, max_nodes)
        if sol is None:
            continue  # too hard: keep the greedy answer
        for i, e in enumerate(ents.tolist()):
            chosen[e] = index[i, sol[i]] if sol[i] >= 0 else -1
    return chosen


def _exact_sentence(block: np.ndarray, cs: np.ndarray, ce: np.ndarray, threshold: float, max_nodes: int):
    from scipy.optimize import linear_sum_assignment

    k = block.shape[0]
    cols = np.flatnonzero((block >= threshold).any(axis=0))
    if cols.size == 0:
        return np.full(k, -1, dtype=np.int64)
    sub = block[:, cols].astype(np.float64)
    allowed0 = sub >= threshold
    big = -1e6
    best_val = -1.0
    best_sol: np.ndarray | None = None
    stack: list[tuple[dict[int, int], frozenset[tuple[int, int]]]] = [({}, frozenset())]
    nodes = 0
    while stack:
        forced, forbidden = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            return None
        allowed = allowed0.copy()
        for e, c in forbidden:
            allowed[e, c] = False
        for e, c in forced.items():
            allowed[e, :] = False
            ov = (cs[cols] < ce[cols[c]]) & (ce[cols] > cs[cols[c]])
            allowed[:, ov] = False
        free = [e for e in range(k) if e not in forced]
        val = sum(sub[e, c] for e, c in forced.items())
        sol = np.full(k, -1, dtype=np.int64)
        for e, c in forced.items():
            sol[e] = c
        if free:
            mat = np.where(allowed[free], sub[free], big)
            mat = np.concatenate([mat, np.zeros((len(free), len(free)))], axis=1)  # "stay unmatched"
            r, c = linear_sum_assignment(mat, maximize=True)
            for rr, cc in zip(r.tolist(), c.tolist()):
                if cc < sub.shape[1] and mat[rr, cc] > big / 2:
                    sol[free[rr]] = cc
                    val += sub[free[rr], cc]
        if val <= best_val + 1e-9:
            continue
        clash = None
        picked = [(e, int(c)) for e, c in enumerate(sol.tolist()) if c >= 0]
        for x in range(len(picked)):
            for y in range(x + 1, len(picked)):
                (e1, c1), (e2, c2) = picked[x], picked[y]
                if cs[cols[c1]] < ce[cols[c2]] and cs[cols[c2]] < ce[cols[c1]]:
                    clash = (e1, c1) if e1 not in forced else (e2, c2)
                    break
            if clash:
                break
        if clash is None:
            best_val, best_sol = val, sol
            continue
        e, c = clash
        stack.append((forced, forbidden | {(e, c)}))
        stack.append(({**forced, e: c}, forbidden))
    out = np.full(k, -1, dtype=np.int64)
    if best_sol is not None:
        for e, c in enumerate(best_sol.tolist()):
            if c >= 0:
                out[e] = cols[c]
    return out
