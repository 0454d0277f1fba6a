"""The encoders of the ``embed`` aligner: sentences (lists of words) in, subword vectors of one
hidden layer out, with each subword's word index.

Two backends behind one base class (:class:`EncoderBackend`): ``TorchEncoder`` (transformers
in float32, the layer list cut after the requested layer) and ``CT2Encoder`` (the encoder
converted to CTranslate2 and cut after that layer, int8 on a CPU / float16 on a GPU by default,
several batches side by side on a CPU). Both tokenise the same way and share the windows:

A sentence longer than the model's input limit (512 subwords for BERT-like models) is not
truncated: it is encoded in overlapping windows of whole words (consecutive windows share up
to half their length), and each word takes its vectors from the window in which it is most
central (the overlap is split at its middle), so every word gets vectors and can get links.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from projection.errors import ProjectionError
from projection.textnorm import compose_unicode


@dataclass
class Encoded:
    """Subword vectors of one sentence at the chosen layer, and each subword's word index."""

    vectors: np.ndarray  # (n_subwords, hidden) float32
    words: np.ndarray  # (n_subwords,) int64


@dataclass
class Window:
    """One model input of a sentence: token ids (special tokens included), the positions
    whose vectors this window contributes, and the word index of each of those positions."""

    ids: list[int]
    positions: np.ndarray  # (k,) int64, indices into ids
    words: np.ndarray  # (k,) int64


def plan_windows(lengths: Sequence[int], budget: int) -> list[tuple[int, int, int, int]]:
    """Overlapping windows of whole units (words) for a sequence longer than ``budget`` tokens.

    ``lengths`` are the token counts of the units (each > 0). Returns ``(start, end, keep_start,
    keep_end)`` unit ranges: the window holds units ``[start, end)`` (at most ``budget`` tokens;
    a single unit longer than that is a window of its own and gets clipped by the caller) and
    contributes the vectors of units ``[keep_start, keep_end)``. Consecutive windows overlap by
    up to half the budget and the overlap is split at its middle, so every unit is kept exactly
    once, by a window in which it has context on both sides (except at the sentence ends).
    """
    n = len(lengths)
    if n == 0:
        return []
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end, used = start, 0
        while end < n and used + lengths[end] <= budget:
            used += lengths[end]
            end += 1
        end = max(end, start + 1)  # an over-long unit: a window of its own
        spans.append((start, end))
        if end >= n:
            break
        # step back from `end` so the next window repeats up to half the budget of context,
        # while still leaving room for at least the next new unit (progress is guaranteed)
        room = min(budget // 2, budget - lengths[end])
        nxt, overlap = end, 0
        while nxt - 1 > start and overlap + lengths[nxt - 1] <= room:
            nxt -= 1
            overlap += lengths[nxt]
        start = nxt
    cuts = [0] + [(spans[k + 1][0] + spans[k][1]) // 2 for k in range(len(spans) - 1)] + [n]
    return [(s, e, cuts[k], cuts[k + 1]) for k, (s, e) in enumerate(spans)]


def _layer_list(model: Any):
    """The ModuleList of transformer layers, for the usual encoder layouts."""
    import torch

    for path in ("encoder.layer", "encoder.layers", "transformer.layer", "layers", "layer"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, torch.nn.ModuleList):
            return path, obj
    return None, None


def _load_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = compose_unicode(AutoTokenizer.from_pretrained(model))
    except (OSError, ValueError) as e:
        raise ProjectionError(
            f"cannot load encoder {model!r} (a local model folder or a Hugging Face hub name): "
            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    if not getattr(tok, "is_fast", False):
        raise ProjectionError(f"encoder {model!r} has no fast tokenizer (tokenizer.json); the embed aligner needs one")
    # long sentences are windowed, never truncated: the "longer than the maximum" warning does not apply
    getattr(tok, "deprecation_warnings", {})["sequence-length-is-longer-than-the-specified-maximum"] = True
    return tok


def _input_limit(tokenizer: Any, config: Any) -> int:
    """The longest input (special tokens included) of the model: the tokenizer's maximum and
    the position embeddings' limit, whichever is smaller (512 when neither says)."""
    from projection import ct2

    limits = [int(tokenizer.model_max_length)] if 0 < (tokenizer.model_max_length or 0) <= 100_000 else []
    pos = ct2.position_limit(config)
    if pos:
        limits.append(pos)
    return min(limits) if limits else 512


def _rows(states: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``states[positions]``, as a slice (no copy) when the positions are a run, as they almost always are."""
    if len(positions) and positions[-1] - positions[0] + 1 == len(positions):
        return states[positions[0]: positions[-1] + 1]
    return states[positions]


class WordPieces:
    """A fast tokenizer's ids for sentences given as words, assembled from a cache of each word's
    ids: the same ids as ``tokenizer(words, is_split_into_words=True)``, because a Hugging Face
    fast tokenizer encodes pre-split input word by word (each word normalised, pre-tokenised and
    cut into subwords on its own, wherever it stands) and adds the special tokens around the
    whole. New words are tokenised in batches (:meth:`learn`), many words to a sequence; a corpus
    repeats most of its words, so most of a sentence's words are found in the cache.

    A tokenizer for which a probe sentence does not come out the same word by word (none is
    known) is used the plain way, sentence by sentence (``by_word`` is False).
    """

    limit = 1_000_000  # cached words; a cache that would grow past it starts again
    PROBE = ["A", "a", "ab", "a", "Ab,", "\u200b", "x.y", "ab"]

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        probe = tokenizer([self.PROBE], is_split_into_words=True, truncation=False)
        ids, wids = probe["input_ids"][0], probe.word_ids(0)
        real = [p for p, w in enumerate(wids) if w is not None]
        self.prefix: list[int] = list(ids[:real[0]])
        self.suffix: list[int] = list(ids[real[-1] + 1:])
        self.words: dict[str, list[int]] = {}
        self.sentences: dict[tuple[str, ...], tuple[list[int], list[int]]] = {}
        self.by_word = True
        self.learn([self.PROBE])
        self.by_word = self.prefix + self.body(self.PROBE)[0] + self.suffix == list(ids)
        self.words.clear()

    def _word_ids(self, seqs: list[list[str]]) -> list[list[list[int]]]:
        """Per pre-split sequence, each word's ids (no special tokens)."""
        enc = self.tokenizer(seqs, is_split_into_words=True, add_special_tokens=False, truncation=False)
        out: list[list[list[int]]] = []
        for b, seq in enumerate(seqs):
            per: list[list[int]] = [[] for _ in seq]
            for i, w in zip(enc["input_ids"][b], enc.word_ids(b)):
                if w is not None:
                    per[w].append(i)
            out.append(per)
        return out

    def learn(self, sentences: Sequence[Sequence[str]]) -> None:
        """Tokenise what :meth:`body` will need for ``sentences``: the words not cached yet, 2,048
        to a sequence (or, when not ``by_word``, the sentences themselves)."""
        if not self.by_word:
            todo = list(dict.fromkeys(tuple(s) for s in sentences if s))
            self.sentences = {s: ([i for w in per for i in w], [len(w) for w in per])
                              for s, per in zip(todo, self._word_ids([list(s) for s in todo]))}
            return
        if len(self.words) > self.limit:
            self.words.clear()
        new = list(dict.fromkeys(w for s in sentences for w in s if w not in self.words))
        per = 2048
        for b, ids in enumerate(self._word_ids([new[i:i + per] for i in range(0, len(new), per)])):
            self.words.update(zip(new[b * per:(b + 1) * per], ids))

    def body(self, words: Sequence[str]) -> tuple[list[int], list[int]]:
        """The ids of ``words`` (a sentence passed to :meth:`learn`) without the special tokens,
        and how many ids each word has."""
        if not self.by_word:
            return self.sentences[tuple(words)]
        cache = self.words
        body: list[int] = []
        lengths: list[int] = []
        for w in words:
            ids = cache[w]
            body.extend(ids)
            lengths.append(len(ids))
        return body, lengths


class EncoderBackend:
    """Tokenisation into windows (through :class:`WordPieces`) and encoding through an
    :class:`EncodeStream`, shared by both backends; a backend runs :meth:`run_batch` (token id
    sequences of one length -> one ``(len, hidden)`` array each) and says how many batches may
    run side by side (``workers``)."""

    tokenizer: Any
    max_length: int
    hidden_size: int

    _pieces: WordPieces | None = None

    @property
    def pieces(self) -> WordPieces:
        if self._pieces is None:
            self._pieces = WordPieces(self.tokenizer)
        return self._pieces

    def tokenize(self, sentences: Sequence[Sequence[str]]) -> list[list[Window]]:
        """Per sentence, its windows: one for a sentence within the model's limit, several
        overlapping windows of whole words for a longer one; none for an empty sentence."""
        result: list[list[Window]] = [[] for _ in sentences]
        pieces = self.pieces
        pieces.learn(sentences)
        prefix, suffix = pieces.prefix, pieces.suffix
        for k, words in enumerate(sentences):
            if not words:
                continue
            body, lengths = pieces.body(words)
            if not body:
                continue
            ids = prefix + body + suffix
            if len(ids) <= self.max_length:
                pos = np.arange(len(prefix), len(prefix) + len(body), dtype=np.int64)
                result[k] = [Window(ids, pos, np.repeat(np.arange(len(words), dtype=np.int64), lengths))]
                continue
            wids: list[int | None] = [None] * len(prefix)
            for w, n in enumerate(lengths):
                wids.extend([w] * n)
            wids.extend([None] * len(suffix))
            result[k] = self._windows(ids, wids, len(prefix), len(prefix) + len(body))
        return result

    def _windows(self, ids: list[int], wids: list[int | None], first: int, last: int) -> list[Window]:
        prefix, suffix = ids[:first], ids[last:]  # special tokens around the words ([CLS] ... [SEP])
        budget = max(1, self.max_length - len(prefix) - len(suffix))
        units: list[tuple[int, int, int]] = []  # (word, first token, end token) in `ids`
        for p in range(first, last):
            w = wids[p]
            if w is None:
                continue
            if units and units[-1][0] == w and units[-1][2] == p:
                units[-1] = (w, units[-1][1], p + 1)
            else:
                units.append((w, p, p + 1))
        out = []
        for s, e, ks, ke in plan_windows([min(b - a, budget) for _, a, b in units], budget):
            body: list[int] = []
            positions: list[int] = []
            words: list[int] = []
            for u in range(s, e):
                w, a, b = units[u]
                b = min(b, a + budget)  # a single word longer than the whole window: its first subwords
                if ks <= u < ke:
                    positions.extend(range(len(prefix) + len(body), len(prefix) + len(body) + b - a))
                    words.extend([w] * (b - a))
                body.extend(ids[a:b])
            out.append(Window(prefix + body + suffix, np.asarray(positions, dtype=np.int64),
                              np.asarray(words, dtype=np.int64)))
        return out

    def encode(self, sentences: Sequence[Sequence[str]], batch_size: int, max_tokens: int,
               advance: Callable[[int], None] = lambda n: None) -> tuple[list[Encoded], int]:
        """Subword vectors of each sentence, and the number of sentences encoded in windows."""
        windows = self.tokenize(sentences)
        out: list[Encoded | None] = [None] * len(windows)
        for k, enc in self.encode_iter(windows, batch_size, max_tokens, advance):
            out[k] = enc
        return out, sum(1 for ws in windows if len(ws) > 1)  # type: ignore[return-value]

    def encode_iter(self, windows: Sequence[Sequence[Window]], batch_size: int, max_tokens: int,
                    advance: Callable[[int], None] = lambda n: None) -> Iterator[tuple[int, Encoded]]:
        """``(sentence index, Encoded)`` for the sentences of :meth:`tokenize`'s ``windows``, each as
        soon as the batch holding its last window has run (so the caller can work on them while
        the encoder runs the next batches)."""
        with self.stream(batch_size, max_tokens) as stream:
            ready = stream.add(range(len(windows)), windows)
            while True:
                advance(len(ready))
                yield from ready
                if not stream.pending:
                    return
                ready = stream.results()

    def stream(self, batch_size: int, max_tokens: int) -> EncodeStream:
        """An :class:`EncodeStream` on this encoder (use it in a ``with`` block)."""
        return EncodeStream(self, batch_size, max_tokens)

    workers = 1

    def run_batch(self, seqs: Sequence[list[int]]) -> list[np.ndarray]:
        """The ``(len, hidden)`` states of token id sequences of one length, run as one batch."""
        raise NotImplementedError


def same_length_batches(lengths: Sequence[int], batch_size: int, batch_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of sequences of one length, longest first (in the order given
    within a length), each at most ``batch_size`` sequences and ``batch_tokens`` tokens (a longer
    single sequence gets a batch of its own). No sequence is padded, so none has its vectors
    changed by the others in its batch (int8 CTranslate2 vectors differ in the last bits when a
    sequence is padded to a longer one's width)."""
    groups: dict[int, list[int]] = {}
    for k, n in enumerate(lengths):
        groups.setdefault(n, []).append(k)
    batches = []
    for n in sorted(groups, reverse=True):
        members = groups[n]
        size = max(1, min(batch_size, batch_tokens // max(n, 1)))
        batches.extend(members[i:i + size] for i in range(0, len(members), size))
    return batches


class EncodeStream:
    """Sentences in, their :class:`Encoded` vectors out, through an encoder kept busy in the
    background: :meth:`add` queues the windows of sentences (under keys of the caller's
    choosing) as batches of one length (:func:`same_length_batches`); ``workers`` threads
    (:attr:`EncoderBackend.workers`: 2 on a 2-core CPU for CTranslate2, one for torch or a GPU)
    take the batches in order and run them, so the encoder keeps working while the caller is
    busy with anything else (aligning finished sentences, tokenising the next ones, writing
    results); :meth:`results` waits for the next finished batch and returns the sentences it
    completed. A sentence's vectors do not depend on what else is queued: the same sentence
    added to any stream, alone or with others, gives the same vectors bit for bit.
    """

    def __init__(self, backend: EncoderBackend, batch_size: int, max_tokens: int):
        import queue
        import threading

        self.backend = backend
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.pending = 0  # sentences added and not returned yet
        self._inbox: queue.Queue = queue.Queue()
        self._outbox: queue.Queue = queue.Queue()
        self._seqs: dict[int, list[int]] = {}  # queued sequence -> token ids
        self._owner: dict[int, tuple[Any, int, int]] = {}  # sequence -> (key, its window, the key's windows)
        self._parts: dict[Any, list[np.ndarray | None]] = {}
        self._windows: dict[Any, Sequence[Window]] = {}
        self._next = 0
        self._threads = [threading.Thread(target=self._work, name=f"embed-encoder-{k}", daemon=True)
                         for k in range(max(1, int(backend.workers)))]
        for th in self._threads:
            th.start()

    def _work(self) -> None:
        while True:
            batch = self._inbox.get()
            if batch is None:
                return
            try:
                arrays = self.backend.run_batch([self._seqs[j] for j in batch])
            except BaseException as e:  # handed to the caller, which raises it
                self._outbox.put((batch, e))
                continue
            self._outbox.put((batch, arrays))

    def add(self, keys: Sequence[Any], windows: Sequence[Sequence[Window]]) -> list[tuple[Any, Encoded]]:
        """Queue the sentences ``keys`` with their windows (from :meth:`EncoderBackend.tokenize`);
        returns at once those with nothing to encode (an empty sentence: no vectors)."""
        empty = []
        new: list[int] = []
        for key, ws in zip(keys, windows):
            if not ws:
                empty.append((key, Encoded(np.zeros((0, self.backend.hidden_size), dtype=np.float32),
                                           np.zeros(0, dtype=np.int64))))
                continue
            self._windows[key] = ws
            self._parts[key] = [None] * len(ws)
            self.pending += 1
            for r, w in enumerate(ws):
                self._seqs[self._next] = w.ids
                self._owner[self._next] = (key, r, len(ws))
                new.append(self._next)
                self._next += 1
        for batch in same_length_batches([len(self._seqs[j]) for j in new], self.batch_size, self.max_tokens):
            self._inbox.put([new[b] for b in batch])
        return empty

    def results(self) -> list[tuple[Any, Encoded]]:
        """Waits for the next batch to finish; the sentences whose last window was in it."""
        if not self.pending:
            raise ValueError("nothing is being encoded")
        batch, arrays = self._outbox.get()
        if isinstance(arrays, BaseException):
            raise arrays
        ready = []
        for j, a in zip(batch, arrays):
            del self._seqs[j]
            key, r, n = self._owner.pop(j)
            parts = self._parts[key]
            parts[r] = a
            if any(x is None for x in parts):
                continue
            ws = self._windows.pop(key)
            del self._parts[key]
            rows = [_rows(x, w.positions) for x, w in zip(parts, ws)]  # type: ignore[arg-type]
            vectors = rows[0] if n == 1 else np.concatenate(rows)
            words = ws[0].words if n == 1 else np.concatenate([w.words for w in ws])
            ready.append((key, Encoded(np.ascontiguousarray(vectors, dtype=np.float32), words)))
        self.pending -= len(ready)
        return ready

    def close(self) -> None:
        """Stop the threads (queued batches are dropped; a batch that is running finishes first)."""
        import queue

        while True:
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._inbox.put(None)
        for th in self._threads:
            th.join()

    def __enter__(self) -> EncodeStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class TorchEncoder(EncoderBackend):
    """The transformers model, cut after ``layer`` (hidden_states[layer]), in float32."""

    def __init__(self, model: str, layer: int, device: str):
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        self.tokenizer = _load_tokenizer(model)
        was_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        from projection.store import check_model_folder

        check_model_folder(model, "encoder")
        try:
            self.model = AutoModel.from_pretrained(model)
        except (OSError, ValueError) as e:
            raise ProjectionError(
                f"cannot load encoder {model!r} (a local model folder or a Hugging Face hub name): "
                f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
            ) from None
        finally:
            if was_enabled:
                hf_logging.enable_progress_bar()
        self.model.eval()
        self.device = torch.device(device)
        self.model.to(self.device)
        self.commit = getattr(self.model.config, "_commit_hash", None)
        self.layer = layer
        self.hidden_size = int(self.model.config.hidden_size)
        self.max_length = _input_limit(self.tokenizer, self.model.config)
        path, layers = _layer_list(self.model)
        n_layers = len(layers) if layers is not None else getattr(self.model.config, "num_hidden_layers", None)
        if n_layers is not None and layer > n_layers:
            raise ProjectionError(f"layer {layer} requested but {model!r} has only {n_layers} layers (0 = embeddings)")
        self.truncated = False
        keep = max(layer, 1)  # hidden_states[0] (embeddings) is recorded only when a layer runs
        if layers is not None and keep < len(layers):
            # Run only the layers that feed hidden_states[layer]; the rest would be wasted work.
            parent = self.model
            *head, last = path.split(".")
            for part in head:
                parent = getattr(parent, part)
            setattr(parent, last, torch.nn.ModuleList(list(layers)[:keep]))
            if hasattr(self.model.config, "num_hidden_layers"):
                self.model.config.num_hidden_layers = keep
            self.truncated = True
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def run_batch(self, seqs: Sequence[list[int]]) -> list[np.ndarray]:
        import torch

        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, seq in enumerate(seqs):
            ids[r, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[r, : len(seq)] = 1
        with torch.inference_mode():
            res = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                             output_hidden_states=True)
            states = res.hidden_states[self.layer].float().cpu().numpy()
        return [states[r, : len(seq)] for r, seq in enumerate(seqs)]


class CT2Encoder(EncoderBackend):
    """The encoder converted to CTranslate2 and cut after ``layer`` (its last hidden state
    is hidden_states[layer]), int8 on CPU / float16 on GPU by default.

    On a CPU the ``threads`` run whole batches side by side (CTranslate2's ``inter_threads``,
    one thread each, the ``workers`` of an :class:`EncodeStream`) rather than splitting each
    batch's operations between them (``intra_threads``): the batches are small (1,024 tokens),
    so one thread per batch wastes no time waiting for the other at every layer, and the
    caller's Python work (tokenising, links) runs meanwhile. A batch's vectors are the same
    either way.
    """

    def __init__(self, model: str, layer: int, device: str, compute_type: str, threads: int | None,
                 converted: Path | None = None):
        from projection import ct2

        self.tokenizer = _load_tokenizer(model)
        config = ct2.load_config(model)
        self.layer = layer
        self.hidden_size = int(config.hidden_size)
        self.max_length = _input_limit(self.tokenizer, config)
        path = converted or ct2.convert_encoder(model, layers=layer, quantization=compute_type)
        self.path = path
        self.device = device
        if device == "cpu":
            self.workers = int(threads or ct2.default_threads())
            self.encoder = ct2.load_encoder(path, device=device, compute_type=compute_type, threads=1,
                                            inter_threads=self.workers)
        else:
            self.workers = 1
            self.encoder = ct2.load_encoder(path, device=device, compute_type=compute_type, threads=threads)

    def run_batch(self, seqs: Sequence[list[int]]) -> list[np.ndarray]:
        from projection import ct2

        width = max(len(s) for s in seqs)
        return ct2.forward_hidden(self.encoder, seqs, batch_size=len(seqs), batch_tokens=len(seqs) * max(width, 1))


