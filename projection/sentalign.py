"""Monotone sentence alignment: match a translation file to its source when lines went missing.

Real MT output is not always line-parallel with its input: a pipeline drops sentences that
failed, and a system now and then merges two short sentences into one. The NLLB
translations of CoNLL-2003 train published with T-Projection have 13,881 to 14,031
sentences for the source's 14,041. :func:`match_sentences` recovers which target sentence
translates which source sentence, so that the source ids of the matched sentences can be
kept and the others reported, never paired with the wrong translation.

How it works
    Every sentence is reduced to the things MT copies: names and other words (lower-cased;
    a word with a lower-case prefix before a capital, as Zulu ``uFischler`` or
    ``eBrithani``, also counts as the part from the capital on), digit runs (``1996-08-22``
    -> 1996, 8, 22) and punctuation, each numbered by its occurrence (the second ``,`` is
    another feature than the first). Only features seen on both sides of the corpus count,
    weighted by rarity (``log((n + m) / df)``), so English function words and target-language
    words weigh nothing and a shared name weighs much. Two sentences score the weighted Dice
    overlap of their features, averaged with a length term: the log ratio of their lengths
    (non-space characters), whose mean and spread are estimated on the confident pairs of
    the corpus itself (a Gaussian likelihood in ``[0, 1]``).

    A dynamic programme over (source, target) positions finds the monotone path of highest
    total gain, with these moves:

    * ``1-1`` - source *i* is translated by target *j* (gain: score - ``tau``);
    * ``1-0`` - source *i* has no translation (gain ``-skip``);
    * ``0-1`` - target *j* translates no source sentence (gain ``-skip``);
    * ``2-1`` - target *j* translates sources *i* and *i+1* together (a **merge**;
      gain: score of the two sources joined - ``tau`` - ``merge_penalty``);
    * ``1-2`` - source *i* is translated by targets *j* and *j+1* (a **split**; same gain).

    The programme runs inside a band of diagonals ``j - i`` (the difference of the two
    sentence counts plus a margin on both sides), so its cost grows with the number of
    sentences times the band's width, not with their product: seconds for 14,041 sentences.
    When the best path runs along the band's edge, or has more gaps (skips, merges, splits)
    than the difference of the counts needs, the band is widened and the programme rerun.

What a match means downstream
    * ``1-1``: the pair is kept.
    * ``1-2``: the two target sentences together are the translation of the source sentence
      (joined with a space, their tokens concatenated): kept.
    * ``2-1``: dropped. The merged target translates two source sentences; pairing it with
      either one would leave the other's entities unlabelled in the target (false
      negatives), and the two source ids cannot be joined. Both source sentences are
      reported unmatched (as ``merged``) and the target sentence is not used.
    * ``1-0``: the source sentence is unmatched (``skipped``).
    * ``0-1``: the target sentence is not used.

Trust
    :meth:`SentenceMatch.check` refuses a match that is too poor to trust: fewer than
    ``min_matched`` (default 90 %) of the source sentences matched, or fewer than
    ``min_distinct`` (default 80 %) of the matched pairs *distinct*, i.e. scoring higher
    than both neighbouring candidates of the same source sentence (the target sentence
    before and after). The NLLB translations measured in ``docs/sentence-matching.md`` have
    97.8 to 98.9 % distinct pairs and use every translation but the few merged ones; a
    shuffled translation is refused (``tests/test_sentalign.py``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from projection.errors import ProjectionError

_TOKEN = re.compile(r"\d+|[^\W\d_]+|[^\w\s]")
_NEGATION = re.compile(r"(?<=\w)n't\b")  # "don't" reads like the Penn Treebank tokens "do n't"
NEG = -1e18

# moves of the dynamic programme (backpointer codes)
_M11, _SKIP_SRC, _SKIP_TGT, _M21, _M12, _START = 1, 2, 3, 4, 5, 6
KINDS = {_M11: "1-1", _SKIP_SRC: "1-0", _SKIP_TGT: "0-1", _M21: "2-1", _M12: "1-2"}

MIN_MATCHED = 0.9
LENGTH_WEIGHT = 0.5
MERGE_RECALL = 0.5  # a merge whose worse-covered source sentence has less evidence in the target pays the shortfall
MERGE_RECALL_MIN, MERGE_RECALL_FULL = 0.15, 0.8  # see _is_merge
MIN_DISTINCT = 0.8


@lru_cache(maxsize=1 << 16)
def _fold(word: str) -> str:
    """Lower case without accents: ``Jámánì`` -> ``jamani``, ``DIVISIÓN`` -> ``division``."""
    low = word.lower()
    if low.isascii():
        return low
    return "".join(ch for ch in unicodedata.normalize("NFKD", low) if not unicodedata.combining(ch))


def _features(text: str) -> tuple[list[str], list[str], int]:
    """(anchors, words, characters in anchors) of a sentence, anchors and words with repetitions.

    Anchors are what MT copies: digit runs, punctuation, and words with a capital letter
    (not counting the capital of the sentence's first word), lower-cased without accents.
    Words are every word (folded the same way), for the lexicon learnt on the corpus.
    """
    anchors: list[str] = []
    words: list[str] = []
    chars = 0
    first = True
    for tok in _TOKEN.findall(_NEGATION.sub(" n't", text)):
        c = tok[0]
        if c.isdigit():
            anchors.append("#" + (tok.lstrip("0") or "0"))
            chars += len(tok)
        elif c.isalpha():
            folded = _fold(tok)
            words.append(folded)
            lower = tok.lower()
            # anchors: words with a capital, except a sentence's first word with only its initial capital
            if lower != tok and not (first and tok[1:] == lower[1:]):
                anchors.append(folded)
                chars += len(tok)
                if c.islower():  # a lower-case prefix before a capital: uFischler -> fischler
                    for k in range(1, len(tok)):
                        if tok[k].isupper():
                            if len(tok) - k >= 2:
                                anchors.append(_fold(tok[k:]))
                            break
        else:
            anchors.append(tok)
            chars += len(tok)
        first = False
    return anchors, words, chars


MAX_REPEAT = 8  # occurrences of one feature that count separately (the 9th comma is the 8th)


def _counts(lists: Sequence[Sequence[str]], vocab: dict[str, int], grow: bool = True):
    """Sentence x feature count matrix (CSR) of feature lists; ``vocab`` grows unless ``grow`` is false."""
    import scipy.sparse as sp

    rows: list[int] = []
    cols: list[int] = []
    setdefault, get = vocab.setdefault, vocab.get
    for i, feats in enumerate(lists):
        for f in feats:
            j = setdefault(f, len(vocab)) if grow else get(f)
            if j is not None:
                rows.append(i)
                cols.append(j)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(lists), max(len(vocab), 1)))


def _expand(C, n_base: int):
    """Binary matrix of occurrence-numbered features: base feature f seen c times -> columns f*K .. f*K+c-1."""
    import scipy.sparse as sp

    coo = C.tocoo()
    reps = np.minimum(coo.data, MAX_REPEAT).astype(np.int64)
    rows = np.repeat(coo.row, reps)
    starts = np.repeat(np.cumsum(reps) - reps, reps)
    cols = np.repeat(coo.col.astype(np.int64) * MAX_REPEAT, reps) + (np.arange(reps.sum()) - starts)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(C.shape[0], n_base * MAX_REPEAT))


def _text(x: str | Sequence[str]) -> str:
    return x if isinstance(x, str) else " ".join(x)


@dataclass
class SentenceMatch:
    """The result of :func:`match_sentences`.

    ``links`` lists the path as ``(kind, source indices, target indices, score)`` in order,
    ``kind`` one of ``1-1``, ``1-2``, ``2-1``, ``1-0``, ``0-1``. :meth:`target_of` gives the
    target indices that translate a source sentence (``None`` when it is unmatched).
    """

    n_source: int
    n_target: int
    links: list[tuple[str, tuple[int, ...], tuple[int, ...], float]]
    distinct: int
    band: tuple[int, int]
    params: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._target: list[tuple[int, ...] | None] = [None] * self.n_source
        self._why: dict[int, str] = {}
        for kind, src, tgt, _ in self.links:
            if kind in ("1-1", "1-2"):
                self._target[src[0]] = tgt
            elif kind == "2-1":
                for i in src:
                    self._why[i] = "merged"
            elif kind == "1-0":
                self._why[src[0]] = "skipped"

    def target_of(self, i: int) -> tuple[int, ...] | None:
        return self._target[i]

    @property
    def source_to_target(self) -> list[tuple[int, ...] | None]:
        return list(self._target)

    @property
    def matched(self) -> int:
        return sum(1 for t in self._target if t is not None)

    @property
    def unmatched_source(self) -> list[int]:
        return [i for i, t in enumerate(self._target) if t is None]

    def unmatched_reason(self, i: int) -> str | None:
        """``merged`` or ``skipped`` for an unmatched source sentence, else None."""
        return self._why.get(i)

    def count(self, kind: str) -> int:
        return sum(1 for k, *_ in self.links if k == kind)

    @property
    def unused_target(self) -> list[int]:
        """Target sentences that translate no kept source sentence (``0-1`` and ``2-1``)."""
        return [j for k, _, tgt, _ in self.links if k in ("0-1", "2-1") for j in tgt]

    @property
    def distinct_rate(self) -> float:
        return self.distinct / self.matched if self.matched else 0.0

    def info(self, source_ids: Sequence[str] | None = None) -> dict[str, Any]:
        """Counts for a manifest; with ``source_ids`` the unmatched source sentences by id."""
        unmatched = self.unmatched_source
        ids = [source_ids[i] for i in unmatched] if source_ids is not None else unmatched
        return {
            "source_sentences": self.n_source, "target_sentences": self.n_target,
            "matched": self.matched, "unmatched": len(unmatched),
            "one_to_one": self.count("1-1"), "splits_1_2": self.count("1-2"), "merges_2_1": self.count("2-1"),
            "skipped_source": self.count("1-0"), "skipped_target": self.count("0-1"),
            "distinct_rate": round(self.distinct_rate, 4), "band": list(self.band),
            "unmatched_source_ids": ids,
            "merged_source_ids": [ids[k] for k, i in enumerate(unmatched) if self._why.get(i) == "merged"],
            "unused_target": self.unused_target,
            "thresholds": {"min_matched": self.params.get("min_matched", MIN_MATCHED),
                           "min_distinct": self.params.get("min_distinct", MIN_DISTINCT)},
        }

    def check(self, where: str = "translation", min_matched: float = MIN_MATCHED,
              min_distinct: float = MIN_DISTINCT) -> None:
        """Raise a :class:`ProjectionError` when the match is too poor to trust (see the module docstring)."""
        self.params.update(min_matched=min_matched, min_distinct=min_distinct)
        frac = self.matched / self.n_source if self.n_source else 1.0
        if frac < min_matched or self.distinct_rate < min_distinct:
            raise ProjectionError(
                f"{where}: {self.n_target:,} sentences for {self.n_source:,} source sentences, and the sentence "
                f"match is too poor to trust: {self.matched:,} source sentences matched ({frac:.1%}; at least "
                f"{min_matched:.0%} needed), {self.distinct_rate:.1%} of the matched pairs distinct from their "
                f"neighbours (at least {min_distinct:.0%} needed). Is this file a translation of this source?"
            )


def _joined(X):
    """Rows a and a+1 of a feature matrix added: the features of two neighbouring sentences together."""
    return X[:-1] + X[1:]


class _Channel:
    """One kind of evidence: weighted features of the sources (A) against binary ones of the targets (B);
    the score of a pair is the weighted Dice of its two feature sets."""

    def __init__(self, A, B, A2, B2, w: np.ndarray):
        import scipy.sparse as sp

        W = sp.diags(w.astype(np.float32))
        self.A = {"1": (A @ W).tocsr(), "2": (A2 @ W).tocsr()}
        self.B = {"1": B.tocsr().astype(np.float32), "2": B2.tocsr().astype(np.float32)}
        self.ma = {k: np.asarray(v.sum(1)).ravel() for k, v in self.A.items()}
        self.mb = {k: np.asarray(v @ w).ravel() for k, v in self.B.items()}


class _Scorer:
    """Pair scores between source and target sentences (and joined neighbours)."""

    def __init__(self, src: Sequence[str], tgt: Sequence[str]):
        self.n, self.m = len(src), len(tgt)
        fs = [_features(t) for t in src]
        ft = [_features(t) for t in tgt]
        vocab: dict[str, int] = {}
        As = _counts([f[0] for f in fs], vocab)
        At = _counts([f[0] for f in ft], vocab)
        nb = max(len(vocab), 1)
        As.resize((self.n, nb))
        At.resize((self.m, nb))
        S, T = _expand(As, nb), _expand(At, nb)
        dfs = np.asarray(S.sum(0)).ravel()
        dft = np.asarray(T.sum(0)).ravel()
        both = (dfs > 0) & (dft > 0)
        w = np.zeros(S.shape[1], dtype=np.float32)
        w[both] = np.log((self.n + self.m) / (dfs[both] + dft[both]))
        self.channels = {"anchors": _Channel(S, T, _expand(_joined(As), nb), _expand(_joined(At), nb), w)}
        # word sets of each side, for the lexicon (binary; separate vocabularies)
        self.vs: dict[str, int] = {}
        self.vt: dict[str, int] = {}
        self.Ws = _counts([f[1] for f in fs], self.vs)
        self.Wt = _counts([f[1] for f in ft], self.vt)
        self.Ws.data[:] = 1
        self.Wt.data[:] = 1
        self.ls = np.array([len(t) - t.count(" ") for t in src], dtype=np.float64)
        self.lt = np.array([len(t) - t.count(" ") for t in tgt], dtype=np.float64)
        self.ls2 = self.ls[:-1] + self.ls[1:]
        self.lt2 = self.lt[:-1] + self.lt[1:]
        # the length a translation is expected to have: anchors are copied, the other characters scale by c
        self.anchor_chars = np.array([f[2] for f in fs], dtype=np.float64)
        self.anchor_chars2 = self.anchor_chars[:-1] + self.anchor_chars[1:]
        self.c, self.mu, self.sigma = 1.0, 0.0, 0.3
        self.lexicon_size = 0

    def learn_lexicon(self, pairs: Sequence[tuple[int, int]], min_count: int = 3, min_dice: float = 0.2) -> None:
        """Word translations learnt from confidently matched pairs: each source word's target word of best
        Dice association (co-occurring at least ``min_count`` times). Adds the ``lexicon`` channel: the
        predicted target words of a source sentence against the lexicon words of a target sentence."""
        import scipy.sparse as sp

        if len(pairs) < 100:
            return
        I = np.array([p[0] for p in pairs])
        J = np.array([p[1] for p in pairs])
        Xs, Xt = self.Ws[I], self.Wt[J]
        C = (Xs.T @ Xt).tocoo()
        dfs = np.asarray(Xs.sum(0)).ravel()
        dft = np.asarray(Xt.sum(0)).ravel()
        dice = 2 * C.data / (dfs[C.row] + dft[C.col])
        keep = (C.data >= min_count) & (dice >= min_dice)
        row, col, dice = C.row[keep], C.col[keep], dice[keep]
        if not len(row):
            return
        order = np.lexsort((-dice, row))  # best target word first for each source word
        row, col = row[order], col[order]
        first = np.ones(len(row), dtype=bool)
        first[1:] = row[1:] != row[:-1]
        row, col = row[first], col[first]
        self.lexicon_size = len(row)
        L = sp.csr_matrix((np.ones(len(row), dtype=np.float32), (row, col)), shape=(self.Ws.shape[1], self.Wt.shape[1]))
        P = self.Ws @ L
        P.data[:] = 1
        P2 = _joined(P)
        P2.data[:] = 1
        in_lex = np.zeros(self.Wt.shape[1], dtype=np.float32)
        in_lex[col] = 1
        Wt = self.Wt @ sp.diags(in_lex)
        Wt.eliminate_zeros()
        Wt2 = _joined(Wt)
        Wt2.data[:] = 1
        dft_all = np.asarray(self.Wt.sum(0)).ravel()
        w = np.log((self.m + 1) / (dft_all + 1)).astype(np.float32)
        self.channels["lexicon"] = _Channel(P, Wt, P2, Wt2, w)

    def band(self, which: str, lo: int, width: int, block: int = 512) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Dice of every channel, and the log length ratio, for every row ``a`` and band column ``k``
        (target ``a + lo + k``); ``which`` is ``11``, ``21`` (sources a, a+1) or ``12`` (targets b, b+1)."""
        ka, kb = {"11": ("1", "1"), "21": ("2", "1"), "12": ("1", "2")}[which]
        ls = self.expected(ka == "2")
        lt = self.lt2 if kb == "2" else self.lt
        rows, cols = len(ls), len(lt)
        out = {name: np.full((rows, width), np.nan, dtype=np.float32) for name in self.channels}
        recall = {name: np.full((rows, width), np.nan, dtype=np.float32) for name in self.channels}
        logr = np.full((rows, width), np.nan, dtype=np.float32)
        ks = np.arange(width)
        for a0 in range(0, rows, block):
            a1 = min(rows, a0 + block)
            b0 = max(0, a0 + lo)
            b1 = min(cols, a1 - 1 + lo + width)
            if b1 <= b0:
                continue
            a = np.arange(a0, a1)[:, None]
            b = a + lo + ks[None, :]
            ok = (b >= b0) & (b < b1)
            bi = np.clip(b - b0, 0, b1 - b0 - 1)
            bc = np.clip(b, 0, cols - 1)
            for name, ch in self.channels.items():
                inter = (ch.A[ka][a0:a1] @ ch.B[kb][b0:b1].T).toarray()
                got = np.take_along_axis(inter, bi, axis=1)
                den = ch.ma[ka][a0:a1, None] + ch.mb[kb][bc]
                d = np.where(den > 0, 2 * got / np.maximum(den, 1e-9), np.nan)
                out[name][a0:a1] = np.where(ok, d, np.nan)
                ma = ch.ma[ka][a0:a1, None]
                recall[name][a0:a1] = np.where(ok & (ma > 0), got / np.maximum(ma, 1e-9), np.nan)
            r = np.log((lt[bc] + 10.0) / (ls[a0:a1, None] + 10.0))
            logr[a0:a1] = np.where(ok, r, np.nan)
        self.last_recall = recall
        return out, logr

    @staticmethod
    def part_recall(recall: dict[str, np.ndarray]) -> np.ndarray:
        """The mean over the channels of the share of a source sentence's evidence found in a target."""
        with np.errstate(invalid="ignore"):
            stack = np.stack(list(recall.values()))
            count = (~np.isnan(stack)).sum(0)
            return np.where(count > 0, np.nansum(stack, 0) / np.maximum(count, 1), np.nan).astype(np.float32)

    def expected(self, joined: bool = False) -> np.ndarray:
        """Expected translation length (non-space characters) of each source sentence (or joined pair)."""
        ls, ac = (self.ls2, self.anchor_chars2) if joined else (self.ls, self.anchor_chars)
        return ac + self.c * (ls - ac)

    def fit_length(self, dice: np.ndarray, logr: np.ndarray, lo: int) -> np.ndarray:
        """Fit the length model on confident pairs (the best, clear anchor match of a source sentence):
        ``c`` (target characters per non-anchor source character), then the mean and spread of the log
        ratio of actual to expected length. Returns ``logr`` (a 1-1 band) under the fitted model."""
        d = np.nan_to_num(dice, nan=-1.0)
        if d.shape[1] < 2:
            return logr
        part = np.partition(d, d.shape[1] - 2, axis=1)
        best, second = part[:, -1], part[:, -2]
        arg = d.argmax(1)
        conf = (best >= 0.5) & (best < 0.95) & (best - second >= 0.3) & (self.ls[: len(best)] >= 30)
        a = np.flatnonzero(conf)
        b = a + lo + arg[conf]
        other = self.ls[a] - self.anchor_chars[a]
        prose = other >= 20
        if prose.sum() < 20:
            return logr
        before = np.log(self.expected() + 10.0)
        self.c = float(np.clip(np.median((self.lt[b][prose] - self.anchor_chars[a][prose]) / other[prose]), 0.2, 5.0))
        r = np.log((self.lt[b] + 10.0) / (self.expected()[a] + 10.0))
        mu = float(np.median(r))
        sigma = float(np.median(np.abs(r - mu)) * 1.4826)
        self.mu, self.sigma = mu, min(max(sigma, 0.05), 0.5)
        return (logr + (before - np.log(self.expected() + 10.0))[: len(logr), None]).astype(np.float32)

    def score(self, dice: dict[str, np.ndarray], logr: np.ndarray) -> np.ndarray:
        """Weighted mean of the channels' Dice (weight 1 each, undefined ones left out) and of the length
        term (weight :data:`LENGTH_WEIGHT`): ``1 / (1 + z**2 / 4)`` of the standardised log length ratio,
        a heavy-tailed likelihood, so a long tail does not flatten every unlikely length to zero."""
        z = (logr - self.mu) / self.sigma
        total = LENGTH_WEIGHT / (1 + z * z / 4)
        count = np.full_like(total, LENGTH_WEIGHT)
        for d in dice.values():
            defined = ~np.isnan(d)
            total = total + np.where(defined, d, 0.0)
            count = count + defined
        return np.where(np.isnan(logr), np.nan, total / count).astype(np.float32)


def _dp(n: int, m: int, lo: int, width: int, g11: np.ndarray, g21: np.ndarray, g12: np.ndarray,
        skip_source: float, skip_target: float) -> list[tuple[int, int, int]]:
    """Best monotone path: list of (move, i, j) of the state each move arrives at."""
    g11 = np.where(np.isnan(g11), NEG, g11).astype(np.float64)
    g21 = np.where(np.isnan(g21), NEG, g21).astype(np.float64)
    g12 = np.where(np.isnan(g12), NEG, g12).astype(np.float64)
    V = np.full((n + 1, width), NEG)
    B = np.zeros((n + 1, width), dtype=np.int8)
    lift = skip_target * np.arange(width, dtype=np.float64)
    cand = np.empty(width)
    run = np.empty(width)
    better = np.empty(width, dtype=bool)

    def take(row: np.ndarray, code: np.ndarray, move: int) -> None:
        np.greater(cand, row, out=better)
        np.copyto(row, cand, where=better)
        code[better] = move

    for i in range(n + 1):
        row, code = V[i], B[i]
        if i == 0:
            if 0 <= -lo < width:
                row[-lo] = 0.0
                code[-lo] = _START
        else:
            prev = V[i - 1]
            np.add(prev, g11[i - 1], out=row)  # 1-1 from (i-1, j-1): same column
            code[:] = _M11
            cand[-1] = NEG
            np.subtract(prev[1:], skip_source, out=cand[:-1])  # 1-0 from (i-1, j): column k+1
            take(row, code, _SKIP_SRC)
            cand[0] = NEG
            np.add(prev[:-1], g12[i - 1, :-1], out=cand[1:])  # 1-2 from (i-1, j-2): column k-1
            take(row, code, _M12)
            if i >= 2:
                cand[-1] = NEG
                np.add(V[i - 2, 1:], g21[i - 2, 1:], out=cand[:-1])  # 2-1 from (i-2, j-1): column k+1
                take(row, code, _M21)
        # states outside 0 <= j <= m
        kmin, kmax = max(0, -i - lo), min(width - 1, m - i - lo)
        row[:kmin] = NEG
        row[kmax + 1:] = NEG
        # 0-1 moves within the row: V[k] = max(V[k], V[k-1] - skip), as a running max of V[k] + skip*k
        np.add(row, lift, out=run)
        np.maximum.accumulate(run, out=run)
        cand[0] = NEG
        np.subtract(run[:-1], lift[1:], out=cand[1:])
        cand[:kmin] = NEG
        cand[kmax + 1:] = NEG
        take(row, code, _SKIP_TGT)
    k = m - n - lo
    if not (0 <= k < width) or V[n, k] <= NEG / 2:
        raise ProjectionError("sentence matching: no path through the band (internal error)")
    path = []
    i = n
    while True:
        c = int(B[i, k])
        j = i + lo + k
        if c == _START:
            break
        path.append((c, i, j))
        if c == _M11:
            i -= 1
        elif c == _SKIP_SRC:
            i -= 1
            k += 1
        elif c == _SKIP_TGT:
            k -= 1
        elif c == _M21:
            i -= 2
            k += 1
        elif c == _M12:
            i -= 1
            k -= 1
        else:
            raise ProjectionError("sentence matching: broken backpointer (internal error)")
    path.reverse()
    return path


def _solve(scorer: _Scorer, n: int, m: int, lo: int, width: int, gains: tuple[float, ...],
           band11: tuple[dict[str, np.ndarray], np.ndarray] | None = None
           ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], list[tuple[int, int, int]]]:
    """Scores of the band (1-1, 2-1, 1-2) and the best path under them."""
    tau, merge_penalty, split_penalty, skip_source, skip_target = gains
    if band11 is None:
        band11 = scorer.band("11", lo, width)
    recall = scorer.part_recall(scorer.last_recall)
    s11 = scorer.score(*band11)
    s21 = scorer.score(*scorer.band("21", lo, width))
    s12 = scorer.score(*scorer.band("12", lo, width))
    # a merge needs evidence of both source sentences in the target: their worst recall there
    both = np.full_like(s21, np.nan)
    both[:, 1:] = np.fmin(recall[:-1, 1:], recall[1:, :-1])
    g21 = s21 - tau - merge_penalty - np.where(np.isnan(both), 0.0, np.maximum(0.0, MERGE_RECALL - both))
    path = _dp(n, m, lo, width, s11 - tau, g21, s12 - tau - split_penalty, skip_source, skip_target)
    return (s11, s21, s12), path


def _confident(path: list[tuple[int, int, int]], s11: np.ndarray, lo: int, width: int,
               min_score: float = 0.5) -> list[tuple[int, int]]:
    """1-1 pairs of a path that score at least ``min_score`` and above both neighbouring candidates."""
    out = []
    for c, i, j in path:
        if c != _M11:
            continue
        a, b = i - 1, j - 1
        k = b - a - lo
        sc = s11[a, k]
        if sc < min_score:
            continue
        nb = [s11[a, kk] for kk in (k - 1, k + 1) if 0 <= kk < width and not np.isnan(s11[a, kk])]
        if all(sc > x for x in nb):
            out.append((a, b))
    return out


def _merge_evidence(scorer: _Scorer, a: int, b: int, extra: int) -> tuple[float, float]:
    """For sources ``a, a+1`` and target ``b``: the share of source ``extra``'s evidence found in ``b``
    (mean over the channels that have some; NaN if none) and the log-likelihood ratio of ``b``'s length
    under "b translates both" against "b translates only the other one"."""
    recalls = []
    for ch in scorer.channels.values():
        mass = ch.ma["1"][extra]
        if mass > 0:
            recalls.append(float(ch.A["1"][extra].multiply(ch.B["1"][b]).sum()) / mass)
    recall = sum(recalls) / len(recalls) if recalls else float("nan")
    kept = a + 1 if extra == a else a
    log_t = math.log(scorer.lt[b] + 10.0)
    z_one = (log_t - math.log(scorer.expected()[kept] + 10.0) - scorer.mu) / scorer.sigma
    z_two = (log_t - math.log(scorer.expected(True)[a] + 10.0) - scorer.mu) / scorer.sigma
    return recall, (z_one * z_one - z_two * z_two) / 2


def _is_merge(recall: float, length_llr: float) -> bool:
    """Merged, rather than one of the two sources untranslated: the target's length fits both sources
    better than the other one alone and some of the sentence's evidence is in the target, or nearly all
    of its evidence is there and the length does not object."""
    if math.isnan(recall):
        return length_llr >= 1.0
    return (recall >= MERGE_RECALL_MIN and length_llr >= 0.5) or (recall >= MERGE_RECALL_FULL and length_llr >= -1.0)


def _resolve_merges(links: list, scorer: _Scorer, s11: Any, s21: Any) -> list:
    """Decide every merge-or-skip next to a 1-1 pair with a dedicated test (:func:`_is_merge`).

    The programme compares average scores, which a short sentence barely moves; here a skipped
    source sentence next to a 1-1 pair becomes a 2-1 merge when its evidence is in that target,
    and a 2-1 merge whose test fails becomes a 1-1 pair (the better-scoring source) and a skip.
    """
    out: list = []
    k = 0
    while k < len(links):
        kind, src, tgt, sc = links[k]
        nxt = links[k + 1] if k + 1 < len(links) else None
        if kind == "1-0" and nxt and nxt[0] == "1-1" and nxt[1][0] == src[0] + 1:
            a, b = src[0], nxt[2][0]
            if _is_merge(*_merge_evidence(scorer, a, b, a)):
                out.append(("2-1", (a, a + 1), (b,), s21(a, b)))
                k += 2
                continue
        elif kind == "1-1" and nxt and nxt[0] == "1-0" and nxt[1][0] == src[0] + 1:
            a, b = src[0], tgt[0]
            if _is_merge(*_merge_evidence(scorer, a, b, a + 1)):
                out.append(("2-1", (a, a + 1), (b,), s21(a, b)))
                k += 2
                continue
        elif kind == "2-1":
            a, b = src[0], tgt[0]
            first, second = s11(a, b), s11(a + 1, b)
            keep_first = not (second > first)
            extra = a + 1 if keep_first else a
            if not _is_merge(*_merge_evidence(scorer, a, b, extra)):
                if keep_first:
                    out.extend([("1-1", (a,), (b,), first), ("1-0", (a + 1,), (), 0.0)])
                else:
                    out.extend([("1-0", (a,), (), 0.0), ("1-1", (a + 1,), (b,), second)])
                k += 1
                continue
        out.append(links[k])
        k += 1
    return out


def match_sentences(source: Sequence[str | Sequence[str]], target: Sequence[str | Sequence[str]], *,
                    margin: int | None = None, tau: float = 0.25, skip_source: float = 0.15,
                    skip_target: float = 0.4, merge_penalty: float = 0.15, split_penalty: float = 0.45,
                    lexicon: bool = True, merge_check: bool = True) -> SentenceMatch:
    """Match ``target`` sentences (a translation) to ``source`` sentences, monotonically.

    Sentences are strings or token lists. ``margin`` widens the band of diagonals beyond
    the difference of the sentence counts (default: 20 + 0.2 % of the longer side).
    Returns a :class:`SentenceMatch`; call its :meth:`~SentenceMatch.check` to refuse a
    poor match. The other parameters are the gains of the module docstring.
    """
    src = [_text(s) for s in source]
    tgt = [_text(t) for t in target]
    n, m = len(src), len(tgt)
    if n == 0 or m == 0:
        links = [("1-0", (i,), (), 0.0) for i in range(n)] + [("0-1", (), (j,), 0.0) for j in range(m)]
        return SentenceMatch(n, m, links, 0, (0, 0))
    if m < n / 2 or m > 2 * n:
        raise ProjectionError(f"sentence matching: {m:,} target sentences for {n:,} source sentences; "
                              "too different for a translation of this source")
    scorer = _Scorer(src, tgt)
    margin = margin if margin is not None else 20 + int(0.002 * max(n, m))
    gains = (tau, merge_penalty, split_penalty, skip_source, skip_target)
    while True:
        full_lo, full_hi = min(0, m - n) - margin, max(0, m - n) + margin
        lo, hi, width = full_lo, full_hi, full_hi - full_lo + 1
        scorer.channels.pop("lexicon", None)
        d11, r11 = scorer.band("11", lo, width)
        r11 = scorer.fit_length(d11["anchors"], r11, lo)
        scores, path = _solve(scorer, n, m, lo, width, gains, (d11, r11))
        if lexicon:  # second pass: with the word translations learnt on the first pass's confident pairs
            scorer.learn_lexicon(_confident(path, scores[0], lo, width))
            if "lexicon" in scorer.channels:
                # in a band around the first path (its offsets and a margin): cheaper, and as wide as needed
                offsets = [j - i for _, i, j in path]
                lo, hi = max(lo, min(offsets) - 20), min(hi, max(offsets) + 20)
                width = hi - lo + 1
                scores, path = _solve(scorer, n, m, lo, width, gains)
        offsets = [j - i for _, i, j in path]
        edge = min(offsets) <= full_lo + 2 or max(offsets) >= full_hi - 2
        # more gaps (skips, merges, splits) than the counts need: the band may have cut the true path off
        gaps = sum(1 for c, _, _ in path if c != _M11) - abs(n - m)
        if not (edge or gaps > max(10, 0.002 * max(n, m))) or full_hi - full_lo >= 2 * max(n, m):
            break
        margin *= 4
    s11, s21, s12 = scores

    def at(arr: np.ndarray, a: int, b: int) -> float:
        k = b - a - lo
        return float(arr[a, k]) if 0 <= a < arr.shape[0] and 0 <= k < width else float("nan")

    links: list[tuple[str, tuple[int, ...], tuple[int, ...], float]] = []
    for c, i, j in path:
        if c == _M11:
            links.append(("1-1", (i - 1,), (j - 1,), at(s11, i - 1, j - 1)))
        elif c == _SKIP_SRC:
            links.append(("1-0", (i - 1,), (), 0.0))
        elif c == _SKIP_TGT:
            links.append(("0-1", (), (j - 1,), 0.0))
        elif c == _M21:
            links.append(("2-1", (i - 2, i - 1), (j - 1,), at(s21, i - 2, j - 1)))
        else:
            links.append(("1-2", (i - 1,), (j - 2, j - 1), at(s12, i - 1, j - 2)))
    if merge_check:
        links = _resolve_merges(links, scorer, lambda a, b: at(s11, a, b), lambda a, b: at(s21, a, b))
    distinct = 0
    for kind, src_i, tgt_j, sc in links:
        if kind == "1-1":
            near = [at(s11, src_i[0], tgt_j[0] + d) for d in (-1, 1)]
        elif kind == "1-2":
            near = [at(s11, src_i[0], j) for j in tgt_j]
        else:
            continue
        distinct += all(sc > x for x in near if not math.isnan(x))
    params = {"tau": tau, "skip_source": skip_source, "skip_target": skip_target, "merge_penalty": merge_penalty,
              "split_penalty": split_penalty, "length_c": round(scorer.c, 4), "length_mu": round(scorer.mu, 4),
              "length_sigma": round(scorer.sigma, 4), "lexicon": scorer.lexicon_size}
    return SentenceMatch(n, m, links, distinct, (lo, hi), params)
