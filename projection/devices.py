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
import platform
import re
from pathlib import Path
from typing import Any, Literal

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


__all__ = ["resolve_device", "default_threads", "hardware", "Runtime", "RUNTIMES", "ISA_FLAGS", "KERNEL_ENV"]


def default_threads() -> int:
    """CPU threads for one engine: ``$OMP_NUM_THREADS`` if set, else all cores (at most 8)."""
    env = os.environ.get("OMP_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(8, os.cpu_count() or 1))


# The CPU features that choose a numeric library's kernels (MKL and CTranslate2 dispatch on them),
# and the variables that override that choice. Kernels of different instruction sets add in another
# order and round differently, so the same int8 or float32 encoder gives slightly different
# similarities on another CPU, and an alignment near a tie can flip (docs/project.md, "Across machines").
ISA_FLAGS: tuple[str, ...] = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni",
                              "amx_int8", "amx_bf16", "neon", "asimd", "sve")
KERNEL_ENV: tuple[str, ...] = ("MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "CT2_FORCE_CPU_ISA", "ONEDNN_MAX_CPU_ISA",
                               "DNNL_MAX_CPU_ISA")


def hardware(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[str, Any]:
    """The machine a run's numbers came from: architecture, CPU model, the instruction-set features
    that pick numeric kernels (read from ``cpuinfo`` where it exists, else none), the core count,
    and any kernel-steering variables that are set. Recorded in a run's manifest, so that two runs
    whose outputs differ can be told apart by the machines that made them."""
    model, flags = platform.processor() or None, set()
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "model name" and value.strip():
            model = value.strip()
        elif name in ("flags", "features"):
            flags.update(value.split())
        if model and flags and name == "":  # the first processor's block is enough
            break
    return {"machine": platform.machine(), "cpu": model, "isa": [f for f in ISA_FLAGS if f in flags],
            "cores": os.cpu_count(), "env": {k: os.environ[k] for k in KERNEL_ENV if os.environ.get(k)}}
