"""``local``: the stages in this process, one language after the other.

:class:`LocalExecutor` loops the stage objects of :mod:`projection.stages` over the run's one
stage store (``RUN_DIR/stages``): for each stage it loads the chunks stored already (by this
executor or by ``ray``), runs the stage on the others and stores them, so a rerun or a resumed
run redoes nothing that is done. Chunks with missing output are worked on together (one
translation call, one projection call over the whole corpus on a fresh run), except
alignment, which goes chunk by chunk (:meth:`~projection.stages.Stage.run_parts`: the ``embed``
aligner encodes one chunk ahead while a finished chunk is stored), each chunk stored as soon as
it is done, so that a killed alignment resumes at its chunk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from projection import rundir, stages
from projection.executors.base import Job, JobOutput, kill_once, kill_once_spec, load_output, save_output
from projection.stages import Batch, Stage
from projection.store import StageStore

logger = logging.getLogger(__name__)


def run_stage(stage: Stage, key: str, store: StageStore, corpus: Batch, size: int | None = None) -> dict[str, Any]:
    """``stage`` over ``corpus`` (a whole job's batch), every chunk loaded or computed and stored;
    fills the stage's field of ``corpus``. Returns counts: ``cached``/``computed`` sentences, ``seconds``."""
    size = stages.ALIGN_CHUNK if size is None else size
    t0 = time.perf_counter()
    parts = [corpus.slice(a, b) for a, b in stage.chunks(len(corpus), size)]
    missing = [p for p in parts if not load_output(stage, key, store, p)]
    stats: dict[str, Any] = {}
    if stage.together and len(missing) > 1:
        joined = Batch.join(missing)
        stage.run(joined)
        stats.update(joined.stats)
        joined.spread(missing, stage.name)
        for p in missing:
            save_output(stage, key, store, p)
    else:
        for p in stage.run_parts(missing):  # each stored as soon as it is done
            stats.update(p.stats)
            save_output(stage, key, store, p)
    corpus.absorb(parts, stage.name)
    computed = sum(len(p) for p in missing)
    return {"cached": len(corpus) - computed, "computed": computed, "stats": stats,
            "seconds": time.perf_counter() - t0}


def run_job(job: Job) -> JobOutput:
    """Translate, align and project one job in this process, every stage stored in the run directory
    (for ``direction = "target"``: :func:`projection.pipeline_target.run_target_job`, with its label step)."""
    if job.config.direction == "target":
        from projection.pipeline_target import run_target_job

        return run_target_job(job)
    t0 = time.perf_counter()
    config, lang = job.config, job.lang
    store = StageStore(job.out / rundir.STAGES)
    st = stages.build_stages(config, lang, job.src_key, job.markers)
    kill = kill_once_spec()
    corpus = Batch(0, len(job.sentences), job.sentences)

    def step(stage: Stage) -> dict[str, Any]:
        if kill and kill[0] == stage.name:
            kill_once(kill[1], f"local executor before {stage.name}")
        return run_stage(stage, st.keys[stage.name], store, corpus)

    logger.info(f"translate: {config.translate['engine']} ({len(job.sentences):,} sentences)")
    t = step(st.translate)
    t_info = translate_info(st, t, store, job)
    runs_on = st.align.signature() if hasattr(st.align.engine, "resolved_backend") else {}
    extra = st.align.extra_info
    logger.info(f"align: {config.align['engine']}" + (f" on {runs_on['backend']} ({runs_on['compute_type']})" if runs_on else "")
        + (f" (+{sum(x['pairs'] for x in extra):,} extra pairs)" if extra else ""))
    windowed_before = st.align.windowed()
    a = step(st.align)
    a_info = {"key": st.keys["align"], "cached": a["computed"] == 0, "pairs_cached": a["cached"],
              "pairs_aligned": a["computed"], "seconds": round(a["seconds"], 3), "signature": st.align.signature(),
              "similarity": st.align.similarity, "chunked": not st.align.whole_corpus, "extra_parallel": extra}
    if windowed_before is not None:  # sentences longer than the encoder's limit, encoded in windows (this run)
        a_info["windowed_sentences"] = (st.align.windowed() or 0) - windowed_before
        if a_info["windowed_sentences"]:
            logger.info(f"align: {a_info['windowed_sentences']:,} sentences longer than the encoder's input limit "
                "were encoded in overlapping windows")
    logger.info(f"project: {config.project['method']}")
    p = step(st.project)
    p_info: dict[str, Any] = {"key": st.keys["project"], "cached": p["computed"] == 0, "seconds": round(p["seconds"], 3),
                              "signature": st.project.signature()}
    if p["computed"]:
        secs = st.project.projection_seconds
        p_info = {**p_info, "projection_seconds": round(secs, 4),
                  "sentences_per_second": round(p["computed"] / secs) if secs > 0 else None}
        p_info["signature"] = p_info.pop("signature")
    return JobOutput(corpus.projected or [], {"translate": t_info, "align": a_info, "project": p_info},
                     round(time.perf_counter() - t0, 3))


def translate_info(st: stages.Stages, t: dict[str, Any], store: StageStore, job: Job) -> dict[str, Any]:
    """The manifest entry of the translation stage; a given file's sentence matching and the
    engine's statistics are stored next to the translations (when computed) and read back (when
    cached: the statistics are then those of the run that computed them)."""
    key = st.keys["translate"]
    cached = t["computed"] == 0
    if cached:
        stored = store.read(st.translate.match_name(key), expected=1)
        match = stored[0] if stored else None
        stored = store.read(st.translate.stats_name(key), expected=1)
        stats = stored[0] if stored else {}
    else:
        match = st.translate.match_info(job.sentences)
        if match:
            store.write(st.translate.match_name(key), [match])
        stats = t["stats"]
        store.write(st.translate.stats_name(key), [stats])
    info = {"key": key, "cached": cached, "seconds": round(t["seconds"], 3), "signature": st.translate.signature(),
            "tokenizer": st.translate.tokenizer, "stats": stats}
    if match:
        info["sentence_match"] = match
        logger.info(f"translate: sentence matching: {match['matched']:,} of {match['source_sentences']:,} source sentences "
            f"matched to {match['target_sentences']:,} translations; {match['unmatched']:,} unmatched "
            f"({match['merges_2_1']:,} merges), dropped as untranslated")
    if stats.get("marks_attached"):
        logger.info(f"translate: {stats['marks_attached']:,} detached combining marks glued to their words, "
                    f"{stats.get('words_rejoined', 0):,} words rejoined (marks = {info['signature'].get('marks')})")
    return info


class LocalExecutor:
    """The stages in this process (no options)."""

    name = "local"

    def run(self, jobs: Sequence[Job]) -> list[JobOutput]:
        return [run_job(job) for job in jobs]

    def signature(self) -> dict[str, Any]:
        return {"name": self.name}
