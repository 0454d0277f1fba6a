"""Numeric precision of training and prediction: float32, or bf16 autocast where it is fast.

``TrainConfig.precision`` is one of :data:`PRECISIONS`:

* ``fp32``: everything in float32 (the recipe of every model trained before this option);
* ``bf16``: matrix products under ``torch.autocast(dtype=bfloat16)``, on a GPU or a CPU;
  the weights, the gradients, the optimizer state and the loss stay float32 (autocast
  casts a copy of each weight per step; nothing is stored in bf16);
* ``auto``: ``bf16`` where the device multiplies bf16 natively (a CUDA GPU with bf16 support;
  a CPU with AVX512-BF16 or AMX-BF16 instructions, through oneDNN), else ``fp32``. A CPU
  without these instructions would emulate bf16, slower than float32.

:func:`resolve` turns the option into what runs on a device (``fp32`` or ``bf16``);
:func:`autocast` is the context the forward pass runs in; :func:`adamw` the optimizer, fused
with ``TrainConfig.fused_optimizer``.
"""

from __future__ import annotations

import contextlib
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from projection.errors import ProjectionError
from projection.train.config import PRECISIONS, TrainConfig

logger = logging.getLogger(__name__)


def check(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ProjectionError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")


@lru_cache(maxsize=1)
def cpu_bf16_native() -> bool:
    """Whether this CPU runs bf16 matrix products natively (AVX512-BF16 or AMX-BF16) and torch can
    use them (oneDNN present). torch's own capability query first, ``/proc/cpuinfo`` as a fallback."""
    import torch

    if not torch.backends.mkldnn.is_available():
        return False
    query = getattr(torch.cpu, "get_capabilities", None)
    if query is not None:
        try:
            caps = query()
            return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
        except (RuntimeError, AttributeError):  # pragma: no cover - older torch
            pass
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})  # pragma: no cover - older torch


def cpu_flags(path: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def resolve(precision: str, device) -> str:
    """What runs on ``device`` (a ``torch.device``) for the option ``precision``: ``fp32`` or ``bf16``."""
    import torch

    check(precision)
    if precision == "fp32":
        return "fp32"
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
        if precision == "bf16" and not supported:
            raise ProjectionError("precision bf16: this GPU has no bf16 support; use --precision fp32 or auto")
        return "bf16" if supported else "fp32"
    if device.type == "cpu":
        return "bf16" if precision == "bf16" or cpu_bf16_native() else "fp32"
    if precision == "bf16":
        raise ProjectionError(f"precision bf16 runs on a CPU or a CUDA GPU, not on {device.type}")
    return "fp32"


def autocast(device, resolved: str):
    """The context the forward pass runs in: bf16 autocast on ``device``, or nothing for fp32."""
    import torch

    if resolved == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def adamw(param_groups: list[dict[str, Any]], config: TrainConfig):
    """AdamW; with ``fused_optimizer`` one fused kernel per step (torch >= 2.4 on CPU), else the
    per-parameter loop (the recipe of models trained before the option)."""
    import torch

    if config.fused_optimizer:
        try:
            return torch.optim.AdamW(param_groups, lr=config.lr, fused=True)
        except (RuntimeError, TypeError, ValueError) as e:  # pragma: no cover - older torch or device
            logger.warning(f"fused AdamW unavailable ({e}); using the per-parameter loop")
    return torch.optim.AdamW(param_groups, lr=config.lr)
