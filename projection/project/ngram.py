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
  name are outside the gold span), unless the entity itself begins (ends) with one;
* a word *inside* a candidate that is linked to nothing in the sentence costs only
  ``inner_cost`` of a word ("Fondo de Cohesión" for "Cohesion Fund": the ``de`` has no
  English counterpart).

With ``relabel`` a capitalised LOC/ORG/PER source entity projected onto lower-case words
becomes MISC: a derived adjective ("Europe" -> "europeas"), as CoNLL guidelines label it.

Entities are then matched one-to-one with non-overlapping candidates, greedily by score
(``matching="greedy"``) or exactly (``matching="exact"``: the assignment maximising the total
score, by branch and bound over scipy's ``linear_sum_assignment``). Candidates under
``threshold`` are never chosen.

Everything but the per-sentence bookkeeping runs as NumPy array operations over batches of
sentences of similar target length.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from projection.errors import ProjectionError
from projection.project.base import ProjectionInput, is_break_token, make_sentence
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Span
from projection.store import package_versions

_NO_KEY_SRC = -1
_NO_KEY_TGT = -2


def _normalise(token: str) -> str:
    """Lower case without accents: the form compared for name similarity."""
    decomposed = unicodedata.normalize("NFKD", token.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class _TokenFeatures:
    """Memoised per-token features (the vocabulary repeats, so this is a dict lookup)."""

    def __init__(self, prefix: int = 3) -> None:
        self.prefix = prefix
        self._norm: dict[str, str] = {}
        self._key: dict[str, int] = {}
        self._keys: dict[str, int] = {}
        self._brk: dict[str, bool] = {}
        self._fun: dict[str, bool] = {}

    def norm(self, token: str) -> str:
        v = self._norm.get(token)
        if v is None:
            v = self._norm[token] = _normalise(token)
        return v

    def key(self, token: str) -> int:
        """An integer for the first ``prefix`` normalised letters; -1 for short or non-word tokens."""
        v = self._key.get(token)
        if v is None:
            norm = self.norm(token)
            if len(norm) >= self.prefix and sum(ch.isalnum() for ch in norm) >= self.prefix:
                v = self._keys.setdefault(norm[: self.prefix], len(self._keys))
            else:
                v = _NO_KEY_SRC
            self._key[token] = v
        return v

    def function(self, token: str) -> bool:
        """A short lower-case word (articles, prepositions: "de", "la", "der", "für")."""
        v = self._fun.get(token)
        if v is None:
            v = self._fun[token] = len(token) <= 3 and token.isalpha() and token.islower()
        return v

    def brk(self, token: str) -> bool:
        v = self._brk.get(token)
        if v is None:
            v = self._brk[token] = is_break_token(token)
        return v


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
    relabel: bool = True
    batch_size: int = 1024
    name: str = field(default="ngram", init=False)

    def __post_init__(self) -> None:
        if self.matching not in ("greedy", "exact"):
            raise ProjectionError(f"ngram: matching must be 'greedy' or 'exact', not {self.matching!r}")
        if self.max_len < 1:
            raise ProjectionError(f"ngram: max_len must be >= 1, not {self.max_len}")
        for key in ("threshold", "name_weight", "name_min", "sim_weight", "edge_weight", "inner_cost"):
            v = getattr(self, key)
            if not 0.0 <= v <= 1.0:
                raise ProjectionError(f"ngram: {key} must be between 0 and 1, not {v}")
        if self.sim_temperature <= 0:
            raise ProjectionError(f"ngram: sim_temperature must be > 0, not {self.sim_temperature}")
        self._feat = _TokenFeatures()

    def signature(self) -> dict[str, Any]:
        opts = {k: v for k, v in asdict(self).items() if k not in ("name", "batch_size")}
        return {"method": self.name, **opts, "versions": package_versions("numpy", "scipy", "rapidfuzz")}

    # ------------------------------------------------------------------ public API

    def project(self, inputs: Sequence[ProjectionInput]) -> list[ProjectedSentence]:
        results: list[list[ProjectedEntity]] = [[] for _ in inputs]
        spans = [inp.source.spans for inp in inputs]
        todo = [b for b, sp in enumerate(spans) if sp]
        todo.sort(key=lambda b: len(inputs[b].target_tokens))
        for k in range(0, len(todo), self.batch_size):
            chunk = todo[k : k + self.batch_size]
            for b, ents in zip(chunk, self._project_batch([inputs[b] for b in chunk], [spans[b] for b in chunk])):
                results[b] = ents
        return [make_sentence(inp, ents) for inp, ents in zip(inputs, results)]

    def score_matrix(self, inp: ProjectionInput) -> np.ndarray:
        """The fused link weights ``W`` (source words x target words) of one sentence pair."""
        w, _ = self._weights([inp], [[Span(0, len(inp.source.tokens), "X")]] if inp.source.tokens else [[]])
        return w[0]

    def candidate_scores(self, inputs: Sequence[ProjectionInput], spans: Sequence[Sequence[Span]]):
        """Scores of every (entity, start, length) candidate: arrays ``(scores, valid)`` of shape
        ``(entities, max target length, min(max_len, max target length))``, entities in order."""
        weights, hard = self._weights(inputs, spans)
        return self._scores(inputs, spans, weights, hard)[:2]

    # ------------------------------------------------------------------ internals

    def _weights(self, inputs: Sequence[ProjectionInput], spans: Sequence[Sequence[Span]]):
        """Per sentence: the fused weight matrix and the 0/1 'hard' links (alignment or name match)."""
        feat = self._feat
        weights: list[np.ndarray] = []
        hard: list[np.ndarray] = []
        name_pairs: list[tuple[int, int, int]] = []
        name_a: list[str] = []
        name_b: list[str] = []
        for b, inp in enumerate(inputs):
            m, n = len(inp.source.tokens), len(inp.target_tokens)
            a = np.zeros((m, n), dtype=np.float32)
            if inp.alignment.links:
                links = np.fromiter((x for link in inp.alignment.links for x in link), dtype=np.int64).reshape(-1, 2)
                a[links[:, 0], links[:, 1]] = 1.0
            weights.append(a)
            hard.append(a > 0)
            if self.name_weight > 0 and spans[b] and n:
                src_idx = [i for sp in spans[b] for i in range(sp.start, sp.end)]
                sk = np.fromiter((feat.key(inp.source.tokens[i]) for i in src_idx), dtype=np.int64, count=len(src_idx))
                tk = np.fromiter((feat.key(t) for t in inp.target_tokens), dtype=np.int64, count=n)
                tk[tk == _NO_KEY_SRC] = _NO_KEY_TGT
                ii, jj = np.nonzero(sk[:, None] == tk[None, :])
                for i_, j_ in zip(ii.tolist(), jj.tolist()):
                    i = src_idx[i_]
                    name_pairs.append((b, i, j_))
                    name_a.append(feat.norm(inp.source.tokens[i]))
                    name_b.append(feat.norm(inp.target_tokens[j_]))
            if self.sim_weight > 0 and inp.similarity is not None and m and n:
                s = np.asarray(inp.similarity, dtype=np.float32) / self.sim_temperature
                fwd = np.exp(s - s.max(axis=1, keepdims=True))
                fwd /= fwd.sum(axis=1, keepdims=True)
                bwd = np.exp(s - s.max(axis=0, keepdims=True))
                bwd /= bwd.sum(axis=0, keepdims=True)
                np.maximum(a, self.sim_weight * np.maximum(fwd, bwd), out=a)
        if name_pairs:
            from rapidfuzz.distance import Indel
            from rapidfuzz.process import cpdist

            sims = cpdist(name_a, name_b, scorer=Indel.normalized_similarity, dtype=np.float32, workers=1)
            for (b, i, j), sim in zip(name_pairs, sims.tolist()):
                if sim >= self.name_min:
                    w = self.name_weight * sim
                    if weights[b][i, j] < w:
                        weights[b][i, j] = w
                    hard[b][i, j] = True
        return weights, hard

    def _scores(self, inputs, spans, weights, hard):
        """Vectorised candidate scores for a batch. Returns (scores, valid, meta)."""
        feat = self._feat
        ent_sent: list[int] = []
        ent_span: list[Span] = []
        for b, sps in enumerate(spans):
            for sp in sps:
                ent_sent.append(b)
                ent_span.append(sp)
        K = len(ent_span)
        N = max((len(inputs[b].target_tokens) for b in range(len(inputs))), default=0)
        N = max(N, 1)
        E = max((len(sp) for sp in ent_span), default=1)
        Lmax = min(max(self.max_len, 2 * E), N)
        X = np.zeros((K, E, N), dtype=np.float32)
        elen = np.empty(K, dtype=np.float32)
        tlen = np.empty(K, dtype=np.int64)
        has_link = np.zeros(K, dtype=bool)
        src_fun = np.zeros((K, 2), dtype=bool)
        tb = np.zeros((len(inputs), N), dtype=bool)
        tf = np.zeros((len(inputs), N), dtype=np.float32)
        tn = np.zeros((len(inputs), N), dtype=np.float32)
        for b, inp in enumerate(inputs):
            toks = inp.target_tokens
            n = len(toks)
            if n:
                tb[b, :n] = np.fromiter((feat.brk(t) for t in toks), dtype=bool, count=n)
                tf[b, :n] = np.fromiter((feat.function(t) for t in toks), dtype=np.float32, count=n)
                tn[b, :n] = ~hard[b].any(axis=0)
        sid = np.asarray(ent_sent, dtype=np.int64)
        brk = tb[sid]
        for k, (b, sp) in enumerate(zip(ent_sent, ent_span)):
            w = weights[b]
            n = w.shape[1]
            X[k, : len(sp), :n] = w[sp.start : sp.end]
            elen[k] = len(sp)
            tlen[k] = n
            has_link[k] = hard[b][sp.start : sp.end].any()
            src = inputs[b].source.tokens[sp.start : sp.end]
            src_fun[k, 0] = feat.function(src[0])
            src_fun[k, 1] = feat.function(src[-1])
            if any(feat.brk(t) for t in src):  # an entity containing punctuation may span it
                allowed = {t for t in src if feat.brk(t)}
                for j, t in enumerate(inputs[b].target_tokens):
                    if t in allowed:
                        brk[k, j] = False
        scores = np.full((K, N, Lmax), -1.0, dtype=np.float32)
        valid = np.zeros((K, N, Lmax), dtype=bool)
        if K == 0:
            return scores, valid, (ent_sent, ent_span, has_link)
        fw = tf[sid]  # function words (weak at a candidate's edge)
        neu = tn[sid]  # words linked to nothing (cheap inside a candidate)
        lim = np.maximum(self.max_len, 2 * elen.astype(np.int64))  # long entities get long candidates
        t = X.max(axis=1)  # (K, N): each target word's best link into the entity
        # coverage lost by a function word at a candidate's edge - unless the entity itself
        # starts (ends) with one, as in "de Palacio"
        weak = t * fw * np.float32(1.0 - self.edge_weight)
        weak_first = weak * ~src_fun[:, 0:1]
        weak_last = weak * ~src_fun[:, 1:2]
        R = X.copy()  # running max over the window, per entity word
        T = t.copy()  # running sum of target coverage over the window
        U = neu.copy()  # running count of unlinked words
        B = brk.copy()  # running "window contains a break token"
        pos = np.arange(N)
        saving = np.float32(1.0 - self.inner_cost)
        for L in range(1, Lmax + 1):
            w = N - L + 1
            if L > 1:
                np.maximum(R[:, :, :w], X[:, :, L - 1 :], out=R[:, :, :w])
                T[:, :w] += t[:, L - 1 :]
                U[:, :w] += neu[:, L - 1 :]
                B[:, :w] |= brk[:, L - 1 :]
            if L == 1:
                tcov = T[:, :w] - np.minimum(weak_first[:, :w], weak_last[:, :w])  # one word: both edges
                denom = elen[:, None] + np.float32(1.0)
            else:
                tcov = T[:, :w] - weak_first[:, :w] - weak_last[:, L - 1 :]
                inner = U[:, :w] - neu[:, :w] - neu[:, L - 1 :]
                denom = elen[:, None] + np.float32(L) - saving * inner
            num = R[:, :, :w].sum(axis=1) + tcov
            scores[:, :w, L - 1] = num / denom
            valid[:, :w, L - 1] = ~B[:, :w] & (pos[None, :w] + L <= tlen[:, None]) & (L <= lim)[:, None]
        scores[~valid] = -1.0
        return scores, valid, (ent_sent, ent_span, has_link)

    def _project_batch(self, inputs, spans) -> list[list[ProjectedEntity]]:
        weights, hard = self._weights(inputs, spans)
        scores, valid, (ent_sent, ent_span, has_link) = self._scores(inputs, spans, weights, hard)
        K, N, Lmax = scores.shape
        flat = scores.reshape(K, N * Lmax)
        cand_start = np.repeat(np.arange(N), Lmax)
        cand_end = cand_start + np.tile(np.arange(1, Lmax + 1), N)
        sid = np.asarray(ent_sent, dtype=np.int64)
        best0 = flat.max(axis=1)
        arg0 = flat.argmax(axis=1)
        if self.matching == "greedy":
            chosen = greedy_match(flat, sid, cand_start, cand_end, self.threshold)
        else:
            chosen = exact_match(flat, sid, cand_start, cand_end, self.threshold)
        out: list[list[ProjectedEntity]] = [[] for _ in inputs]
        for k in range(K):
            sp = ent_span[k]
            c = int(chosen[k])
            if c >= 0:
                target = Span(int(cand_start[c]), int(cand_end[c]), sp.label)
                if self.relabel:
                    target = relabel_adjective(inputs[ent_sent[k]], sp, target)
                out[ent_sent[k]].append(ProjectedEntity(sp, target, float(flat[k, c]), self.name, EntityStatus.PROJECTED))
                continue
            b0 = float(best0[k])
            if b0 >= self.threshold:
                status = EntityStatus.CONFLICT
            elif not has_link[k]:
                status = EntityStatus.UNALIGNED
            else:
                status = EntityStatus.BELOW_THRESHOLD
            a0 = int(arg0[k])
            target = Span(int(cand_start[a0]), int(cand_end[a0]), sp.label) if b0 > 0 else None
            out[ent_sent[k]].append(ProjectedEntity(sp, target, max(b0, 0.0), self.name, status))
        return out


def relabel_adjective(inp: ProjectionInput, source: Span, target: Span) -> Span:
    """A capitalised LOC/ORG/PER name translated as a lower-case word is an adjective derived
    from the name ("Europe" -> "europeas", "Belgium" -> "belgischen", "Community" ->
    "comunitarias"), which CoNLL-style guidelines label MISC. Scripts without case never
    trigger this."""
    if source.label not in ("LOC", "ORG", "PER"):
        return target
    src_first = inp.source.tokens[source.start]
    words = [t for t in inp.target_tokens[target.start : target.end] if any(ch.isalpha() for ch in t)]
    if src_first[:1].isupper() and words and all(w[:1].islower() for w in words):
        return Span(target.start, target.end, "MISC")
    return target


# ---------------------------------------------------------------------- matching


def greedy_match(flat: np.ndarray, sid: np.ndarray, cand_start: np.ndarray, cand_end: np.ndarray,
                 threshold: float) -> np.ndarray:
    """Greedy one-to-one matching with no overlapping candidates, for all sentences at once.

    ``flat`` is (entities, candidates) with -1 for invalid candidates; ``sid`` the sentence of
    each entity (entities of a sentence contiguous). In each round every unfinished sentence
    takes its best remaining (entity, candidate) pair - ties go to the earlier entity, then
    the earlier and shorter candidate - and removes the candidates overlapping it from its
    other entities. A sentence whose best remaining pair is under the threshold is finished.
    Returns the chosen candidate per entity, -1 for none.
    """
    K = flat.shape[0]
    chosen = np.full(K, -1, dtype=np.int64)
    if K == 0:
        return chosen
    work = flat.copy()
    active = np.arange(K)
    while active.size:
        sub = work[active]
        arg = sub.argmax(axis=1)
        best = sub[np.arange(active.size), arg]
        s = sid[active]
        # per sentence, the entity with the highest best score (ties: the earliest entity)
        order = np.lexsort((active, -best, s))
        first = np.ones(order.size, dtype=bool)
        first[1:] = s[order][1:] != s[order][:-1]
        pick = order[first]  # indices into active
        ok = best[pick] >= threshold
        done_sent = s[pick[~ok]]
        good = pick[ok]
        ent = active[good]
        cand = arg[good]
        chosen[ent] = cand
        # block overlapping candidates for the other entities of the same sentences
        sel_start = np.full(int(sid.max()) + 1, 0, dtype=np.int64)
        sel_end = np.full(int(sid.max()) + 1, 0, dtype=np.int64)
        sel_start[s[good]] = cand_start[cand]
        sel_end[s[good]] = cand_end[cand]
        keep = np.ones(active.size, dtype=bool)
        keep[good] = False
        keep &= ~np.isin(s, done_sent)
        active = active[keep]
        if not active.size:
            break
        sa = sid[active]
        hit = np.isin(sa, s[good])
        if hit.any():
            rows = active[hit]
            st, en = sel_start[sa[hit]], sel_end[sa[hit]]
            overlap = (cand_start[None, :] < en[:, None]) & (cand_end[None, :] > st[:, None])
            block = work[rows]
            block[overlap] = -1.0
            work[rows] = block
    return chosen


def exact_match(flat: np.ndarray, sid: np.ndarray, cand_start: np.ndarray, cand_end: np.ndarray,
                threshold: float, max_nodes: int = 2000) -> np.ndarray:
    """The non-overlapping one-to-one matching with the highest total score, per sentence.

    Solved by branch and bound: the assignment problem without the overlap constraint
    (scipy's ``linear_sum_assignment``, each entity may also stay unmatched) bounds every
    node; an overlap in its solution is split into "entity e takes candidate c" and "entity
    e never takes c". A sentence needing more than ``max_nodes`` nodes falls back to greedy.
    """
    chosen = np.full(flat.shape[0], -1, dtype=np.int64)
    if flat.shape[0] == 0:
        return chosen
    bounds = np.flatnonzero(np.diff(sid)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(sid)]])
    for a, b in zip(starts.tolist(), ends.tolist()):
        block = flat[a:b]
        if b - a == 1:
            c = int(block[0].argmax())
            if block[0, c] >= threshold:
                chosen[a] = c
            continue
        sol = _exact_sentence(block, cand_start, cand_end, threshold, max_nodes)
        if sol is None:
            sol = greedy_match(block, np.zeros(b - a, dtype=np.int64), cand_start, cand_end, threshold)
        chosen[a:b] = sol
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
