"""Subword encoding with first-subword labels, and windows for long sentences.

Each word is tokenised into subwords; only its first subword carries the word's label
(the others get ``-100`` and are ignored by the loss), and the first subword's prediction
is the word's prediction. A word that the tokenizer turns into no subword at all (some
control or zero-width characters) is given the unknown token, so every word has a
prediction.

A sentence whose subwords do not fit ``max_length`` (special tokens included) is split
into consecutive windows of whole words, each encoded on its own; the predictions of
the windows are concatenated back. Nothing is cut: every word of every sentence gets a
prediction. A single word longer than a window keeps its first ``max_length - 2``
subwords (its label sits on the first one anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IGNORE = -100


@dataclass(slots=True)
class Window:
    """One encoder input: subword ids, per-subword label ids (or -100) and word positions."""

    sentence: int  # index of the sentence in the input list
    first_word: int  # index (in the sentence) of the window's first word
    n_words: int
    input_ids: list[int]
    labels: list[int]
    heads: list[int]  # subword position of each word's first subword, in word order
    soft: Any = None  # teacher distributions (words, labels) for knowledge distillation, or None


class SubwordEncoder:
    """Turn word-tokenised sentences into encoder windows with a transformers fast tokenizer."""

    def __init__(self, tokenizer, max_length: int):
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("a fast tokenizer is needed (word_ids)")
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        specials = tokenizer("", add_special_tokens=True)["input_ids"]
        plain = tokenizer("", add_special_tokens=False)["input_ids"]
        if plain:
            raise ValueError("the tokenizer encodes an empty string to tokens; cannot find its special tokens")
        # [CLS] ... [SEP] (BERT) or <s> ... </s> (XLM-R): the prefix and suffix around a sequence.
        self.prefix = specials[:1] if specials else []
        self.suffix = specials[1:] if len(specials) > 1 else []
        self.budget = self.max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 1:
            raise ValueError(f"max_length {max_length} leaves no room for subwords")
        self.unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def word_pieces(self, sentences: Sequence[Sequence[str]]) -> list[list[list[int]]]:
        """Subword ids of every word of every sentence (batched through the fast tokenizer)."""
        out: list[list[list[int]]] = []
        step = 1024
        for k in range(0, len(sentences), step):
            chunk = [list(s) for s in sentences[k : k + step]]
            # verbose=False: whole sentences may exceed the model's length; windows take care of that.
            enc = self.tokenizer(chunk, is_split_into_words=True, add_special_tokens=False, verbose=False)
            for b, words in enumerate(chunk):
                pieces: list[list[int]] = [[] for _ in words]
                for tok_id, w in zip(enc["input_ids"][b], enc.word_ids(b)):
                    if w is not None:
                        pieces[w].append(tok_id)
                out.append([p if p else [self.unk] for p in pieces])
        return out

    def windows(self, sentences: Sequence[Sequence[str]], label_ids: Sequence[Sequence[int]] | None = None) -> list[Window]:
        """Encode sentences into windows; ``label_ids`` gives per-word label ids (training)."""
        out: list[Window] = []
        for si, pieces in enumerate(self.word_pieces(sentences)):
            labels = label_ids[si] if label_ids is not None else None
            start = 0
            n = len(pieces)
            while start < n:
                used, end = 0, start
                while end < n and (end == start or used + len(pieces[end]) <= self.budget):
                    used += min(len(pieces[end]), self.budget)
                    end += 1
                ids = list(self.prefix)
                labs = [IGNORE] * len(self.prefix)
                heads = []
                for w in range(start, end):
                    p = pieces[w][: self.budget]
                    heads.append(len(ids))
                    ids.extend(p)
                    labs.append(labels[w] if labels is not None else IGNORE)
                    labs.extend([IGNORE] * (len(p) - 1))
                ids.extend(self.suffix)
                labs.extend([IGNORE] * len(self.suffix))
                out.append(Window(si, start, end - start, ids, labs, heads))
                start = end
        return out


def batches(windows: Sequence[Window], batch_size: int, order: Sequence[int] | None = None,
            batch_tokens: int | None = None) -> list[list[Window]]:
    """Group windows of similar length (less padding); ``order`` shuffles the batch order.

    ``batch_tokens`` fills each batch up to that many subwords of padded input (rows x the
    longest window) instead of ``batch_size`` windows: short windows go in large batches,
    long ones in small batches.
    """
    by_len = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
    if batch_tokens is None:
        groups = [[windows[i] for i in by_len[k : k + batch_size]] for k in range(0, len(by_len), batch_size)]
    else:
        groups, cur = [], []
        for i in by_len:  # ascending lengths: the window being added is the longest of the batch
            if cur and (len(cur) + 1) * len(windows[i].input_ids) > batch_tokens:
                groups.append(cur)
                cur = []
            cur.append(windows[i])
        if cur:
            groups.append(cur)
    if order is not None:
        groups = [groups[i] for i in order]
    return groups


def collate(batch: Sequence[Window], pad_id: int):
    """Padded ``input_ids``, ``attention_mask`` and ``labels`` tensors for a batch of windows."""
    import torch

    width = max(len(w.input_ids) for w in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    for b, w in enumerate(batch):
        n = len(w.input_ids)
        ids[b, :n] = torch.tensor(w.input_ids)
        mask[b, :n] = 1
        labels[b, :n] = torch.tensor(w.labels)
    return ids, mask, labels
