"""The Ray instance of a ``ray`` run: joining a cluster or starting a private local instance,
sizing the actor pools to its resources, and reaping the processes a local instance leaves
behind (see :mod:`projection.executors.ray`)."""

from __future__ import annotations

import contextlib
import logging
import os
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projection import procs
from projection.errors import ProjectionError

INSTALL_HINT = "pip install 'projection[ray]'"


def import_ray() -> Any:
    """``ray`` with Ray Data, or a clear error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ProjectionError(f"the ray executor needs Ray Data ({e}): {INSTALL_HINT}") from None
    return ray


def memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


# --------------------------------------------------------------------------- the Ray instance


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[dict[str, Any]]:
    """Ray for one run: the instance this process is already connected to, else the cluster at
    ``address`` / ``$RAY_ADDRESS``, else a private local instance sized to this machine.

    The local instance has no dashboard, no token (``RAY_AUTH_MODE=disabled``), no usage
    report, ``num_cpus`` CPU slots (default: the cores, at least 2) and an object store of
    at most 2 GiB; it is shut down at the end and the processes it started are reaped.
    Yields ``address`` (a description), ``cpus``, ``gpus``, ``nodes`` and ``startup_seconds``.
    """
    ray = import_ray()
    # Ray's C++ core logs an error line for every actor pool of Ray Data (restartable actors
    # with arguments in the object store, ray-project/ray#53727): harmless here, so only
    # fatal C++ messages are shown unless RAY_BACKEND_LOG_LEVEL says otherwise.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    owned = local = False
    t0 = time.perf_counter()
    if ray.is_initialized():
        where = "the Ray instance of this process"
    else:
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            where = f"cluster {address}"
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            where = "local instance"
            local = True
            ray.init(address="local", num_cpus=num_cpus or max(2, os.cpu_count() or 1), include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False,
                     object_store_memory=int(min(2 << 30, memory_bytes() // 5)))
        owned = True
    startup = round(time.perf_counter() - t0, 3)
    res = ray.cluster_resources()
    info = {"address": where, "cpus": res.get("CPU", 0.0), "gpus": res.get("GPU", 0.0),
            "nodes": len([n for n in ray.nodes() if n.get("Alive")]), "startup_seconds": startup}
    try:
        yield info
    finally:
        if owned:
            # Workers of a local instance exit on their own once the raylet is gone, but may
            # take a minute: reap the processes this run started (by pid and start time).
            started = procs.descendants(os.getpid()) if local else []
            ray.shutdown()
            procs.reap(started)


# --------------------------------------------------------------------------- resources


@dataclass
class Pool:
    """The actor pool of one stage: how many actors, and what each asks for."""

    stage: str
    size: int
    num_cpus: float
    num_gpus: float
    threads: int

    def describe(self) -> str:
        gpu = f", {self.num_gpus:g} GPU" if self.num_gpus else ""
        return f"{self.stage} {self.size}x({self.num_cpus:g} CPU{gpu})"


def plan_pools(stages: Sequence[tuple[str, int, bool]], cpus: float, gpus: float, actors: int | None = None
               ) -> list[Pool]:
    """Pools for stages that run at the same time: ``(stage, work items, can use a GPU)`` each.

    A CPU pool gets one actor per CPU (or ``actors``), never more than its work items; a GPU
    pool one actor per GPU (GPUs split evenly between the GPU stages). CPU requests are
    fractional so that the actors together leave at least one CPU slot free for Ray Data's
    own tasks; each actor gets ``threads`` = its share of the CPUs for its libraries.
    """
    n_gpu_stages = sum(1 for _, _, g in stages if g) if gpus > 0 else 0
    plans = []
    for stage, items, gpu in stages:
        if gpu and n_gpu_stages:
            per = 1.0 if gpus >= n_gpu_stages else round(gpus / n_gpu_stages, 2)
            size = max(1, min(items, int(gpus // n_gpu_stages) if per == 1.0 else 1))
            plans.append((stage, size, per))
        else:
            size = max(1, min(items, actors or max(1, int(cpus))))
            if stage == "project" and not actors:
                size = max(1, min(size, math.ceil(cpus / 2)))  # cheap: half the CPUs are plenty
            plans.append((stage, size, 0.0))
    total = sum(size for _, size, _ in plans)
    free = max(cpus - 1.0, cpus / 2)
    each = max(0.01, min(1.0, math.floor(100 * free / max(total, 1)) / 100))
    # threads: the pool's share of the CPUs (a GPU actor needs few)
    return [Pool(stage, size, each, per, max(1, min(4 if per else 1 << 10, int(cpus // size))))
            for stage, size, per in plans]
