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
        tok = AutoTokenizer.from_pretrained(model)
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


class EncoderBackend:
    """Tokenisation into windows and stitching, shared by both backends; a backend runs
    :meth:`forward_iter` (token id sequences in length-sorted batches -> one ``(len, hidden)``
    array per sequence, batch by batch as they finish)."""

    tokenizer: Any
    max_length: int
    hidden_size: int

    def forward_iter(self, seqs: Sequence[list[int]], batch_size: int, max_tokens: int
                     ) -> Iterator[tuple[list[int], list[np.ndarray]]]:
        """``(indices, arrays)`` per batch, in the order the batches finish."""
        raise NotImplementedError

    def forward(self, seqs: Sequence[list[int]], batch_size: int, max_tokens: int,
                on_batch: Callable[[list[int]], None]) -> list[np.ndarray]:
        out: list[np.ndarray | None] = [None] * len(seqs)
        for idx, arrays in self.forward_iter(seqs, batch_size, max_tokens):
            for k, a in zip(idx, arrays):
                out[k] = a
            on_batch(idx)
        return out  # type: ignore[return-value]

    def tokenize(self, sentences: Sequence[Sequence[str]]) -> list[list[Window]]:
        """Per sentence, its windows: one for a sentence within the model's limit, several
        overlapping windows of whole words for a longer one; none for an empty sentence."""
        result: list[list[Window]] = [[] for _ in sentences]
        todo = [k for k, s in enumerate(sentences) if len(s) > 0]
        if not todo:
            return result
        enc = self.tokenizer([list(sentences[k]) for k in todo], is_split_into_words=True, truncation=False)
        for b, k in enumerate(todo):
            ids: list[int] = enc["input_ids"][b]
            wids = enc.word_ids(b)
            real = [p for p, w in enumerate(wids) if w is not None]
            if not real:
                continue
            if len(ids) <= self.max_length:
                pos = np.asarray(real, dtype=np.int64)
                result[k] = [Window(ids, pos, np.asarray([wids[p] for p in real], dtype=np.int64))]
                continue
            result[k] = self._windows(ids, wids, real[0], real[-1] + 1)
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
        seqs: list[list[int]] = []
        owner: list[int] = []
        first: list[int] = []
        for k, ws in enumerate(windows):
            first.append(len(seqs))
            for w in ws:
                seqs.append(w.ids)
                owner.append(k)
        empty = [k for k, ws in enumerate(windows) if not ws]
        advance(len(empty))
        for k in empty:
            yield k, Encoded(np.zeros((0, self.hidden_size), dtype=np.float32), np.zeros(0, dtype=np.int64))
        left = [len(ws) for ws in windows]
        states: list[np.ndarray | None] = [None] * len(seqs)
        for idx, arrays in self.forward_iter(seqs, batch_size, max_tokens):
            ready = []
            for j, a in zip(idx, arrays):
                states[j] = a
                k = owner[j]
                left[k] -= 1
                if left[k] == 0:
                    ws, j0 = windows[k], first[k]
                    parts = [_rows(states[j0 + r], w.positions) for r, w in enumerate(ws)]  # type: ignore[arg-type]
                    for r in range(len(ws)):
                        states[j0 + r] = None
                    vectors = parts[0] if len(parts) == 1 else np.concatenate(parts)
                    words = ws[0].words if len(ws) == 1 else np.concatenate([w.words for w in ws])
                    ready.append((k, Encoded(np.ascontiguousarray(vectors, dtype=np.float32), words)))
            advance(len(ready))
            yield from ready


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

    def forward_iter(self, seqs: Sequence[list[int]], batch_size: int, max_tokens: int
                     ) -> Iterator[tuple[list[int], list[np.ndarray]]]:
        import torch

        from projection.ct2 import length_batches

        # Longest first: similar lengths share a batch (little padding), and memory peaks early.
        for batch in length_batches([len(s) for s in seqs], batch_size, max_tokens):
            width = max(len(seqs[k]) for k in batch)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, k in enumerate(batch):
                ids[r, : len(seqs[k])] = torch.tensor(seqs[k], dtype=torch.long)
                mask[r, : len(seqs[k])] = 1
            with torch.inference_mode():
                res = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                 output_hidden_states=True)
                states = res.hidden_states[self.layer].float().cpu().numpy()
            yield batch, [states[r, : len(seqs[k])] for r, k in enumerate(batch)]


class CT2Encoder(EncoderBackend):
    """The encoder converted to CTranslate2 and cut after ``layer`` (its last hidden state
    is hidden_states[layer]), int8 on CPU / float16 on GPU by default.

    On a CPU the ``threads`` run whole batches side by side (CTranslate2's ``inter_threads``,
    one thread each, fed by a thread pool) rather than splitting each batch's operations
    between them (``intra_threads``): the batches are small (1,024 tokens), so one thread per
    batch wastes no time waiting for the other at every layer, and the caller's Python work
    (tokenising, links) runs meanwhile. A batch's vectors are the same either way.
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

    def _batch(self, seqs: Sequence[list[int]], batch: list[int]) -> list[np.ndarray]:
        from projection import ct2

        width = max(len(seqs[k]) for k in batch)
        # already longest first: forward_hidden keeps the order and runs them as one batch
        return ct2.forward_hidden(self.encoder, [seqs[k] for k in batch], batch_size=len(batch),
                                  batch_tokens=len(batch) * max(width, 1))

    def forward_iter(self, seqs: Sequence[list[int]], batch_size: int, max_tokens: int
                     ) -> Iterator[tuple[list[int], list[np.ndarray]]]:
        from projection.ct2 import length_batches

        batches = length_batches([len(s) for s in seqs], batch_size, max_tokens)
        if self.workers <= 1 or len(batches) <= 1:
            for batch in batches:
                yield batch, self._batch(seqs, batch)
            return
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        with ThreadPoolExecutor(self.workers, thread_name_prefix="embed-ct2") as pool:
            # at most two batches per thread in flight: the finished ones are handed back while
            # the next ones run, and a caller that stops early leaves little work behind
            todo = iter(batches)
            running = {}
            try:
                for batch in todo:
                    running[pool.submit(self._batch, seqs, batch)] = batch
                    if len(running) >= 2 * self.workers:
                        break
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        batch = running.pop(fut)
                        nxt = next(todo, None)
                        if nxt is not None:
                            running[pool.submit(self._batch, seqs, nxt)] = nxt
                        yield batch, fut.result()
            finally:
                for fut in running:
                    fut.cancel()


