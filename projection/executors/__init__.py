"""Executors: where and how the pipeline's stages run.

An executor takes the resolved jobs of a run (:class:`projection.pipeline.Job`, one per
target language) and returns one :class:`projection.pipeline.JobOutput` per job: the
projected sentences in source order plus per-stage information. The pipeline does the
rest (filtering policy, counts, run directory, manifest), so every executor writes the
same files and the manifest's ``executor`` entry says which one ran.

* ``local`` - the stages one after the other in this process, every stage output cached
  in the run directory (:mod:`.local`).
* ``ray`` - Ray Data over shards of the corpus and over languages, on a local Ray instance
  or a cluster; completed shards are stored, so a killed job resumes (:mod:`.ray`).

Executors import the pipeline, never a stage: engines are built through
:mod:`projection.pipeline`, the one module that knows the stages. Adding an executor is
one module and one ``executors.add(...)`` line here.
"""

from __future__ import annotations

from typing import Any

from projection.executors.base import Executor
from projection.registry import Registry

executors: Registry[Any] = Registry("executor")
executors.add("local", "projection.executors.local:LocalExecutor")
executors.add("ray", "projection.executors.ray:RayExecutor")

__all__ = ["Executor", "executors"]
