"""Prediction with the trained encoder on CTranslate2 (int8 on CPU, float16 on GPU).

A saved model's encoder (the fine-tuned weights, all layers) is converted once with
:func:`projection.ct2.convert_encoder` into ``MODEL_DIR/ct2/<key>/`` (the key covers the
weights file's hash, the layer cut, the weight type and the CTranslate2 version, so a
retrained model is converted again), then every window runs through CTranslate2's
``Encoder`` and only the head (classifier, and the DLFA/AIF fusion) runs in torch. A
feature-aggregation model needs the fusion layer too: a second conversion cut after that
layer gives it (CTranslate2 returns only the last hidden state).

int8 weights change the hidden states slightly (mean token cosine about 0.998 on
e5-small), so predictions can differ from torch's on a few tokens: ``projection evaluate
--backend torch`` gives the exact float32 result.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from projection import ct2
from projection.errors import ProjectionError
from projection.progress import bar
from projection.store import content_key, file_sha256, package_versions
from projection.train.windows import Window

CT2_DIR = "ct2"
WEIGHTS = "model.safetensors"


class Ct2Encoder:
    """The hidden states a trained tagger's head needs, computed by CTranslate2."""

    def __init__(self, model, tokenizer, model_dir: Path, device, threads: int | None = None,
                 compute_type: str | None = None):
        from projection.train.base import available_cores, measure_threads

        self.model = model
        self.tokenizer = tokenizer
        self.model_dir = Path(model_dir)
        self.device = "cuda" if getattr(device, "type", str(device)) == "cuda" else "cpu"
        self.compute_type = compute_type or ct2.default_compute_type(self.device)
        self.threads = threads or (measure_threads(available_cores()) if self.device == "cpu" else 1)
        self.n_layers = model.encoder.config.num_hidden_layers
        self._encoders: dict[int, object] = {}

    def _key(self, layers: int | None) -> str:
        weights = self.model_dir / WEIGHTS
        return (f"L{layers if layers is not None else 'all'}-{self.compute_type}-"
                + content_key(file_sha256(weights)[:16], ct2.RECIPE, package_versions("ctranslate2")))

    def converted(self, layer: int) -> Path:
        """The conversion that ends at hidden-state ``layer`` (made on first use)."""
        if layer < 1:
            raise ProjectionError(f"the ct2 backend cannot give hidden state {layer} (the embedding output); "
                                  "predict with --backend torch")
        cut = None if layer == self.n_layers else layer
        out = self.model_dir / CT2_DIR / self._key(cut)
        if ct2.is_converted(out):
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".convert-", dir=out.parent) as tmp:
            src = Path(tmp) / "encoder"
            self.model.encoder.save_pretrained(src)
            self.tokenizer.save_pretrained(src)
            done = ct2.convert_encoder(src, layers=cut, quantization=self.compute_type, cache_root=Path(tmp) / "out")
            try:
                os.replace(done, out)
            except OSError:  # converted meanwhile by another process
                if not ct2.is_converted(out):
                    raise
                shutil.rmtree(done, ignore_errors=True)
        return out

    def encoder(self, layer: int):
        if layer not in self._encoders:
            self._encoders[layer] = ct2.load_encoder(self.converted(layer), device=self.device,
                                                     compute_type=self.compute_type, threads=self.threads)
        return self._encoders[layer]

    def features(self, windows: Sequence[Window], layers: Sequence[int], description: str = "encoder (ct2)"
                 ) -> list[np.ndarray]:
        """``(tokens, len(layers), hidden)`` float32 per window, layers in the given order."""
        per_layer = []
        with bar(len(windows) * len(layers), description) as advance:
            for layer in layers:
                per_layer.append(ct2.forward_hidden(self.encoder(layer), [w.input_ids for w in windows],
                                                    on_batch=lambda idx: advance(len(idx))))
        return [np.stack([states[k] for states in per_layer], axis=1) for k in range(len(windows))]
