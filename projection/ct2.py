"""Transformer encoders on CTranslate2: convert once (optionally cut after layer L), load, run.

CTranslate2 runs a BERT-style encoder several times faster than torch on a CPU (int8
weights, fused kernels). Any stage that only needs an encoder's hidden states (the
``embed`` aligner, fast NER prediction) uses this module; it imports no stage.

    from projection import ct2

    path = ct2.convert_encoder("models/e5-small", layers=8)          # cached; int8 by default
    enc = ct2.load_encoder(path, device="cpu", compute_type="int8", threads=2)
    ids = tokenizer(words, is_split_into_words=True)["input_ids"]     # special tokens included
    (hidden,) = ct2.forward_hidden(enc, [ids])                       # (len(ids), hidden_size) float32

* :func:`convert_encoder` converts a transformers encoder folder (or a hub name present in
  the local Hugging Face cache) with CTranslate2's ``TransformersConverter``. With
  ``layers=L`` only the first L transformer layers are kept, so the model's last hidden
  state *is* layer L (``hidden_states[L]`` in transformers' numbering). Supported: BERT
  and (XLM-)RoBERTa configurations. The result is cached under
  ``$PROJECTION_CACHE/ct2-encoders/`` by (model content hash, layers, quantization,
  CTranslate2 version, recipe); conversion goes to a temporary folder renamed into place
  (under a file lock), so a killed or concurrent conversion never leaves a half-written model.
* :func:`load_encoder` returns a ``ctranslate2.Encoder``.
* :func:`forward_hidden` runs ``forward_batch`` over sequences of token ids (or token
  strings) in length-sorted batches and returns one ``last_hidden_state`` array per
  sequence, without padding.
* :func:`model_fingerprint` (the model folder's one identity, :mod:`projection.fingerprint`) and
  :func:`position_limit` (the longest sequence, special tokens included, the model's
  position embeddings allow).

Two conversion pitfalls are handled: transformers 5's ``BertConfig`` has no
``position_embedding_type`` attribute while the converter asserts it is ``"absolute"``
(it is set when absent; any other value is refused), and XLM-R folders are loaded into
the class the converter expects (``XLMRobertaForSequenceClassification``; its unused
classifier head is not converted).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from projection.devices import default_threads, resolve_device
from projection.errors import ProjectionError
from projection.fingerprint import folder_fingerprint
from projection.store import cache_root as _default_cache_root
from projection.store import package_versions

# Bump when the conversion itself changes (what is kept, how the config is patched):
# the cache key includes it, so older conversions are not reused.
RECIPE = 1
CONFIGS = ("BertConfig", "XLMRobertaConfig", "RobertaConfig")
QUANTIZATIONS = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")
# (XLM-)RoBERTa number positions from padding_idx + 1: that many position embeddings are unusable
_OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "camembert"})


# --------------------------------------------------------------------------- models


def model_dir(model: str | Path) -> Path:
    """The local folder of a model: the path itself, or its snapshot in the Hugging Face cache."""
    path = Path(model)
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(model), local_files_only=True))
    except Exception as e:  # noqa: BLE001 - every failure means the same: no local copy
        raise ProjectionError(
            f"encoder {str(model)!r} is neither a local folder nor in the local Hugging Face cache "
            f"({type(e).__name__})"
        ) from None


def model_fingerprint(model: str | Path) -> str:
    """The model folder's one identity (:func:`projection.fingerprint.folder_fingerprint`), for a folder or a
    cached hub name."""
    return folder_fingerprint(model_dir(model))


def load_config(model: str | Path) -> Any:
    """The transformers configuration of a model folder (or cached hub name)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(str(model_dir(model)))
    except (OSError, ValueError) as e:
        raise ProjectionError(f"cannot read the configuration of encoder {str(model)!r}: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def unsupported_reason(config: Any, layers: int | None = None) -> str | None:
    """Why CTranslate2 cannot run this encoder (``None`` when it can)."""
    name = type(config).__name__
    if name not in CONFIGS:
        return f"CTranslate2 converts {', '.join(CONFIGS)} encoders, not {name}"
    pos = getattr(config, "position_embedding_type", None)
    if pos not in (None, "absolute"):
        return f"CTranslate2 supports absolute position embeddings only, not {pos!r}"
    n = getattr(config, "num_hidden_layers", None)
    if layers is not None and (layers < 1 or (n is not None and layers > n)):
        return f"layers must be between 1 and {n} for CTranslate2, not {layers}"
    return None


def position_limit(config: Any) -> int | None:
    """The longest input (special tokens included) the position embeddings allow, or ``None``."""
    n = getattr(config, "max_position_embeddings", None)
    if not n:
        return None
    if getattr(config, "model_type", "") in _OFFSET_POSITIONS:
        n -= (getattr(config, "pad_token_id", None) or 0) + 1
    return int(n)


# --------------------------------------------------------------------------- conversion


def _converter_class():
    import torch
    from ctranslate2.converters import TransformersConverter

    class EncoderConverter(TransformersConverter):
        """Patches the loaded model before the converter reads it: position embedding type, layer cut."""

        layers: int | None = None

        def load_model(self, model_class, model_name_or_path, **kwargs):
            model = super().load_model(model_class, model_name_or_path, **kwargs)
            config = model.config
            if getattr(config, "position_embedding_type", None) is None:
                config.position_embedding_type = "absolute"  # transformers 5's BertConfig lacks it
            if self.layers is not None:
                base = getattr(model, model.base_model_prefix, model)
                base.encoder.layer = torch.nn.ModuleList(list(base.encoder.layer)[: self.layers])
                config.num_hidden_layers = self.layers
            return model

    return EncoderConverter


def conversion_key(model: str | Path, layers: int | None, quantization: str) -> str:
    """The cache folder name of a conversion."""
    from importlib import metadata

    name = Path(str(model).rstrip("/")).name.replace("/", "--") or "model"
    version = metadata.version("ctranslate2")
    return f"{name}-{model_fingerprint(model)}-L{layers if layers is not None else 'all'}-{quantization}-ct2_{version}-r{RECIPE}"


def is_converted(path: str | Path) -> bool:
    p = Path(path)
    return (p / "model.bin").is_file() and (p / "config.json").is_file()


def convert_encoder(model: str | Path, *, layers: int | None = None, quantization: str = "int8",
                    cache_root: str | Path | None = None) -> Path:
    """The CTranslate2 folder of ``model`` cut after ``layers`` layers, converted on first use.

    ``quantization``: the weight type CTranslate2 stores (``int8``, ``float16``, ``float32``,
    ...); load it with the same compute type. ``cache_root``: default
    ``$PROJECTION_CACHE/ct2-encoders``. Raises :class:`ProjectionError` for a model
    CTranslate2 cannot convert.
    """
    if quantization not in QUANTIZATIONS:
        raise ProjectionError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, not {quantization!r}")
    source = model_dir(model)
    config = load_config(source)
    reason = unsupported_reason(config, layers)
    if reason:
        raise ProjectionError(f"cannot convert encoder {str(model)!r}: {reason}")
    root = Path(cache_root) if cache_root is not None else _default_cache_root() / "ct2-encoders"
    out = root / conversion_key(source, layers, quantization)
    if is_converted(out):
        return out
    root.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(root / f".{out.name}.lock")):
        if is_converted(out):  # converted by another process while we waited
            return out
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=root))
        try:
            _convert(source, tmp / "m", layers, quantization)
            info = {"source": str(model), "fingerprint": model_fingerprint(source), "layers": layers,
                    "quantization": quantization, "recipe": RECIPE,
                    "versions": package_versions("ctranslate2", "transformers", "torch")}
            (tmp / "m" / "projection.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
            os.replace(tmp / "m", out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _convert(source: Path, out: Path, layers: int | None, quantization: str) -> None:
    from transformers.utils import logging as hf_logging

    converter = _converter_class()(str(source), low_cpu_mem_usage=True)
    converter.layers = layers
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # the unused pooler/classifier heads are "newly initialised"
    hf_logging.disable_progress_bar()
    try:
        converter.convert(str(out), quantization=quantization, force=True)
    except (OSError, ValueError, AssertionError, KeyError, AttributeError) as e:
        raise ProjectionError(f"cannot convert encoder {str(source)!r} with CTranslate2: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


# --------------------------------------------------------------------------- running


def default_compute_type(device: str) -> str:
    """int8 on CPU, float16 on GPU."""
    return "float16" if device == "cuda" else "int8"


def load_encoder(path: str | Path, device: str = "cpu", compute_type: str = "int8", threads: int | None = None,
                 inter_threads: int = 1):
    """A ``ctranslate2.Encoder`` for a converted folder (``threads``: CPU threads per batch, default
    :func:`default_threads`; ``inter_threads``: batches run side by side, each from its own calling thread)."""
    import ctranslate2

    try:
        return ctranslate2.Encoder(str(path), device=resolve_device(device, runtime="ctranslate2"), compute_type=compute_type,
                                   inter_threads=max(1, int(inter_threads)),
                                   intra_threads=int(threads or default_threads()))
    except (RuntimeError, ValueError) as e:
        raise ProjectionError(f"cannot load the CTranslate2 encoder {path}: {e}") from None


def length_batches(lengths: Sequence[int], batch_size: int, batch_tokens: int) -> list[list[int]]:
    """Indices grouped into batches, longest first, each at most ``batch_size`` sequences and
    ``batch_tokens`` padded tokens (a longer single sequence gets a batch of its own)."""
    order = sorted(range(len(lengths)), key=lambda k: -lengths[k])
    batches, start = [], 0
    while start < len(order):
        width = max(lengths[order[start]], 1)
        size = max(1, min(batch_size, batch_tokens // width))
        batches.append(order[start:start + size])
        start += size
    return batches


def forward_hidden(encoder: Any, inputs: Sequence[Sequence[int]] | Sequence[Sequence[str]], *, batch_size: int = 128,
                   batch_tokens: int = 8192, on_batch: Callable[[list[int]], None] | None = None) -> list[np.ndarray]:
    """``last_hidden_state`` of each input sequence: one float32 array ``(len(seq), hidden)`` per sequence.

    ``inputs`` are token ids (or token strings of the model's vocabulary), special tokens
    included, each no longer than the model's position limit. Sequences are run longest
    first in batches of at most ``batch_size`` sequences and ``batch_tokens`` padded
    tokens; ``on_batch(indices)`` is called after each batch (progress). Empty sequences
    give ``(0, hidden)`` arrays.
    """
    import ctranslate2

    out: list[np.ndarray | None] = [None] * len(inputs)
    todo = [k for k, seq in enumerate(inputs) if len(seq) > 0]
    hidden = None
    for batch in length_batches([len(inputs[k]) for k in todo], batch_size, batch_tokens):
        idx = [todo[b] for b in batch]
        result = encoder.forward_batch([list(inputs[k]) for k in idx])
        states = result.last_hidden_state
        if states.dtype != ctranslate2.DataType.float32:  # float16 / bfloat16 on a GPU
            states = states.to(ctranslate2.DataType.float32)
        if states.device != "cpu":
            states = states.to_device(ctranslate2.Device.cpu)
        arr = np.asarray(states)
        hidden = arr.shape[-1]
        for r, k in enumerate(idx):
            out[k] = np.array(arr[r, : len(inputs[k])], dtype=np.float32)
        if on_batch is not None:
            on_batch(idx)
    for k, v in enumerate(out):
        if v is None:
            out[k] = np.zeros((0, hidden or 0), dtype=np.float32)
    return out  # type: ignore[return-value]


__all__ = ["convert_encoder", "load_encoder", "forward_hidden", "model_fingerprint", "model_dir", "load_config",
           "position_limit", "unsupported_reason", "conversion_key", "length_batches", "default_threads",
           "default_compute_type", "is_converted", "QUANTIZATIONS", "CONFIGS", "RECIPE"]
