"""``trained``: a model folder written by ``projection train``.

This stage does not import the train stage: the model is loaded by the ``load`` callable
the pipeline passes in (``projection.train.load_model``), and used through its prediction
interface only. A transformer tagger gives per-word tag probabilities (``predict_proba``),
so spans get a confidence (see :func:`~projection.label.base.decode`); an engine without
them (spaCy) gives tags only, and every span then has confidence 1. ``decode`` (``argmax`` or
``bio``) turns the probabilities into tags (:mod:`projection.decoding`); a spaCy model's own tags
are taken as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


from projection.errors import ProjectionError
from projection.label.base import LabelledSpan, check_decode, check_label_map, decode, weights_hash
from projection.store import code_hash
from projection.tags import tags_to_spans, to_iob2

TRAIN_JSON = "train.json"
WEIGHT_FILES = ("model.safetensors",)


def is_trained_model(folder: str | Path) -> bool:
    """Whether ``folder`` is a model folder of ``projection train`` (it has ``train.json``)."""
    return (Path(folder) / TRAIN_JSON).is_file()


class TrainedLabeller:
    name = "trained"

    def __init__(self, model: str = "", load: Callable[[str], Any] | None = None, label_map: dict | None = None,
                 backend: str = "torch", decode: str = "argmax"):
        if not model:
            raise ProjectionError("[label] trained: give model = a folder written by `projection train`")
        self.model_path = Path(model)
        if not is_trained_model(self.model_path):
            raise ProjectionError(f"{model}: not a model folder of `projection train` (no {TRAIN_JSON})")
        try:
            self.meta = json.loads((self.model_path / TRAIN_JSON).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ProjectionError(f"{self.model_path / TRAIN_JSON}: unreadable ({e})") from None
        if not isinstance(self.meta, dict) or not isinstance(self.meta.get("labels"), list):
            raise ProjectionError(f"{self.model_path / TRAIN_JSON}: no list of labels")
        self.load, self.backend = load, backend
        self.label_map = check_label_map(label_map, f"{model}: [label]")
        self.decode = check_decode(decode, str(model), self.meta["labels"])
        self._predictor = None

    def predictor(self) -> Any:
        if self._predictor is None:
            if self.load is None:
                raise ProjectionError("[label] trained: no model loader given (the pipeline passes "
                                      "projection.train.load_model)")
            self._predictor = self.load(str(self.model_path), backend=self.backend)
        return self._predictor

    def signature(self) -> dict[str, Any]:
        return {"engine": self.name, "model": str(self.model_path), "model_engine": self.meta.get("engine"),
                "weights": weights_hash(self.model_path, WEIGHT_FILES), "tags": list(self.meta["labels"]),
                "label_map": dict(sorted(self.label_map.items())),
                "code": code_hash(__name__, "projection.label.base", "projection.decoding"),
                **({"decode": self.decode} if self.decode != "argmax" else {})}

    def label(self, sentences: Sequence[Sequence[str]]) -> list[list[LabelledSpan]]:
        pred = self.predictor()
        words = [list(s) for s in sentences]
        if hasattr(pred, "predict_proba"):
            tags = list(pred.labels)
            return [decode(tags, p, self.label_map, self.decode) if len(w) else []
                    for w, p in zip(words, pred.predict_proba(words, description="label"))]
        out = []
        for tag_seq in pred.predict(words):
            spans = []
            for sp in tags_to_spans(to_iob2(tag_seq)):
                label = self.label_map.get(sp.label, sp.label)
                if label != "O":
                    spans.append(LabelledSpan(sp.start, sp.end, label, 1.0))
            out.append(spans)
        return out


__all__ = ["TrainedLabeller", "is_trained_model"]
