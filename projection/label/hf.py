"""``transformers``: any token-classification folder (``AutoModelForTokenClassification``).

The tags are the model's ``id2label`` (IOB2, IOBES or bare labels; see
:func:`~projection.label.base.normalise_tags`). A word's distribution is the softmax at its
first subword. Sentences longer than the model's input limit are cut into consecutive pieces
of whole words that fit, labelled piece by piece.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from projection.devices import resolve_device
from projection.errors import ProjectionError
from projection.label.base import LabelledSpan, check_decode, check_label_map, decode, normalise_tags, weights_hash
from projection.progress import bar
from projection.store import code_hash
from projection.textnorm import compose_unicode

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class HfTokenLabeller:
    name = "transformers"

    def __init__(self, model: str = "", device: str = "cpu", batch_size: int = 32, max_length: int = 512,
                 label_map: dict | None = None, threads: int = 0, decode: str = "argmax"):
        if not model:
            raise ProjectionError("[label] transformers: give model = a token-classification folder")
        self.model_path = Path(model)
        if not (self.model_path / "config.json").is_file():
            raise ProjectionError(f"{model}: not a transformers model folder (no config.json)")
        self.device = resolve_device(device)
        self.batch_size, self.max_length, self.threads = int(batch_size), int(max_length), int(threads)
        self.label_map = check_label_map(label_map, f"{model}: [label]")
        self.decode = check_decode(decode, str(model))
        self._model = self._tok = None
        self._tags: list[str] | None = None

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        if self.threads > 0:
            torch.set_num_threads(self.threads)
        try:
            self._tok = compose_unicode(AutoTokenizer.from_pretrained(self.model_path))
            self._model = AutoModelForTokenClassification.from_pretrained(self.model_path).to(self.device).eval()
        except (OSError, ValueError) as e:
            raise ProjectionError(f"{self.model_path}: cannot load a token-classification model ({e})") from None
        if not getattr(self._tok, "is_fast", False):
            raise ProjectionError(f"{self.model_path}: the tokenizer is not a fast tokenizer (word ids are needed)")
        self._tags = self.tags()
        check_decode(self.decode, str(self.model_path), self._tags)
        # subwords per model input, special tokens included (RoBERTa-like models lose 2 positions to padding)
        limit = int(getattr(self._model.config, "max_position_embeddings", None) or self.max_length) - 2
        self.max_length = max(min(self.max_length, limit, int(getattr(self._tok, "model_max_length", limit))), 4)

    def tags(self) -> list[str]:
        """The model's tags in output order, as IOB2."""
        import json

        cfg = json.loads((self.model_path / "config.json").read_text(encoding="utf-8"))
        id2label = cfg.get("id2label") or {}
        names = [id2label[k] for k in sorted(id2label, key=int)]
        return normalise_tags(names, str(self.model_path / "config.json"))

    def signature(self) -> dict[str, Any]:
        return {"engine": self.name, "model": str(self.model_path),
                "weights": weights_hash(self.model_path, WEIGHT_FILES), "tags": self.tags(),
                "label_map": dict(sorted(self.label_map.items())),
                "code": code_hash(__name__, "projection.label.base", "projection.decoding", "projection.textnorm"),
                **({"decode": self.decode} if self.decode != "argmax" else {})}

    def _pieces(self, words: Sequence[str]) -> list[tuple[int, int]]:
        """Consecutive word ranges whose subwords fit the model (one range for most sentences)."""
        enc = self._tok(list(words), is_split_into_words=True, add_special_tokens=False)
        counts = np.bincount([w for w in enc.word_ids() if w is not None], minlength=len(words))
        budget = max(self.max_length - self._tok.num_special_tokens_to_add(), 1)
        pieces, start, used = [], 0, 0
        for i, c in enumerate(counts.tolist()):
            if used + c > budget and i > start:
                pieces.append((start, i))
                start, used = i, 0
            used += c
        pieces.append((start, len(words)))
        return pieces

    def word_proba(self, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per sentence a ``(words, tags)`` array of probabilities (first-subword softmax)."""
        import torch

        self._load()
        assert self._tags is not None
        n_tags = len(self._tags)
        o_index = self._tags.index("O") if "O" in self._tags else 0
        out = [np.zeros((len(s), n_tags), dtype=np.float32) for s in sentences]
        for s, arr in zip(sentences, out):
            arr[:, o_index] = 1.0  # words without a subword (none in practice) stay O
        jobs = [(k, a, b) for k, s in enumerate(sentences) if len(s) for a, b in self._pieces(s)]
        with torch.inference_mode(), bar(len(jobs), "label") as advance:
            for b0 in range(0, len(jobs), self.batch_size):
                group = jobs[b0:b0 + self.batch_size]
                words = [list(sentences[k][a:b]) for k, a, b in group]
                enc = self._tok(words, is_split_into_words=True, truncation=True, max_length=self.max_length,
                                padding=True, return_tensors="pt")
                logits = self._model(**{k: v.to(self.device) for k, v in enc.items()}).logits.float()
                proba = torch.softmax(logits, -1).cpu().numpy()
                for row, (k, a, _b) in enumerate(group):
                    seen: set[int] = set()
                    for pos, w in enumerate(enc.word_ids(row)):
                        if w is not None and w not in seen:
                            seen.add(w)
                            out[k][a + w] = proba[row, pos]
                advance(len(group))
        return out

    def label(self, sentences: Sequence[Sequence[str]]) -> list[list[LabelledSpan]]:
        probas = self.word_proba(sentences)
        assert self._tags is not None
        return [decode(self._tags, p, self.label_map, self.decode) for p in probas]


def is_token_classifier(folder: str | Path) -> bool:
    """Whether ``folder`` holds a transformers token-classification model (its config names one)."""
    import json

    path = Path(folder) / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(a.endswith("ForTokenClassification") for a in cfg.get("architectures") or [])


__all__ = ["HfTokenLabeller", "is_token_classifier"]
