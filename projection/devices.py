"""Where a model runs: the one device resolver of every stage (translation, alignment, labelling,
training). Core module: imports no stage.

``auto`` (or nothing) becomes ``cuda`` when the runtime that will run the model sees a GPU, else
``cpu``; an explicit device is kept; any other name is a :class:`ProjectionError` that names it.
The runtime matters because the two can disagree: a CPU-only torch next to a CUDA build of
CTranslate2 (or the reverse). CTranslate2 takes the GPU index separately, so ``cuda:N`` is a torch
device only.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from projection.errors import ProjectionError

Runtime = Literal["torch", "ctranslate2"]
RUNTIMES: tuple[str, ...] = ("torch", "ctranslate2")


def _gpu_visible(runtime: str) -> bool:
    try:
        if runtime == "ctranslate2":
            import ctranslate2

            return ctranslate2.get_cuda_device_count() > 0
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # the runtime missing, or its CUDA probe failing: no GPU to use
        return False


def resolve_device(device: str | None = "auto", runtime: Runtime = "torch") -> str:
    """``auto`` (``None``, ``""``) -> ``cuda`` when ``runtime`` sees a GPU, else ``cpu``; ``cpu`` and
    ``cuda`` (and ``cuda:N`` for torch) are kept, lower-cased; anything else is an error."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    name = str(device or "auto").strip().lower()
    valid = ["auto", "cpu", "cuda"] + (["cuda:N"] if runtime == "torch" else [])
    if name not in valid[:3] and not (runtime == "torch" and re.fullmatch(r"cuda:\d+", name)):
        raise ProjectionError(f"device must be {', '.join(valid[:-1])} or {valid[-1]}, not {device!r}")
    if name != "auto":
        return name
    return "cuda" if _gpu_visible(runtime) else "cpu"


__all__ = ["resolve_device", "default_threads", "Runtime", "RUNTIMES"]


def default_threads() -> int:
    """CPU threads for one engine: ``$OMP_NUM_THREADS`` if set, else all cores (at most 8)."""
    env = os.environ.get("OMP_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(8, os.cpu_count() or 1))
