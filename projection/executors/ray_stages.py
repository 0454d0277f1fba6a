"""The worker side of the ``ray`` executor: one Ray Data actor class that maps a stage object.

Ray Data calls ``StageActor(**constructor_kwargs)`` once per actor and then ``actor(batch)``
for every batch. ``stage`` names the stage (translate, align, project); the actor builds the
public stage object of :mod:`projection.stages` for a job on first use (a CTranslate2
translator, an alignment encoder) and keeps it for every later shard, and calls its
``run(batch)``: the very objects the ``local`` executor loops over, so both produce the same
sentences. A Ray batch is one work item: columns ``job`` (index into the run's jobs),
``shard`` (shard index, ``-1`` for a whole language corpus) and ``payload`` (a pickled
:class:`projection.stages.Batch`). A stage whose output is already in the batch (loaded from
the stage store, or computed over the whole corpus) passes it on.

Fault injection, for testing restarts on a cluster: ``kill_once=(stage, flag_file)`` makes
the first actor of that stage that finds no ``flag_file`` create it and SIGKILL its own
process before working on its batch (the executor passes ``$PROJECTION_KILL_ONCE`` =
``stage:flag_file``). Ray restarts the actor and retries the batch. With ``driver:flag_file``
the executor kills the whole job instead, right after storing its first finished shard.
"""

from __future__ import annotations

import os
import pickle
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from projection import stages
from projection.errors import ProjectionError
from projection.executors.base import kill_once


class StageActor:
    """Runs one stage (``stage``) of every job of the run (``specs``: one per job) on Ray batches."""

    def __init__(self, stage: str, specs: list[dict[str, Any]], threads: int | None = None,
                 kill_once: tuple[str, str] | None = None):
        if threads:
            # Libraries that size thread pools from the environment (OpenMP in eflomal, torch,
            # CTranslate2) read it when first used, which is after this point.
            n = str(max(1, min(int(threads), os.cpu_count() or 1)))
            os.environ["OMP_NUM_THREADS"] = n
            os.environ["MKL_NUM_THREADS"] = n
        os.environ["PROJECTION_PROGRESS"] = "0"  # the driver shows progress; workers stay quiet
        if stage not in stages.STAGE_ORDER:
            raise ValueError(f"unknown stage {stage!r}")
        self.stage = stage
        self.specs = specs
        self.kill_once = tuple(kill_once) if kill_once else None
        # A translator serves one target language: an actor that moves on to the next language's
        # shards (they come language by language) frees the previous model before loading the next.
        self.keep = 1 if stage == "translate" else 2
        self._objects: OrderedDict[Any, stages.Stage] = OrderedDict()

    def stage_object(self, job: int) -> stages.Stage:
        """The stage object of ``job``, built on first use (least recently used ones dropped)."""
        spec = self.specs[job]
        # Aligners whose options do not depend on the language (an encoder) are shared by all
        # languages: the model is loaded once per actor.
        key = ("align", spec["aligner_key"]) if self.stage == "align" else (self.stage, job)
        if key in self._objects:
            self._objects.move_to_end(key)
            return self._objects[key]
        while len(self._objects) >= self.keep:
            self._objects.popitem(last=False)  # before building: two large models never coexist
        if self.stage == "translate":
            obj: stages.Stage = stages.TranslateStage(spec["config"], spec["lang"], spec["markers"])
        elif self.stage == "align":
            obj = stages.AlignStage(spec["config"], spec["lang"], similarity=spec["want_sim"])
        else:
            obj = stages.ProjectStage(spec["config"], spec["lang"])
        self._objects[key] = self.checked(obj, job)
        return obj

    def checked(self, obj: stages.Stage, job: int) -> stages.Stage:
        """``obj``, after making sure its engine is the one the driver planned with: a worker with
        another model file, data directory or package version would silently compute something
        else than the manifest says."""
        expected = self.specs[job]["signatures"][self.stage]
        got = obj.signature()
        if got != expected:
            keys = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
            diff = "; ".join(f"{k}: driver {expected.get(k)!r}, worker {got.get(k)!r}" for k in keys)
            raise ProjectionError(f"ray worker on {os.uname().nodename}: the {self.stage} engine differs from the "
                                  f"driver's ({diff}); give every node the same models, data (PROJECTION_DATA) "
                                  "and packages")
        return obj

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        out = []
        for job, blob in zip(batch["job"], batch["payload"]):
            work: stages.Batch = pickle.loads(blob)
            if self.kill_once and self.kill_once[0] == self.stage:
                kill_once(self.kill_once[1], f"{self.stage} actor")
            if not work.done(self.stage):
                t0 = time.perf_counter()
                self.stage_object(int(job)).run(work)
                work.seconds[self.stage] = round(time.perf_counter() - t0, 4)
            out.append(pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL))
        return {"job": batch["job"], "shard": batch["shard"], "payload": out}
