"""``ray``: the same pipeline on Ray Data, over shards of the corpus and over languages.

Each target language's source corpus is cut into shards of ``shard_size`` sentences
(default :data:`projection.stages.ALIGN_CHUNK`, 2000). The shards of every language
form one Ray Dataset (one block per shard) that flows through three ``map_batches``
stages, each a pool of actors that map the stage objects of :mod:`projection.stages`
(:class:`.ray_stages.StageActor`): translate -> align -> project. An actor builds its engines once (CTranslate2 translator, alignment
encoder) and keeps them for every shard it gets; actors of engines that can use a GPU ask
for ``num_gpus=1`` when the cluster has GPUs.

Same results as ``local``
    Every stage runs the same stage object as the ``local`` executor; shards are reassembled
    in source order, so the run directory is byte-identical to a ``local`` run for engines
    whose output for a sentence does not depend on the other sentences in its batch. The
    default shard size equals the local aligner's chunk, so a batched aligner sees the very
    same batches. Engines that are not sentence-independent are handled as follows:

    * Statistical aligners that learn from the whole corpus
      (:data:`projection.stages.CORPUS_LEVEL_ALIGNERS`: eflomal) cannot be sharded
      without changing their output (each shard would learn from 1/n of the text). They
      run over the whole language corpus in one task (languages in parallel); translation
      before and projection after stay sharded. eflomal has no random seed, so two of its
      runs can differ slightly under any executor.
    * ``given`` translations (:data:`projection.stages.POSITIONAL_TRANSLATORS`) are matched to
      sentences by position in the whole file: the driver reads them exactly as the ``local``
      executor does and ships each shard its slice; workers need not see the file.
    * Neural translation (NLLB via CTranslate2) decodes in length-sorted batches, and
      batch composition can change a translation in rare cases: a shard is a different
      batch set than the whole corpus. Translations are cached per sentence
      (``$PROJECTION_CACHE``), so rerunning with either executor reuses them.

Resume, and one cache layout with ``local``
    Every stage's output of a shard is written by the driver to the run's stage store under
    the stage's own name (:meth:`projection.stages.Stage.chunk_name`:
    ``RUN_DIR/stages/STAGE-KEY/START-STOP.EXT``, a temporary file renamed into place) as soon
    as it arrives; the ``local`` executor stores its chunks under the same names. A rerun, with
    either executor, loads what is stored and works only on the rest: a shard whose projection
    is stored is finished (when all are, Ray is not even started), one whose alignment is
    stored goes to projection only, and so on. With the default shard size (the local chunk
    size) a run started locally and finished on Ray, or the reverse, recomputes nothing. An
    actor killed mid-run is restarted and its shard retried (``retries`` restarts/retries; a
    Python error in a stage is not retried).

Cluster
    Locally (no ``address``, no ``$RAY_ADDRESS``) a private Ray instance is started for
    the run, sized to the machine, without the dashboard, and shut down afterwards. Actors
    ask for fractional CPUs that leave at least one CPU slot free, so Ray Data's own tasks
    can always be scheduled (a pool of 1-CPU actors on a 2-CPU machine can deadlock);
    ``no_progress_timeout_s`` turns a stall into an error instead of a silent hang. With
    ``address`` or ``$RAY_ADDRESS`` the run joins that cluster; every node needs the same
    environment (``pip install 'projection[ray]'``, Apertium if used) and the same paths
    for data and models (``PROJECTION_DATA``, ``PROJECTION_CACHE`` and the Hugging Face
    variables of the driver are passed to the workers), and every actor checks that the
    engines it builds have the signatures the driver planned with. Shard results travel
    back to the driver, which writes the run directory: workers need no shared file system.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from projection import rundir, stages
from projection.errors import ProjectionError
from projection.executors.base import Job, JobOutput, kill_once, kill_once_spec, load_output, save_output
from projection.executors.local import run_stage, translate_info
from projection.executors.ray_cluster import INSTALL_HINT, import_ray, plan_pools, ray_session  # noqa: F401
from projection.executors.ray_stages import StageActor
from projection.progress import bar
from projection.records import ProjectedSentence
from projection.stages import STAGE_ORDER, Batch
from projection.store import StageStore, content_key, package_versions

logger = logging.getLogger(__name__)

# Environment of the driver that the workers need to find the same data, caches and models.
FORWARDED_ENV = ("PROJECTION_DATA", "PROJECTION_CACHE", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_ENDPOINT",
                 "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")


# --------------------------------------------------------------------------- per-job plan


@dataclass
class JobPlan:
    """One job on Ray: its stage objects (built on the driver, for signatures and keys), its
    stage store, and its shards (:class:`projection.stages.Batch`, filled as results arrive)."""

    index: int
    job: Job
    stages: stages.Stages
    store: StageStore
    spec: dict[str, Any]
    gpu: dict[str, bool]
    shards: list[Batch]
    cached_at_start: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGE_ORDER})
    worked: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STAGE_ORDER})
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def corpus_translate(self) -> bool:
        return self.stages.translate.whole_corpus

    @property
    def corpus_align(self) -> bool:
        return self.stages.align.whole_corpus

    def pending(self) -> list[Batch]:
        return [s for s in self.shards if s.projected is None]

    def aligned(self) -> bool:
        return all(s.aligns is not None for s in self.shards)

    def save(self, stage: stages.Stage, batch: Batch) -> None:
        save_output(stage, self.stages.keys[stage.name], self.store, batch)


class RayExecutor:
    """The pipeline on Ray Data (see the module docstring).

    Options: ``address`` (a Ray cluster; default ``$RAY_ADDRESS``, else a local instance),
    ``shard_size`` (sentences per shard), ``actors`` (actors per CPU stage; default one per
    CPU), ``num_cpus`` (CPU slots of the local instance; default this machine's cores, at
    least 2), ``retries`` (actor restarts and task retries after a crash), and
    ``no_progress_timeout_s`` (fail when no shard moves for that long; raise it when a
    single shard takes longer, e.g. NLLB on CPUs).
    """

    name = "ray"

    def __init__(self, address: str | None = None, shard_size: int | None = None, actors: int | None = None,
                 num_cpus: int | None = None, retries: int = 3, no_progress_timeout_s: float = 1800.0):
        if shard_size is not None and (isinstance(shard_size, bool) or int(shard_size) < 1):
            raise ProjectionError(f"--shard-size must be a positive number of sentences, not {shard_size!r}")
        if actors is not None and int(actors) < 1:
            raise ProjectionError(f"actors must be positive, not {actors!r}")
        self.address = address
        self.shard_size = int(shard_size) if shard_size else None
        self.actors = int(actors) if actors else None
        self.num_cpus = int(num_cpus) if num_cpus else None
        self.retries = int(retries)
        self.no_progress_timeout_s = float(no_progress_timeout_s)
        self._info: dict[str, Any] = {}
        self.kill_once = kill_once_spec()

    # -- public
    def signature(self) -> dict[str, Any]:
        return {"name": self.name, **package_versions("ray"), "shard_size": self._shard_size(), **self._info}

    def run(self, jobs: Sequence[Job]) -> list[JobOutput]:
        t0 = time.perf_counter()
        plans = [self._plan(i, job) for i, job in enumerate(jobs)]
        timings: dict[str, float] = {}
        for p in plans:
            if p.corpus_translate and p.pending():
                self._translate_on_driver(p)
        if any(p.pending() for p in plans):
            with self._cluster() as startup:
                timings["ray_start"] = startup
                self._execute_all(plans)
        else:
            logger.info("ray: every shard is finished already; Ray not started")
        wall = time.perf_counter() - t0
        outputs = []
        for plan in plans:
            projected: list[ProjectedSentence] = [ps for s in plan.shards for ps in (s.projected or [])]
            ids = [ps.source.id for ps in projected]
            if ids != [s.id for s in plan.job.sentences]:
                raise ProjectionError(f"ray executor: {plan.job.lang}: the shards do not add up to the source corpus "
                                      f"({len(ids)} sentences for {len(plan.job.sentences)}); delete {plan.store.root} "
                                      "and rerun")
            outputs.append(JobOutput(projected, self._stage_infos(plan), round(wall, 3), dict(timings)))
        return outputs

    # -- planning (driver side: stage objects, keys, what is stored already)
    def _shard_size(self) -> int:
        return self.shard_size or stages.ALIGN_CHUNK

    def _plan(self, index: int, job: Job) -> JobPlan:
        cfg, lang = job.config, job.lang
        st = stages.build_stages(cfg, lang, job.src_key, job.markers)
        store = StageStore(job.out / rundir.STAGES)
        n = len(job.sentences)
        shards = [Batch(a, b, job.sentences[a:b]) for a, b in stages.chunks(n, self._shard_size())]
        for shard in shards:  # what this executor or another one stored for the same chunks
            if load_output(st.project, st.keys["project"], store, shard):
                continue
            if not st.translate.whole_corpus:
                load_output(st.translate, st.keys["translate"], store, shard)
            if not st.align.whole_corpus:
                load_output(st.align, st.keys["align"], store, shard)
        # Aligner options that do not mention the language (and no extra text per language):
        # one aligner (one encoder) serves every language in an actor.
        align_table = dict(cfg.align)
        lang_free = not align_table.get("extra_parallel") and "{lang}" not in repr(align_table)
        spec = {"lang": lang, "config": cfg, "markers": job.markers, "want_sim": st.align.similarity,
                "aligner_key": content_key(align_table, None if lang_free else lang), "signatures": st.signatures()}
        gpu = {"translate": st.translate.can_use_gpu, "align": st.align.can_use_gpu, "project": False}
        plan = JobPlan(index, job, st, store, spec, gpu, shards)
        plan.cached_at_start = len(shards) - len(plan.pending())
        if plan.cached_at_start:
            logger.info(f"ray: {lang}: {plan.cached_at_start} of {len(shards)} shards finished in an earlier run")
        return plan

    # -- the cluster
    @contextlib.contextmanager
    def _cluster(self) -> Iterator[float]:
        with ray_session(self.address, self.num_cpus) as info:
            self._info.update(info)
            logger.info(f"ray: {info['address']}: {info['cpus']:g} CPUs, {info['gpus']:g} GPUs; "
                f"ready in {info['startup_seconds']:.1f} s")
            yield info["startup_seconds"]

    # -- execution
    def _execute_all(self, plans: list[JobPlan]) -> None:
        specs = [p.spec for p in plans]
        todo = [p for p in plans if p.pending()]
        # 1. what an earlier run stored around a whole-corpus aligner
        for p in todo:
            if p.corpus_align:
                whole = Batch(0, len(p.job.sentences), p.job.sentences)
                if load_output(p.stages.align, p.stages.keys["align"], p.store, whole):
                    self._scatter(p, whole, "align")

        # 2. a corpus-level aligner needs every shard translated first (stored per shard)
        items = [self._item(p, i, s) for p in todo if p.corpus_align and not p.aligned()
                 for i, s in enumerate(p.shards) if s.rows is None]
        if items:
            def shard_translated(p: JobPlan, shard: int, batch: Batch) -> None:
                p.save(p.stages.translate, batch)
                self._account(p, batch)
                p.shards[shard].rows = batch.rows

            self._run_dataset(plans, items, ["translate"], specs, shard_translated, "translate")

        # 3. corpus-level aligners: the whole language corpus in one task (languages in parallel)
        items = [self._item(p, -1, Batch.join(p.shards)) for p in todo if p.corpus_align and not p.aligned()]
        if items:
            def corpus_aligned(p: JobPlan, shard: int, batch: Batch) -> None:
                p.save(p.stages.align, batch)
                self._account(p, batch)
                self._scatter(p, batch, "align")

            self._run_dataset(plans, items, ["align"], specs, corpus_aligned, "align (whole corpora)")

        # 4. every unfinished shard through the rest of the chain
        pending = [(p, i, s) for p in todo for i, s in enumerate(p.shards) if s.projected is None]
        needed = [st for st, missing in (("translate", any(s.rows is None for _, _, s in pending)),
                                         ("align", any(s.aligns is None for _, _, s in pending)),
                                         ("project", bool(pending))) if missing]
        items = [self._item(p, i, s) for p, i, s in pending]
        if items:
            def shard_done(p: JobPlan, shard: int, batch: Batch) -> None:
                for stage in p.stages:  # each stage that ran on this shard: stored under its own name
                    if stage.name in batch.seconds:
                        p.save(stage, batch)
                self._account(p, batch)
                s = p.shards[shard]
                s.projected, s.rows, s.aligns, s.sims = batch.projected, None, None, None
                self._maybe_die()

            self._run_dataset(plans, items, needed, specs, shard_done, " -> ".join(needed))

    def _maybe_die(self) -> None:
        """Fault injection (``$PROJECTION_KILL_ONCE=driver:FILE``): the whole job is killed
        once, right after its first finished shard was stored, as a test of resuming."""
        if self.kill_once and self.kill_once[0] == "driver":
            kill_once(self.kill_once[1], "driver")

    def _translate_on_driver(self, p: JobPlan) -> None:
        """Positional translations (a given file): on the driver, as the ``local`` executor does."""
        job = p.job
        logger.info(f"translate: {job.config.translate['engine']} ({len(job.sentences):,} sentences, read on the driver)")
        whole = Batch(0, len(job.sentences), job.sentences)
        done = run_stage(p.stages.translate, p.stages.keys["translate"], p.store, whole)
        translate_info(p.stages, done, p.store, job)
        if done["computed"]:
            p.seconds["translate"] += done["seconds"]
            p.worked["translate"] += 1
        self._scatter(p, whole, "translate")

    @staticmethod
    def _item(p: JobPlan, shard: int, batch: Batch) -> dict[str, Any]:
        work = Batch(batch.start, batch.stop, batch.sentences, batch.rows, batch.aligns, batch.sims)
        return {"job": p.index, "shard": shard, "payload": pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL)}

    @staticmethod
    def _scatter(p: JobPlan, whole: Batch, stage: str) -> None:
        """Hand ``stage``'s output on the whole corpus to the shards."""
        for s in p.shards:
            part = whole.slice(s.start, s.stop)
            if stage == "translate":
                s.rows = part.rows
            else:
                s.aligns, s.sims = part.aligns, part.sims

    @staticmethod
    def _account(p: JobPlan, batch: Batch) -> None:
        for stage, sec in batch.seconds.items():
            p.seconds[stage] += sec
            p.worked[stage] += 1
        if "translate" in batch.seconds:
            for k, v in batch.stats.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    p.stats[k] = p.stats.get(k, 0) + v

    def _run_dataset(self, plans: list[JobPlan], items: list[dict[str, Any]], stage_names: list[str],
                     specs: list[dict[str, Any]], on_result: Callable[[JobPlan, int, Batch], None],
                     label: str) -> None:
        """One Ray Dataset: ``items`` (one block each) through the actor pools of ``stage_names``."""
        import ray
        from ray.data import ActorPoolStrategy, DataContext

        ctx = DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        ctx.raise_original_map_exception = True  # a stage's ProjectionError, not a UserCodeException
        ctx.execution_no_progress_timeout_s = self.no_progress_timeout_s
        ctx.wait_for_min_actors_s = int(self.no_progress_timeout_s)
        res = ray.cluster_resources()
        gpu_used = {st: any(p.gpu[st] for p in plans) for st in stage_names}
        pools = plan_pools([(st, len(items), gpu_used[st]) for st in stage_names], res.get("CPU", 1.0), res.get("GPU", 0.0),
                           self.actors)
        logger.info(f"ray: {label}: {len(items)} work item(s); " + ", ".join(pool.describe() for pool in pools))
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        env["PROJECTION_PROGRESS"] = "0"
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset INFO lines
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # we show our own progress
        for pool in pools:
            with warnings.catch_warnings():
                # max_restarts / max_task_retries have no named parameter in Ray 2.60 yet
                warnings.simplefilter("ignore")
                ds = ds.map_batches(
                    StageActor, batch_size=1, batch_format="numpy",
                    compute=ActorPoolStrategy(size=pool.size),
                    fn_constructor_kwargs={"stage": pool.stage, "specs": specs, "threads": pool.threads,
                                           "kill_once": self.kill_once},
                    num_cpus=pool.num_cpus, num_gpus=pool.num_gpus or None,
                    runtime_env={"env_vars": env},
                    max_restarts=self.retries, max_task_retries=self.retries,
                )
        by_index = {p.index: p for p in plans}
        with bar(len(items), f"ray: {label}") as advance:
            try:
                for row in ds.iter_rows():
                    on_result(by_index[int(row["job"])], int(row["shard"]), pickle.loads(row["payload"]))
                    advance(1)
            except Exception as e:  # noqa: BLE001 - Ray wraps the stage's error; find what the user must see
                raise _user_error(e) from None

    # -- manifest entries
    def _stage_infos(self, p: JobPlan) -> dict[str, dict[str, Any]]:
        n = len(p.shards)
        infos = {}
        for stage in p.stages:
            corpus = {"translate": p.corpus_translate, "align": p.corpus_align, "project": False}[stage.name]
            infos[stage.name] = {"key": p.stages.keys[stage.name], "shards": n, "shards_cached": p.cached_at_start,
                                 "cached": p.worked[stage.name] == 0, "whole_corpus": corpus,
                                 "work_items": p.worked[stage.name], "seconds": round(p.seconds[stage.name], 3),
                                 "signature": stage.signature()}
        infos["translate"]["tokenizer"] = p.stages.translate.tokenizer
        infos["translate"]["stats"] = p.stats
        infos["align"].update({"similarity": p.stages.align.similarity, "chunked": not p.corpus_align,
                               "extra_parallel": p.stages.align.extra_info})
        return infos


def _user_error(e: BaseException) -> BaseException:
    """The :class:`ProjectionError` inside Ray's wrappers, a clear stall message, or ``e`` itself."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        cause = getattr(cur, "cause", None)  # a RayTaskError carries the worker's exception
        if isinstance(cause, ProjectionError):
            return ProjectionError(str(cause))
        if isinstance(cur, ProjectionError) and not hasattr(cur, "cause"):
            return cur
        if type(cur).__name__ == "ExecutionTimeoutError":
            return ProjectionError(f"ray executor: no shard made progress for too long ({str(cur).splitlines()[0]}); "
                                   "raise no_progress_timeout_s if one shard legitimately takes longer")
        nxt = getattr(cur, "cause", None)
        cur = nxt if isinstance(nxt, BaseException) else (cur.__cause__ or cur.__context__)
    return e
