"""The worker side of the ``ray`` executor: one callable class per stage, run by Ray Data actor pools.

Ray Data calls ``Stage(**constructor_kwargs)`` once per actor and then ``stage(batch)`` for
every batch, so an actor builds its engines (a CTranslate2 translator, an encoder for
alignment) on first use and keeps them for every later shard. A batch is one work item:
columns ``job`` (index into the run's jobs), ``shard`` (shard index, ``-1`` for a whole
language corpus) and ``payload`` (a pickled dict). The payload accumulates the stages'
results (``rows`` after translation, ``aligns``/``sims`` after alignment, ``projected``
after projection) plus ``seconds`` per stage; a stage whose result is already in the
payload (restored from a stored shard, or computed over the whole corpus) passes it on.

All the stage work goes through :mod:`projection.pipeline` (:func:`~projection.pipeline.translate_rows`,
:func:`~projection.pipeline.project_rows`, the engine factories), exactly as the ``local``
executor does it, so both produce the same sentences.

Fault injection, for testing restarts on a cluster: ``kill_once=(stage, flag_file)`` makes
the first actor of that stage that finds no ``flag_file`` create it and SIGKILL its own
process before working on its batch (the executor passes ``$PROJECTION_RAY_KILL_ONCE`` =
``stage:flag_file``). Ray restarts the actor and retries the batch. With ``driver:flag_file``
the executor kills the whole job instead, right after storing its first finished shard.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from projection.errors import ProjectionError



def kill_once(flag: str, who: str) -> None:
    """SIGKILL this process unless ``flag`` exists; create ``flag`` first (fault injection)."""
    try:
        fd = os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, f"{who} {os.getpid()} killed itself\n".encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


class _Stage:
    stage = ""
    keep = 2  # engines an actor keeps (least recently used ones are dropped)

    def __init__(self, specs: list[dict[str, Any]], threads: int | None = None,
                 kill_once: tuple[str, str] | None = None):
        if threads:
            # Libraries that size thread pools from the environment (OpenMP in eflomal, torch,
            # CTranslate2) read it when first used, which is after this point.
            n = str(max(1, min(int(threads), os.cpu_count() or 1)))
            os.environ["OMP_NUM_THREADS"] = n
            os.environ["MKL_NUM_THREADS"] = n
        os.environ["PROJECTION_PROGRESS"] = "0"  # the driver shows progress; workers stay quiet
        from projection import pipeline

        self.pl = pipeline
        self.specs = specs
        self.kill_once = tuple(kill_once) if kill_once else None
        self._engines: OrderedDict[Any, Any] = OrderedDict()

    def engine(self, key: Any, build: Callable[[], Any]) -> Any:
        """The engine under ``key``, built on first use (least recently used ones dropped)."""
        if key in self._engines:
            self._engines.move_to_end(key)
            return self._engines[key]
        while len(self._engines) >= self.keep:
            self._engines.popitem(last=False)  # before building: two large models never coexist
        value = build()
        self._engines[key] = value
        return value

    def _maybe_die(self) -> None:
        if self.kill_once and self.kill_once[0] == self.stage:
            kill_once(self.kill_once[1], f"{self.stage} actor")

    def checked(self, engine: Any, job: int, section: str) -> Any:
        """``engine``, after making sure it is the engine the driver planned with: a worker with
        another model file, data directory or package version would silently compute something
        else than the manifest says."""
        expected = self.specs[job]["signatures"][section]
        got = engine.signature()
        if got != expected:
            keys = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
            diff = "; ".join(f"{k}: driver {expected.get(k)!r}, worker {got.get(k)!r}" for k in keys)
            raise ProjectionError(f"ray worker on {os.uname().nodename}: the {section} engine differs from the "
                                  f"driver's ({diff}); give every node the same models, data (PROJECTION_DATA) "
                                  "and packages")
        return engine

    def process(self, job: int, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        out = []
        for job, blob in zip(batch["job"], batch["payload"]):
            payload = pickle.loads(blob)
            self._maybe_die()
            t0 = time.perf_counter()
            if self.process(int(job), payload) is not False:
                payload.setdefault("seconds", {})[self.stage] = round(time.perf_counter() - t0, 4)
            out.append(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        return {"job": batch["job"], "shard": batch["shard"], "payload": out}


class TranslateStage(_Stage):
    """Translate and tokenise the payload's sentences (adds ``rows`` and ``stats``)."""

    stage = "translate"
    # A translator serves one target language: an actor that moves on to the next language's
    # shards (they come language by language) frees the previous model before loading the next.
    keep = 1

    def process(self, job: int, payload: dict[str, Any]) -> bool | None:
        if "rows" in payload:
            return False
        spec = self.specs[job]
        translator = self.engine(("translate", job), lambda: self.checked(
            self.pl._make_translator(spec["config"], spec["lang"], spec["markers"]), job, "translate"))
        payload["rows"] = self.pl.translate_rows(translator, payload["sentences"], spec["lang"], spec["markers"])
        payload["stats"] = dict(getattr(translator, "last_stats", {}) or {})
        return None


class AlignStage(_Stage):
    """Word-align the sentences with their translations (adds ``aligns`` and ``sims``)."""

    stage = "align"

    def process(self, job: int, payload: dict[str, Any]) -> bool | None:
        if "aligns" in payload:
            return False
        spec = self.specs[job]
        # Aligners whose options do not depend on the language (an encoder) are shared by all
        # languages: the model is loaded once per actor.
        aligner = self.engine(("align", spec["aligner_key"]), lambda: self.checked(
            self.pl._make_aligner(spec["config"], spec["lang"], lambda m: None)[0], job, "align"))
        pairs = [(s.tokens, row["tokens"]) for s, row in zip(payload["sentences"], payload["rows"])]
        if spec["want_sim"]:
            payload["aligns"], payload["sims"] = aligner.align_with_similarity(pairs)
        else:
            payload["aligns"], payload["sims"] = aligner.align(pairs), None
        return None


class ProjectStage(_Stage):
    """Project the entities (adds ``projected`` as dicts; drops what the driver does not need)."""

    stage = "project"

    def process(self, job: int, payload: dict[str, Any]) -> bool | None:
        spec = self.specs[job]
        projector = self.engine(("project", job), lambda: self.checked(
            self.pl.make_projector(spec["config"], spec["lang"]), job, "project"))
        projected, _ = self.pl.project_rows(projector, payload["sentences"], payload["rows"], payload["aligns"],
                                            payload.get("sims"))
        payload["projected"] = [ps.to_dict() for ps in projected]
        for key in ("sentences", "rows", "aligns", "sims"):
            payload.pop(key, None)
        return None


STAGES: dict[str, type[_Stage]] = {"translate": TranslateStage, "align": AlignStage, "project": ProjectStage}
