"""Executors: where and how the pipeline's stages run.

An executor takes the resolved jobs of a run (:class:`.base.Job`, one per
target language) and returns one :class:`.base.JobOutput` per job: the
projected sentences in source order plus per-stage information. The pipeline does the
rest (filtering policy, counts, run directory, manifest), so every executor writes the
same files and the manifest's ``executor`` entry says which one ran.

* ``local`` - the stages one after the other in this process, every stage output cached
  in the run directory (:mod:`.local`).
* ``ray`` - Ray Data over shards of the corpus and over languages, on a local Ray instance
  or a cluster; completed shards are stored, so a killed job resumes (:mod:`.ray`).

Executors run the stage objects of :mod:`projection.stages` (never a stage package, never
the pipeline, which imports them) and store every stage's output under the same names in
the run's one stage store, so a run started with one executor and finished with another
recomputes nothing. Adding an executor is one module, one ``executors.add(...)`` line here
and its name in :data:`projection.pipeline_config.EXECUTOR_NAMES`.
"""

from __future__ import annotations

from typing import Any

from projection.executors.base import Executor, Job, JobOutput
from projection.registry import Registry

executors: Registry[Any] = Registry("executor")
executors.add("local", "projection.executors.local:LocalExecutor")
executors.add("ray", "projection.executors.ray:RayExecutor")

__all__ = ["Executor", "Job", "JobOutput", "executors"]
