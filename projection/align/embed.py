"""``embed``: SimAlign's word aligner (Jalili Sabet et al. 2020), re-implemented batched.

SimAlign aligns with the contextual embeddings of a multilingual encoder, no training:
each sentence is encoded *on its own*, the subword vectors of hidden layer ``layer`` are
compared by cosine similarity, and links are read off the subword similarity matrix:

* ``argmax`` (SimAlign's "Argmax"/``inter``): subwords that are each other's most similar
  subword in both directions (a mutual argmax);
* ``itermax``: argmax, then up to one more round of mutual argmax restricted to rows and
  columns left unaligned (SimAlign's ``iter_max`` with ``max_count=2``, ``alpha=0.9``);
* ``match`` (SimAlign's "Match"/``mwmf``): a maximum-weight maximum-cardinality bipartite
  matching of the similarity matrix, solved with :func:`scipy.optimize.linear_sum_assignment`
  (SimAlign uses networkx's blossom algorithm; the optimum is the same);
* ``fwd`` / ``rev``: the one-directional argmax.

A subword link (a, b) becomes the word link (word(a), word(b)) (SimAlign's default
``token_type="bpe"``). Optional ``distortion`` multiplies similarity by
``1 - ratio * (relative position difference)^2`` before matching, as in SimAlign.

The ``simalign`` package aligns one pair per forward pass with every layer of the model.
This implementation gives the same links (a parity test checks all three methods against
the package) and is several times faster on CPU because it:

* encodes the *sentences* of many pairs together, each distinct sentence once, in batches
  of sentences of one subword length (no padding, so a sentence's vectors never depend on
  the others in its batch), in background threads that run ahead of the per-pair work
  (:class:`~projection.align.encoders.EncodeStream`; :meth:`EmbedAligner.align_stream`
  aligns a pipeline's chunks one after the other with the encoder one chunk ahead);
* tokenises from a cache of each word's subword ids (:class:`~projection.align.encoders.WordPieces`);
* runs only the encoder layers up to ``layer`` (the layer list is truncated; layer
  numbering as in SimAlign and ``hidden_states``: 0 is the embedding output, 8 the output
  of the 8th layer);
* by default (``backend="auto"``) runs that truncated encoder on CTranslate2 with int8
  weights (float16 on a GPU): converted once per (model content hash, layer, compute type)
  by :func:`projection.ct2.convert_encoder` and cached, several times faster than torch on
  a CPU with nearly the same vectors (the links are not bit-identical to SimAlign's; the
  ``torch`` backend is, and uses ``torch.inference_mode`` and a GPU when one is present).

A sentence longer than the model's input limit (512 subwords for BERT-like models) is not
truncated: it is encoded in overlapping windows of whole words (consecutive windows share up
to half their length), and each word takes its vectors from the window in which it is most
central (the overlap is split at its middle), so every word gets vectors and can get links.
Both backends do this; ``stats["windowed_sentences"]`` counts such sentences.

The same forward pass also gives word-level similarity matrices (:meth:`similarity`,
:meth:`align_with_similarity`) for the projection stage: a *word* vector is the mean of
its subword vectors, and the matrix holds the plain cosine similarity (in [-1, 1]) of
source and target word vectors, without distortion. Words that have no subword (e.g. a
lone zero-width character) get similarity 0 and no links.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from projection.align.base import Pair, check_pairs
from projection.align.encoders import (CT2Encoder, Encoded, EncoderBackend, TorchEncoder, Window,  # noqa: F401
                                       plan_windows)
from projection.devices import resolve_device
from projection.errors import ProjectionError
from projection.progress import bar
from projection.records import Alignment

# SimAlign's short model names.
MODEL_ALIASES = {"bert": "bert-base-multilingual-cased", "xlmr": "xlm-roberta-base"}
METHODS = ("argmax", "itermax", "match", "fwd", "rev")
_METHOD_ALIASES = {"inter": "argmax", "a": "argmax", "i": "itermax", "mwmf": "match", "m": "match", "f": "fwd", "r": "rev"}


def canonical_method(method: str) -> str:
    m = _METHOD_ALIASES.get(method, method)
    if m not in METHODS:
        raise ProjectionError(f"unknown embed alignment method {method!r}; choose one of: {', '.join(METHODS)}")
    return m


# --------------------------------------------------------------------------- the matrix algorithms
# Each follows simalign 0.4 (simalign/simalign.py) operation by operation, including the
# float32 arithmetic, so that ties and near-ties resolve the same way.


def unit_rows(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as scikit-learn's ``normalize`` does (a zero row stays zero)."""
    norms = np.sqrt(np.einsum("ij,ij->i", a, a))
    norms[norms < 10 * np.finfo(norms.dtype).eps] = 1.0
    return a / norms[:, None]


def simalign_similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(cosine(x, y) + 1) / 2`` computed as scikit-learn's ``cosine_similarity`` does (float32)."""
    return unit_similarity(unit_rows(x), unit_rows(y))


def unit_similarity(xu: np.ndarray, yu: np.ndarray) -> np.ndarray:
    """:func:`simalign_similarity` of rows already through :func:`unit_rows` (once per sentence)."""
    return (xu @ yu.T + 1.0) / 2.0


def apply_distortion(sim: np.ndarray, ratio: float) -> np.ndarray:
    """Penalise links far from the diagonal: ``sim * (1 - ratio * (i/(m-1) - j/(n-1))^2)``."""
    m, n = sim.shape
    if m < 2 or n < 2 or ratio == 0.0:
        return sim
    pos_x = np.tile(np.arange(n) / float(n - 1), (m, 1))
    pos_y = np.tile(np.arange(m) / float(m - 1), (n, 1))
    mask = 1.0 - ((pos_x - pos_y.T) ** 2) * ratio
    return np.multiply(sim, mask)


def argmax_links(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the mutual argmax (first maximum wins a tie, as ``np.argmax``)."""
    fwd = sim.argmax(axis=1)
    bwd = sim.argmax(axis=0)
    rows = np.arange(sim.shape[0])
    keep = bwd[fwd] == rows
    return rows[keep], fwd[keep]


def itermax_matrix(sim: np.ndarray, max_count: int = 2) -> np.ndarray:
    """SimAlign's ``iter_max``: a 0/1 matrix of links."""
    alpha_ratio = 0.9
    m, n = sim.shape
    forward = np.eye(n)[sim.argmax(axis=1)]
    backward = np.eye(m)[sim.argmax(axis=0)]
    inter = forward * backward.transpose()
    if min(m, n) <= 2:
        return inter
    count = 1
    while count < max_count:
        mask_x = 1.0 - np.tile(inter.sum(1)[:, np.newaxis], (1, n)).clip(0.0, 1.0)
        mask_y = 1.0 - np.tile(inter.sum(0)[np.newaxis, :], (m, 1)).clip(0.0, 1.0)
        mask = ((alpha_ratio * mask_x) + (alpha_ratio * mask_y)).clip(0.0, 1.0)
        mask_zeros = 1.0 - ((1.0 - mask_x) * (1.0 - mask_y))
        if mask_x.sum() < 1.0 or mask_y.sum() < 1.0:
            mask *= 0.0
            mask_zeros *= 0.0
        new_sim = sim * mask
        fwd = np.eye(n)[new_sim.argmax(axis=1)] * mask_zeros
        bac = np.eye(m)[new_sim.argmax(axis=0)].transpose() * mask_zeros
        new_inter = fwd * bac
        if np.array_equal(inter + new_inter, inter):
            break
        inter = inter + new_inter
        count += 1
    return inter


def itermax_links(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of :func:`itermax_matrix`'s links (``max_count=2``), computed on index
    arrays instead of one-hot matrices: the same links, ties included.

    Round 1 is the mutual argmax. Round 2 (when both sides have unaligned subwords and
    ``min(m, n) > 2``) scales the similarity by 1 where row and column are both unaligned,
    0.9 where one of them is, 0 where both are aligned (the same float64 products as
    SimAlign's mask), and adds the mutual argmax pairs of that matrix with an unaligned end.
    """
    m, n = sim.shape
    fwd = sim.argmax(axis=1)
    bwd = sim.argmax(axis=0)
    rows = np.arange(m)
    keep = bwd[fwd] == rows
    r1, c1 = rows[keep], fwd[keep]
    if min(m, n) <= 2:
        return r1, c1
    free_x = np.ones(m, dtype=bool)
    free_x[r1] = False
    free_y = np.ones(n, dtype=bool)
    free_y[c1] = False
    if not free_x.any() or not free_y.any():
        return r1, c1
    alpha = 0.9
    mx, my = free_x.astype(np.float64), free_y.astype(np.float64)
    mask = ((alpha * mx)[:, None] + (alpha * my)[None, :]).clip(0.0, 1.0)
    new_sim = sim * mask
    fwd2 = new_sim.argmax(axis=1)
    bwd2 = new_sim.argmax(axis=0)
    keep2 = (bwd2[fwd2] == rows) & (free_x | free_y[fwd2])
    if not keep2.any():
        return r1, c1
    return np.concatenate([r1, rows[keep2]]), np.concatenate([c1, fwd2[keep2]])


def match_links(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-weight matching covering min(m, n) subwords."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(sim, maximize=True)
    return rows, cols


def subword_links(sim: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the subword links chosen by ``method`` on a similarity matrix."""
    if method == "argmax":
        return argmax_links(sim)
    if method == "itermax":
        return itermax_links(sim)
    if method == "match":
        return match_links(sim)
    if method == "fwd":
        return np.arange(sim.shape[0]), sim.argmax(axis=1)
    if method == "rev":
        return sim.argmax(axis=0), np.arange(sim.shape[1])
    raise ProjectionError(f"unknown method {method!r}")


def word_unit_vectors(v: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` word vectors of a sentence (means of their subword rows of ``v``; ``w`` gives each
    row's word), scaled to unit length (a word without subwords: zeros)."""
    out = np.zeros((n, v.shape[1]), dtype=np.float32)
    if len(w) and (len(w) == 1 or bool((w[1:] >= w[:-1]).all())):
        # subwords in word order (as an encoder gives them): add the k-th subword of every word
        # at once, k = 0, 1, ... (the sums of np.add.at, in the same order, without its slow loop)
        first = np.empty(len(w), dtype=bool)
        first[0] = True
        np.not_equal(w[1:], w[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        if len(starts) == len(w):  # one subword per word
            out[w] = v
        else:
            runs = np.diff(starts, append=len(w))
            for k in range(int(runs.max())):
                sel = starts[runs > k]
                out[w[sel]] += v[sel + k]
    else:
        np.add.at(out, w, v)
    counts = np.bincount(w, minlength=n).astype(np.float32)
    out /= np.maximum(counts, 1.0)[:, None]
    norms = np.linalg.norm(out, axis=1)
    norms[norms == 0] = 1.0
    return out / norms[:, None]


def word_cosine(x: np.ndarray, xw: np.ndarray, nx: int, y: np.ndarray, yw: np.ndarray, ny: int) -> np.ndarray:
    """Cosine similarity of word vectors (means of subword vectors); ``nx`` x ``ny``.

    ``xw``/``yw`` give the word index of each subword row of ``x``/``y``.
    """
    if nx == 0 or ny == 0:
        return np.zeros((nx, ny), dtype=np.float32)
    return word_unit_vectors(x, xw, nx) @ word_unit_vectors(y, yw, ny).T


# --------------------------------------------------------------------------- the aligner

@dataclass
class _Prepared:
    """A sentence ready to be paired: subword word indices, unit subword vectors (links), unit
    word vectors (similarity matrices), number of words."""

    words: np.ndarray
    units: np.ndarray | None
    word_units: np.ndarray | None
    n_words: int


BACKENDS = ("auto", "ct2", "torch")


class EmbedAligner:
    """SimAlign-style aligner over any Hugging Face encoder, batched.

    Parameters: ``model`` (local folder or hub name; SimAlign's ``bert``/``xlmr`` short
    names work too), ``layer`` (hidden-state index; 0 = embeddings), ``method``
    (``argmax``, ``itermax``, ``match``, ``fwd``, ``rev``), ``backend`` (``ct2``: the encoder
    converted to CTranslate2 and cut after ``layer``; ``torch``: transformers in float32;
    ``auto``, the default: ``ct2`` where the model converts, else ``torch``),
    ``compute_type`` (ct2: ``int8``, ``float16``, ``float32``...; ``auto`` = int8 on CPU,
    float16 on GPU), ``device`` (``auto``, ``cpu``, ``cuda``...), ``batch_size`` (sequences
    per forward pass) and ``max_tokens`` (cap on sequences x padded length per batch;
    default 1,024 for ct2 on a CPU, where small batches run faster, else 8,192),
    ``distortion`` (SimAlign's ratio; 0 = off), ``chunk_size`` (pairs queued at a time,
    bounding memory; the encoder runs one chunk ahead), ``threads`` (CPU threads; None: torch's setting, for ct2
    ``$OMP_NUM_THREADS`` or the cores).

    A sentence longer than the model's input limit is encoded in overlapping windows of
    whole words and its vectors stitched (each word from the window where it is most
    central); ``stats["windowed_sentences"]`` counts them.
    """

    name = "embed"

    def __init__(self, model: str = "bert-base-multilingual-cased", layer: int = 8, method: str = "argmax",
                 backend: str = "auto", compute_type: str = "auto", device: str = "auto", batch_size: int = 128,
                 max_tokens: int | None = None, distortion: float = 0.0, chunk_size: int = 4096,
                 threads: int | None = None):
        from projection import ct2

        if not isinstance(layer, int) or layer < 0:
            raise ProjectionError(f"layer must be a non-negative integer, got {layer!r}")
        if batch_size < 1 or (max_tokens is not None and max_tokens < 1) or chunk_size < 1:
            raise ProjectionError("batch_size, max_tokens and chunk_size must be positive")
        if backend not in BACKENDS:
            raise ProjectionError(f"embed backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if compute_type != "auto" and compute_type not in ct2.QUANTIZATIONS:
            raise ProjectionError(f"compute_type must be auto or one of {', '.join(ct2.QUANTIZATIONS)}, "
                                  f"not {compute_type!r}")
        if backend == "torch" and compute_type not in ("auto", "float32"):
            raise ProjectionError(f"compute_type {compute_type!r} applies to the ct2 backend; torch runs in float32")
        self.model_name = MODEL_ALIASES.get(model, model)
        self.layer = layer
        self.method = canonical_method(method)
        self.backend = backend
        self.compute_type = compute_type
        self.device = device
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.distortion = float(distortion)
        self.chunk_size = chunk_size
        self.threads = threads
        self._encoder: EncoderBackend | None = None
        self._model_id: str | None = None
        self._resolved: tuple[str, str, Path | None] | None = None  # backend, compute type, ct2 folder
        self.backend_note: str | None = None  # why auto chose torch
        self.stats = {"sentences_encoded": 0, "windowed_sentences": 0}

    # -- model
    def _resolve(self) -> tuple[str, str, Path | None]:
        """(backend, compute type, converted folder): ``auto`` becomes ct2 when the model converts."""
        if self._resolved is None:
            from projection import ct2

            if self.backend == "torch":
                self._resolved = ("torch", "float32", None)
            else:
                try:
                    device = resolve_device(self.device, runtime="ctranslate2")
                    compute = self.compute_type if self.compute_type != "auto" else ct2.default_compute_type(device)
                    path = ct2.convert_encoder(self.model_name, layers=self.layer, quantization=compute)
                    self._resolved = ("ct2", compute, path)
                except ProjectionError as e:
                    if self.backend == "ct2":
                        raise
                    self.backend_note = str(e)
                    self._resolved = ("torch", "float32", None)
        return self._resolved

    def _batch_tokens(self) -> int:
        if self.max_tokens is not None:
            return self.max_tokens
        enc = self.encoder
        return 1024 if isinstance(enc, CT2Encoder) and enc.device == "cpu" else 8192

    @property
    def resolved_backend(self) -> str:
        """``ct2`` or ``torch``: the backend that runs (``auto`` resolved)."""
        return self._resolve()[0]

    @property
    def encoder(self) -> EncoderBackend:
        if self._encoder is None:
            backend, compute, path = self._resolve()
            if backend == "ct2":
                self._encoder = CT2Encoder(self.model_name, self.layer, resolve_device(self.device, runtime="ctranslate2"),
                                           compute, self.threads, path)
            else:
                if self.threads:
                    import torch

                    torch.set_num_threads(self.threads)
                self._encoder = TorchEncoder(self.model_name, self.layer, resolve_device(self.device))
        return self._encoder

    def model_id(self) -> str:
        """A content hash of a local model folder, or the hub commit of a hub model."""
        if self._model_id is None:
            path = Path(self.model_name)
            if path.is_dir():
                from projection import ct2

                self._model_id = "sha256:" + ct2.model_fingerprint(path)
            else:
                commit = getattr(self._encoder, "commit", None)
                if commit is None:
                    try:
                        from transformers import AutoConfig

                        commit = getattr(AutoConfig.from_pretrained(self.model_name), "_commit_hash", None)
                    except (OSError, ValueError):
                        commit = None
                self._model_id = f"hub:{commit}" if commit else "unknown"
        return self._model_id

    def signature(self) -> dict[str, Any]:
        from projection.store import code_hash, package_versions

        backend, compute, _ = self._resolve()
        libs = ("ctranslate2", "transformers", "tokenizers", "numpy", "scipy") if backend == "ct2" else \
            ("torch", "transformers", "tokenizers", "numpy", "scipy")
        return {
            "engine": "embed",
            "model": self.model_name,
            "model_id": self.model_id(),
            "layer": self.layer,
            "method": self.method,
            "distortion": self.distortion,
            "token_type": "bpe",
            "backend": backend,
            "compute_type": compute,
            "code": code_hash(__name__, "projection.align.encoders", "projection.align.base", "projection.ct2",
                              "projection.textnorm"),
            "versions": package_versions(*libs),
        }

    def variant(self, **changes: Any) -> "EmbedAligner":
        """A copy with other settings (e.g. ``method``, ``distortion``) sharing the loaded
        model when ``model``, ``layer``, ``backend``, ``compute_type`` and ``device`` are unchanged
        (cheap method sweeps)."""
        params = {"model": self.model_name, "layer": self.layer, "method": self.method, "backend": self.backend,
                  "compute_type": self.compute_type, "device": self.device, "batch_size": self.batch_size,
                  "max_tokens": self.max_tokens, "distortion": self.distortion, "chunk_size": self.chunk_size,
                  "threads": self.threads}
        params.update(changes)
        other = EmbedAligner(**params)
        shared = ("model", self.model_name), ("layer", self.layer), ("backend", self.backend), \
            ("compute_type", self.compute_type), ("device", self.device)
        if all(params[k] == v for k, v in shared):
            other._encoder, other._model_id, other._resolved = self._encoder, self._model_id, self._resolved
            other.backend_note = self.backend_note
        return other

    # -- alignment
    def _prepare(self, enc: Encoded, n_words: int, want_links: bool, want_sims: bool) -> _Prepared:
        """What a sentence's pairs need, computed once per sentence."""
        return _Prepared(enc.words, unit_rows(enc.vectors) if want_links and len(enc.words) else None,
                         word_unit_vectors(enc.vectors, enc.words, n_words) if want_sims and n_words else None,
                         n_words)

    def _links(self, src: _Prepared, tgt: _Prepared) -> Alignment:
        if src.units is None or tgt.units is None:
            return Alignment()
        # a sentence paired with itself: a copy, or numpy computes x @ x.T another way (syrk), with
        # float results a few ulps off the general product's
        sim = unit_similarity(src.units, tgt.units if tgt is not src else tgt.units.copy())
        sim = apply_distortion(sim, self.distortion)
        rows, cols = subword_links(sim, self.method)
        return Alignment(frozenset(zip(src.words[rows].tolist(), tgt.words[cols].tolist())))

    @staticmethod
    def _sims(src: _Prepared, tgt: _Prepared) -> np.ndarray:
        if src.word_units is None or tgt.word_units is None:
            return np.zeros((src.n_words, tgt.n_words), dtype=np.float32)
        return src.word_units @ (tgt.word_units if tgt is not src else tgt.word_units.copy()).T

    def _run(self, pairs: Sequence[Pair], want_links: bool, want_sims: bool
             ) -> tuple[list[Alignment], list[np.ndarray]]:
        checked = check_pairs(pairs)
        parts = [checked[a:a + self.chunk_size] for a in range(0, len(checked), self.chunk_size)]
        links: list[Alignment] = []
        sims: list[np.ndarray] = []
        for got_links, got_sims in self._stream(parts, want_links, want_sims):
            links.extend(got_links)
            sims.extend(got_sims)
        return links, sims

    def _stream(self, parts: Sequence[Sequence[Pair]], want_links: bool, want_sims: bool
                ) -> Iterator[tuple[list[Alignment], list[np.ndarray]]]:
        """Per part of ``parts``, in order: its pairs' links and word similarity matrices (as asked).

        Every distinct sentence of all the parts is encoded once (a content-keyed cache of its
        prepared vectors, kept until the last pair that needs it is aligned), and the encoder runs
        one part ahead: part k+1 is tokenised and queued when part k starts, so the encoder stays
        busy while part k's last pairs are aligned and while the caller handles part k (writes it).
        Each pair is aligned as soon as both its sentences are ready. A sentence's vectors do not
        depend on the other sentences (:class:`~projection.align.encoders.EncodeStream`), so the
        results are those of aligning each part on its own.
        """
        enc = self.encoder
        checked = [check_pairs(part) for part in parts]
        index: dict[tuple[str, ...], int] = {}
        sides: list[list[tuple[int, int]]] = []  # per part, per pair: its two sentences in `index`
        new: list[range] = []  # per part, the sentences first seen in it
        for part in checked:
            first = len(index)
            sides.append([(index.setdefault(tuple(s), len(index)), index.setdefault(tuple(t), len(index)))
                          for s, t in part])
            new.append(range(first, len(index)))
        sentences = list(index)
        del index
        uses = [0] * len(sentences)  # pairs that still need the sentence
        for part_sides in sides:
            for a, b in part_sides:
                uses[a] += 1
                if b != a:
                    uses[b] += 1
        prepared: dict[int, _Prepared] = {}
        waiting: dict[int, list[tuple[int, int]]] = {}  # sentence -> (part, pair) waiting for it
        missing: list[list[int]] = [[] for _ in parts]
        left = [len(s) for s in sides]
        got_links: list[list[Alignment | None]] = [[None] * len(s) if want_links else [] for s in sides]
        got_sims: list[list[np.ndarray | None]] = [[None] * len(s) if want_sims else [] for s in sides]

        def pair_done(part: int, p: int) -> None:
            a, b = sides[part][p]
            ps, pt = prepared[a], prepared[b]
            if want_links:
                got_links[part][p] = self._links(ps, pt)
            if want_sims:
                got_sims[part][p] = self._sims(ps, pt)
            left[part] -= 1
            for k in (a,) if a == b else (a, b):
                uses[k] -= 1
                if not uses[k]:
                    del prepared[k]

        def ready(done: list[tuple[int, Encoded]]) -> None:
            for k, encoded in done:
                prepared[k] = self._prepare(encoded, len(sentences[k]), want_links, want_sims)
            advance(len(done))
            for k, _ in done:
                for part, p in waiting.pop(k, ()):
                    missing[part][p] -= 1
                    if not missing[part][p]:
                        pair_done(part, p)

        def queue(part: int) -> None:
            """Tokenise and queue the part's new sentences; register its pairs (aligning at once
            those whose sentences are ready: empty ones, or ones an earlier part has encoded)."""
            windows = enc.tokenize([sentences[k] for k in new[part]])
            self.stats["sentences_encoded"] += len(windows)
            self.stats["windowed_sentences"] += sum(1 for ws in windows if len(ws) > 1)
            ready(stream.add(new[part], windows))  # the empty sentences, which nothing waits for yet
            missing[part] = [0] * len(sides[part])
            for p, (a, b) in enumerate(sides[part]):
                for k in (a,) if a == b else (a, b):
                    if k not in prepared:
                        waiting.setdefault(k, []).append((part, p))
                        missing[part][p] += 1
                if not missing[part][p]:
                    pair_done(part, p)

        from threadpoolctl import threadpool_limits

        # numpy's BLAS on one thread while the encoder runs: the products here are small, and a
        # multi-threaded BLAS keeps its idle threads spinning after each one, taking CPU time from
        # the encoder's threads (docs/align.md has the measurement)
        with bar(len(sentences), f"embed ({self.resolved_backend}): encoding {sum(map(len, sides)):,} pairs") \
                as advance, enc.stream(self.batch_size, self._batch_tokens()) as stream, \
                threadpool_limits(1, user_api="blas"):
            queued = 0
            for part in range(len(parts)):
                while queued < len(parts) and queued <= part + 1:
                    queue(queued)
                    queued += 1
                while left[part]:
                    ready(stream.results())
                yield got_links[part], got_sims[part]  # type: ignore[misc]
                got_links[part], got_sims[part] = [], []

    def align(self, pairs: Sequence[Pair]) -> list[Alignment]:
        """Word alignments (0-based word indices), one per pair."""
        return self._run(pairs, True, False)[0]

    def similarity(self, pairs: Sequence[Pair]) -> list[np.ndarray]:
        """Word-level cosine similarity (source words x target words, float32) per pair."""
        return self._run(pairs, False, True)[1]

    def align_with_similarity(self, pairs: Sequence[Pair]) -> tuple[list[Alignment], list[np.ndarray]]:
        """Alignments and word-level similarity matrices from one forward pass."""
        return self._run(pairs, True, True)

    def align_stream(self, parts: Sequence[Sequence[Pair]], similarity: bool = False
                     ) -> Iterator[tuple[list[Alignment], list[np.ndarray] | None]]:
        """:meth:`align` (with ``similarity``: :meth:`align_with_similarity`) of each part, part by
        part, each handed back as soon as it is done while the encoder goes on with the next
        part; every distinct sentence of all the parts is encoded once. The results are those
        of aligning each part on its own (for a pipeline's chunks: store each as it comes)."""
        for links, sims in self._stream(parts, True, similarity):
            yield links, (sims if similarity else None)

    def __repr__(self) -> str:
        return f"EmbedAligner(model={self.model_name!r}, layer={self.layer}, method={self.method!r}, backend={self.backend!r})"


__all__ = ["EmbedAligner", "simalign_similarity", "unit_rows", "unit_similarity", "apply_distortion", "argmax_links",
           "itermax_matrix", "itermax_links", "match_links", "subword_links", "word_cosine", "word_unit_vectors",
           "canonical_method", "plan_windows", "METHODS", "BACKENDS"]
