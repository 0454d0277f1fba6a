"""``ray``: the same pipeline on Ray Data, over shards of the corpus and over languages.

Each target language's source corpus is cut into shards of ``shard_size`` sentences
(default :data:`projection.pipeline.ALIGN_CHUNK`, 2000). The shards of every language
form one Ray Dataset (one block per shard) that flows through three ``map_batches``
stages, each a pool of actors running a callable class (:mod:`.ray_stages`): translate ->
align -> project. An actor builds its engines once (CTranslate2 translator, alignment
encoder) and keeps them for every shard it gets; actors of engines that can use a GPU ask
for ``num_gpus=1`` when the cluster has GPUs.

Same results as ``local``
    Every stage calls the same functions as the ``local`` executor; shards are reassembled
    in source order, so the run directory is byte-identical to a ``local`` run for engines
    whose output for a sentence does not depend on the other sentences in its batch. The
    default shard size equals the local aligner's chunk, so a batched aligner sees the very
    same batches. Engines that are not sentence-independent are handled as follows:

    * Statistical aligners that learn from the whole corpus
      (:data:`projection.pipeline.CORPUS_LEVEL_ALIGNERS`: eflomal) cannot be sharded
      without changing their output (each shard would learn from 1/n of the text). They
      run over the whole language corpus in one task (languages in parallel); translation
      before and projection after stay sharded. eflomal has no random seed, so two of its
      runs can differ slightly under any executor.
    * ``given`` translations (:data:`POSITIONAL_TRANSLATORS`) are matched to sentences by
      position in the whole file: the driver reads them exactly as the ``local`` executor
      does (cached in the run directory under the same name) and ships each shard its
      slice; workers need not see the file.
    * Neural translation (NLLB via CTranslate2) decodes in length-sorted batches, and
      batch composition can change a translation in rare cases: a shard is a different
      batch set than the whole corpus. Translations are cached per sentence
      (``$PROJECTION_CACHE``), so rerunning with either executor reuses them.

Resume
    A shard's result is written to ``RUN_DIR/stages/ray-<key>/shard-NNNNN.jsonl`` (a
    temporary file renamed into place) as soon as it arrives, ``<key>`` hashing the source,
    every engine signature and the shard size. A rerun loads finished shards and sends
    only the others to Ray (when all are finished Ray is not even started). Intermediate
    results around a whole-corpus stage (per-shard translations, the corpus alignment) are
    stored the same way. An actor killed mid-run is restarted and its shard retried
    (``retries`` restarts/retries; a Python error in a stage is not retried).

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
import inspect
import logging
import math
import os
import pickle
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from projection.errors import ProjectionError
from projection.store import content_key, package_versions

if TYPE_CHECKING:
    from projection.pipeline import Job, JobOutput

INSTALL_HINT = "pip install 'projection[ray]'"
# Translators whose output for a sentence is fixed by its position in the whole input, not
# by its text (translations read from a file): read on the driver, never sharded.
POSITIONAL_TRANSLATORS = frozenset({"given"})
# Environment of the driver that the workers need to find the same data, caches and models.
FORWARDED_ENV = ("PROJECTION_DATA", "PROJECTION_CACHE", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_ENDPOINT",
                 "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
KILL_ONCE_ENV = "PROJECTION_RAY_KILL_ONCE"
STAGE_ORDER = ("translate", "align", "project")


def import_ray() -> Any:
    """``ray`` with Ray Data, or a clear error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ProjectionError(f"the ray executor needs Ray Data ({e}): {INSTALL_HINT}") from None
    return ray


def _memory_bytes() -> int:
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
                     object_store_memory=int(min(2 << 30, _memory_bytes() // 5)))
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
            started = _descendants(os.getpid()) if local else []
            ray.shutdown()
            _reap(started)


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


# --------------------------------------------------------------------------- per-job plan


@dataclass
class _Shard:
    index: int
    start: int
    stop: int
    projected: list[dict[str, Any]] | None = None  # finished
    rows: list[dict[str, Any]] | None = None        # translated
    aligns: list[Any] | None = None                 # aligned (alignments, sims)
    sims: list[Any] | None = None


@dataclass
class _Plan:
    index: int
    job: Job
    key: str
    dir: str
    spec: dict[str, Any]
    signatures: dict[str, Any]
    corpus_translate: bool
    corpus_align: bool
    gpu: dict[str, bool]
    extra_info: list[dict[str, Any]]
    shards: list[_Shard]
    cached_at_start: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGE_ORDER})
    worked: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STAGE_ORDER})
    stats: dict[str, float] = field(default_factory=dict)

    def pending(self) -> list[_Shard]:
        return [s for s in self.shards if s.projected is None]


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
        kill = os.environ.get(KILL_ONCE_ENV, "")
        self.kill_once = tuple(kill.split(":", 1)) if ":" in kill else None

    # -- public
    def signature(self) -> dict[str, Any]:
        return {"name": self.name, **package_versions("ray"), "shard_size": self._shard_size(), **self._info}

    def run(self, jobs: Sequence[Job], log: Callable[[str], None] = lambda m: None) -> list[JobOutput]:
        from projection.pipeline import JobOutput
        from projection.records import ProjectedSentence

        t0 = time.perf_counter()
        plans = [self._plan(i, job, log) for i, job in enumerate(jobs)]
        timings: dict[str, float] = {}
        for p in plans:
            if p.corpus_translate and p.pending():
                self._translate_on_driver(p, log)
        if any(p.pending() for p in plans):
            with self._cluster(log) as startup:
                timings["ray_start"] = startup
                self._execute_all(plans, log)
        else:
            log("ray: every shard is finished already; Ray not started")
        wall = time.perf_counter() - t0
        outputs = []
        for plan in plans:
            projected = [ProjectedSentence.from_dict(d) for s in plan.shards for d in (s.projected or [])]
            ids = [ps.source.id for ps in projected]
            if ids != [s.id for s in plan.job.sentences]:
                raise ProjectionError(f"ray executor: {plan.job.lang}: the shards do not add up to the source corpus "
                                      f"({len(ids)} sentences for {len(plan.job.sentences)}); delete {plan.dir} and rerun")
            outputs.append(JobOutput(projected, self._stage_infos(plan), round(wall, 3), dict(timings)))
        return outputs

    # -- planning (driver side: signatures, keys, what is finished)
    def _shard_size(self) -> int:
        from projection.pipeline import ALIGN_CHUNK

        return self.shard_size or ALIGN_CHUNK

    def _plan(self, index: int, job: Job, log: Callable[[str], None]) -> _Plan:
        from projection import pipeline as pl
        from projection import rundir

        cfg, lang = job.config, job.lang
        translator = pl._make_translator(cfg, lang, job.markers)
        aligner, extra_info = pl._make_aligner(cfg, lang, log)
        projector = pl.make_projector(cfg, lang)
        want_sim = pl._wants_similarity(cfg, aligner, projector)
        sigs = {"translate": translator.signature(), "tokenizer": pl.tokenizer_signature(lang),
                "align": aligner.signature(), "project": projector.signature()}
        corpus_translate = cfg.translate["engine"] in POSITIONAL_TRANSLATORS
        corpus_align = getattr(aligner, "name", cfg.align["engine"]) in pl.CORPUS_LEVEL_ALIGNERS
        size = self._shard_size()
        key = content_key("ray", job.src_key, sigs, lang, job.markers, want_sim, size, corpus_translate, corpus_align)
        folder = job.out / rundir.STAGES / f"ray-{key}"
        n = len(job.sentences)
        shards = [_Shard(i, start, min(start + size, n)) for i, start in enumerate(range(0, max(n, 1), size))]
        store = pl.StageStore(folder, log)
        for shard in shards:
            rows = store.read_jsonl(_shard_name(shard.index))
            if rows and rows[0].get("n") == shard.stop - shard.start == len(rows) - 1:
                shard.projected = rows[1:]
        # Aligner options that do not mention the language (and no extra text per language):
        # one aligner (one encoder) serves every language in an actor.
        lang_free = not cfg.align.get("extra_parallel") and "{lang}" not in repr(cfg.align)
        aligner_key = content_key(cfg.align, None if lang_free else lang)
        spec = {"lang": lang, "config": cfg, "markers": job.markers, "want_sim": want_sim, "aligner_key": aligner_key,
                "signatures": sigs}
        gpu = {"translate": _can_use_gpu(pl, "translate", cfg.translate), "align": _can_use_gpu(pl, "align", cfg.align),
               "project": False}
        plan = _Plan(index, job, key, str(folder), spec, sigs, corpus_translate, corpus_align, gpu, extra_info, shards)
        plan.cached_at_start = len(shards) - len(plan.pending())
        if plan.cached_at_start:
            log(f"ray: {lang}: {plan.cached_at_start} of {len(shards)} shards finished in an earlier run")
        return plan

    # -- the cluster
    @contextlib.contextmanager
    def _cluster(self, log: Callable[[str], None]) -> Iterator[float]:
        with ray_session(self.address, self.num_cpus) as info:
            self._info.update(info)
            log(f"ray: {info['address']}: {info['cpus']:g} CPUs, {info['gpus']:g} GPUs; "
                f"ready in {info['startup_seconds']:.1f} s")
            yield info["startup_seconds"]

    # -- execution
    def _execute_all(self, plans: list[_Plan], log: Callable[[str], None]) -> None:
        from projection import pipeline as pl

        specs = [p.spec for p in plans]
        todo = [p for p in plans if p.pending()]
        # 1. what earlier runs stored around a whole-corpus aligner
        for p in todo:
            store = pl.StageStore(Path(p.dir))
            if p.corpus_align:
                got = store.read_alignments("align.npz")
                if got is not None and len(got[0]) == len(p.job.sentences):
                    self._scatter_aligns(p, *got)
                for s in p.shards:
                    if s.rows is None:
                        rows = store.read_jsonl(_translation_name(s.index))
                        s.rows = rows if rows is not None and len(rows) == s.stop - s.start else None

        # 2. a corpus-level aligner needs every shard translated first (stored per shard)
        items = [self._item(p, s.index, {"sentences": p.job.sentences[s.start:s.stop]})
                 for p in todo if p.corpus_align and not self._aligned(p) for s in p.shards if s.rows is None]
        if items:
            def shard_translated(p: _Plan, shard: int, payload: dict[str, Any]) -> None:
                pl.StageStore(Path(p.dir)).write_jsonl(_translation_name(shard), payload["rows"])
                self._account(p, payload)
                p.shards[shard].rows = payload["rows"]

            self._run_dataset(plans, items, ["translate"], specs, shard_translated, "translate", log)

        # 3. corpus-level aligners: the whole language corpus in one task (languages in parallel)
        items = [self._item(p, -1, {"sentences": p.job.sentences, "rows": [r for s in p.shards for r in s.rows or []]})
                 for p in todo if p.corpus_align and not self._aligned(p)]
        if items:
            def corpus_aligned(p: _Plan, shard: int, payload: dict[str, Any]) -> None:
                pl.StageStore(Path(p.dir)).write_alignments("align.npz", payload["aligns"], payload.get("sims"))
                self._account(p, payload)
                self._scatter_aligns(p, payload["aligns"], payload.get("sims"))

            self._run_dataset(plans, items, ["align"], specs, corpus_aligned, "align (whole corpora)", log)

        # 4. every unfinished shard through the rest of the chain
        pending = [(p, s) for p in todo for s in p.pending()]
        needed = [st for st, missing in (("translate", any(s.rows is None for _, s in pending)),
                                         ("align", any(s.aligns is None for _, s in pending)),
                                         ("project", bool(pending))) if missing]
        items = []
        for p, s in pending:
            payload: dict[str, Any] = {"sentences": p.job.sentences[s.start:s.stop]}
            if s.rows is not None:
                payload["rows"] = s.rows
            if s.aligns is not None:
                payload["aligns"], payload["sims"] = s.aligns, s.sims
            items.append(self._item(p, s.index, payload))
        if items:
            def shard_done(p: _Plan, shard: int, payload: dict[str, Any]) -> None:
                s = p.shards[shard]
                header = {"shard": shard, "start": s.start, "stop": s.stop, "n": len(payload["projected"]),
                          "seconds": payload.get("seconds", {})}
                pl.StageStore(Path(p.dir)).write_jsonl(_shard_name(shard), [header, *payload["projected"]])
                self._account(p, payload)
                s.projected, s.rows, s.aligns, s.sims = payload["projected"], None, None, None
                self._maybe_die()

            self._run_dataset(plans, items, needed, specs, shard_done, " -> ".join(needed), log)

    def _maybe_die(self) -> None:
        """Fault injection (``$PROJECTION_RAY_KILL_ONCE=driver:FILE``): the whole job is killed
        once, right after its first finished shard was stored, as a test of resuming."""
        if self.kill_once and self.kill_once[0] == "driver":
            from projection.executors.ray_stages import kill_once

            kill_once(self.kill_once[1], "driver")

    def _translate_on_driver(self, p: _Plan, log: Callable[[str], None]) -> None:
        from projection import pipeline as pl
        from projection import rundir

        job = p.job
        log(f"translate: {job.config.translate['engine']} ({len(job.sentences):,} sentences, read on the driver)")
        store = pl.StageStore(job.out / rundir.STAGES)
        rows, info = pl._translate_stage(store, job.sentences, job.config, job.lang, job.src_key, job.markers, log)
        if not info["cached"]:
            p.seconds["translate"] += info["seconds"]
            p.worked["translate"] += 1
        self._scatter_rows(p, rows)

    @staticmethod
    def _aligned(p: _Plan) -> bool:
        return all(s.aligns is not None for s in p.shards)

    @staticmethod
    def _item(p: _Plan, shard: int, payload: dict[str, Any]) -> dict[str, Any]:
        return {"job": p.index, "shard": shard, "payload": pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)}

    @staticmethod
    def _scatter_rows(p: _Plan, rows: list[dict[str, Any]]) -> None:
        for s in p.shards:
            s.rows = rows[s.start:s.stop]

    @staticmethod
    def _scatter_aligns(p: _Plan, aligns: list[Any], sims: list[Any] | None) -> None:
        for s in p.shards:
            s.aligns = aligns[s.start:s.stop]
            s.sims = sims[s.start:s.stop] if sims else None

    @staticmethod
    def _account(p: _Plan, payload: dict[str, Any]) -> None:
        for stage, sec in payload.get("seconds", {}).items():
            p.seconds[stage] += sec
            p.worked[stage] += 1
        for k, v in (payload.pop("stats", None) or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                p.stats[k] = p.stats.get(k, 0) + v
        payload["seconds"] = {}

    def _run_dataset(self, plans: list[_Plan], items: list[dict[str, Any]], stages: list[str],
                     specs: list[dict[str, Any]], on_result: Callable[[_Plan, int, dict[str, Any]], None],
                     label: str, log: Callable[[str], None]) -> None:
        """One Ray Dataset: ``items`` (one block each) through the actor pools of ``stages``."""
        import ray
        from ray.data import ActorPoolStrategy, DataContext

        from projection.executors.ray_stages import STAGES
        from projection.progress import bar

        ctx = DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        ctx.raise_original_map_exception = True  # a stage's ProjectionError, not a UserCodeException
        ctx.execution_no_progress_timeout_s = self.no_progress_timeout_s
        ctx.wait_for_min_actors_s = int(self.no_progress_timeout_s)
        res = ray.cluster_resources()
        gpu_used = {st: any(p.gpu[st] for p in plans) for st in stages}
        pools = plan_pools([(st, len(items), gpu_used[st]) for st in stages], res.get("CPU", 1.0), res.get("GPU", 0.0),
                           self.actors)
        log(f"ray: {label}: {len(items)} work item(s); " + ", ".join(pool.describe() for pool in pools))
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
                    STAGES[pool.stage], batch_size=1, batch_format="numpy",
                    compute=ActorPoolStrategy(size=pool.size),
                    fn_constructor_kwargs={"specs": specs, "threads": pool.threads, "kill_once": self.kill_once},
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
    def _stage_infos(self, p: _Plan) -> dict[str, dict[str, Any]]:
        n = len(p.shards)
        common = {"key": p.key, "shards": n, "shards_cached": p.cached_at_start}
        infos = {}
        for stage in STAGE_ORDER:
            corpus = {"translate": p.corpus_translate, "align": p.corpus_align, "project": False}[stage]
            infos[stage] = {**common, "cached": p.worked[stage] == 0, "whole_corpus": corpus,
                            "work_items": p.worked[stage], "seconds": round(p.seconds[stage], 3),
                            "signature": p.signatures[stage]}
        infos["translate"]["tokenizer"] = p.signatures["tokenizer"]
        infos["translate"]["stats"] = p.stats
        infos["align"].update({"similarity": p.spec["want_sim"], "chunked": not p.corpus_align,
                               "extra_parallel": p.extra_info})
        return infos


def _shard_name(index: int) -> str:
    return f"shard-{index:05d}.jsonl"


def _translation_name(index: int) -> str:
    return f"translate-{index:05d}.jsonl"


def _proc_start(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _descendants(root: int) -> list[tuple[int, str]]:
    """(pid, start time) of every process below ``root`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            start = _proc_start(child)
            if start is not None:
                out.append((child, start))
                todo.append(child)
    return out


def _reap(procs: list[tuple[int, str]], grace_s: float = 3.0) -> None:
    """Wait up to ``grace_s`` for these processes to exit, then SIGKILL the rest (same pid and start time)."""
    import signal

    deadline = time.monotonic() + grace_s
    alive = procs
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [(pid, st) for pid, st in alive if _proc_start(pid) == st]
    for pid, st in alive:
        if _proc_start(pid) == st:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _can_use_gpu(pl: Any, section: str, table: dict[str, Any]) -> bool:
    """An engine can use a GPU when it takes a ``device`` option that is not set to ``cpu``."""
    try:
        params = inspect.signature(pl._engine_class(section, table["engine"])).parameters
    except (TypeError, ValueError, KeyError):
        return False
    return "device" in params and str(table.get("device", "auto")) != "cpu"


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
