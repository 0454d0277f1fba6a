"""The end-to-end projection pipeline: translate -> tokenise -> align -> project -> filter -> write.

This is the only module that imports the stages (``translate``, ``align``, ``project``);
they never import each other. A pipeline is a declarative TOML file (``pipelines/*.toml``)::

    [pipeline]
    description = "Apertium + eflomal + ngram: runs with no hub and no GPU"
    source = "conll2003-en:train"          # optional; --source overrides

    [translate]
    engine = "apertium"                    # any engine of projection.translate.translators
    # ... options of that engine; strings may use {lang} and {data} (the data directory)

    [align]
    engine = "eflomal"                     # any engine of projection.align.aligners
    extra_parallel = ["deepl", "europarl"] # more parallel text for statistical aligners
    # ... options of that engine

    [project]
    method = "ngram"                       # any method of projection.project.projectors
    # ... options of that method

    [filter]
    policy = "drop-sentence"               # keep-all | drop-sentence | drop-below-score
    min_score = 0.0

``run(lang, pipeline, source, out)`` writes a run directory (see :mod:`projection.rundir`).
Every stage's output is stored under ``RUN_DIR/stages`` by a content key (a hash of its
inputs and of the engine signature), so rerunning, or resuming a killed run, redoes
nothing that is done, whichever executor stored it: translation (also cached per sentence
by the translation stage), alignment (in chunks, for aligners that treat sentences
independently) and projection.

The pipeline is split by concern; this module is the run (prepare, execute, filter, write)
and re-exports the public names of the others:

* :mod:`projection.pipeline_config` - pipeline files, validation, ``--set``;
* :mod:`projection.pipeline_auto` - the ``auto`` choice (``nllb`` or ``offline``);
* :mod:`projection.stages` - the stage contract: translate, align, project;
* :mod:`projection.pipeline_engines` - the engines behind the stages, built from the configuration;
* :mod:`projection.executors` - where the stages run (``local``, ``ray``);
* :mod:`projection.parallel` - extra parallel text for statistical aligners;
* :mod:`projection.pipeline_eval` - :func:`eval_projection`, the intrinsic evaluation on Europarl-NER;
* :mod:`projection.pipeline_target` - the back-translation direction (``[pipeline] direction = "target"``),
  whose runs :class:`BackLabeller` makes for ``projection compare`` (systems 7 and 8).
"""

from __future__ import annotations

import contextlib
import logging
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from projection import rundir, runstats
from projection.corpora import CORPORA, data_dir, is_corpus_name, load_corpus, resolve_corpus
from projection.devices import hardware
from projection.errors import ProjectionError
from projection.executors import executors
from projection.executors.base import Job, JobOutput
from projection.options import check_options, options_model
from projection.parallel import extra_parallel_pairs
from projection.pipeline_auto import choose_auto, model_available
from projection.pipeline_config import (PIPELINES_DIR, REPO, PipelineConfig, load_pipeline, parse_override,
                                        pipeline_names, pipeline_path, validate_pipeline)
from projection.pipeline_eval import EVAL_LANGS, EVAL_LOWERCASE, eval_projection
from projection.project import apply_policy
from projection.prefix import DEFAULT as PREFIX_DEFAULT, attach_prefixes
from projection.records import ProjectedSentence, Sentence
from projection.retype import derived_default, misc_default, retype_derived, retype_misc
from projection.pipeline_engines import (CORPUS_LEVEL_ALIGNERS, SOURCE_LANG, make_projector, project_rows,
                                         projector_options, tokenizer_signature, translate_rows)
from projection.stages import ALIGN_CHUNK, sentence_key
from projection.store import StageStore, atomic_write_json, check_output_dir, file_sha256, folder_lock, package_versions
from projection.translate import resolve_language

logger = logging.getLogger(__name__)

__all__ = ["ALIGN_CHUNK", "BackLabeller", "CORPUS_LEVEL_ALIGNERS", "EVAL_LANGS", "EVAL_LOWERCASE", "Job", "JobOutput",
           "PIPELINES_DIR", "PipelineConfig", "REPO", "RunResult", "StageStore", "choose_auto", "eval_projection",
           "extra_parallel_pairs", "finish", "load_pipeline", "make_projector", "model_available", "parse_override",
           "pipeline_names", "pipeline_path", "prepare", "project_rows", "projection_stats", "projector_options",
           "run", "run_many", "tokenizer_signature", "translate_rows", "validate_pipeline"]

DEFAULT_SOURCE = "conll2003-en:train"
FALLBACK_SOURCE = "sample:train"


@dataclass
class RunResult:
    out: Path
    manifest: dict[str, Any]
    projected: list[ProjectedSentence]
    stats: dict[str, Any]


def projection_stats(projected: Sequence[ProjectedSentence]) -> dict[str, Any]:
    """The run's counts (:func:`projection.runstats.projection_stats`)."""
    return runstats.projection_stats(projected)


def _source_choice(source: str | None, config: PipelineConfig) -> tuple[str, str | None]:
    """(source ref, note). An explicit --source must exist; the default falls back to the sample."""
    if source:
        resolve_corpus(source)
        return source, None
    ref = config.source or DEFAULT_SOURCE
    if is_corpus_name(ref) and not CORPORA[ref].path().exists():
        return FALLBACK_SOURCE, (f"source: {ref} not found under {data_dir().resolve()} "
                                 f"-> bundled sample {FALLBACK_SOURCE} (set PROJECTION_DATA for the real corpus)")
    return ref, None


def prepare(lang: str, pipeline: str | Path = "auto", source: str | None = None, out: str | Path | None = None,
            overrides: Sequence[str] = ()) -> Job:
    """Resolve the pipeline (``auto`` included), source and run directory of one language; load the source.

    Logs the run's first line: which pipeline and source are used, and why when ``auto``
    chose or the source fell back to the bundled sample.
    """
    t0 = time.perf_counter()
    resolve_language(lang)  # a clear error for an unknown language code
    notes: list[str] = []
    auto_reason = None
    if str(pipeline) == "auto":
        config, auto_reason = choose_auto(lang, overrides)
        notes.append(auto_reason)
    else:
        config = load_pipeline(pipeline, overrides)
    if config.direction == "target":
        from projection.pipeline_target import prepare_target

        return prepare_target(lang, config, str(pipeline), source, out, overrides, t0)
    source_ref, source_note = _source_choice(source, config)
    if source_note:
        notes.append(source_note)
    out = Path(out) if out else Path("runs") / f"{lang}-{config.name}"
    check_output_dir(out)  # an unusable --out fails now, not after hours of translation
    logger.info(f"projection run {SOURCE_LANG}->{lang}: pipeline {config.name}, source {source_ref}, out {out}"
                + (" | " + " | ".join(notes) if notes else ""))
    sentences = load_corpus(source_ref)
    src_path = resolve_corpus(source_ref)
    make_projector(config, lang)  # a bad [project] option fails now, before any work
    return Job(lang=lang, config=config, requested=str(pipeline), overrides=list(overrides), source_ref=source_ref,
               src_path=src_path, src_key=sentence_key(sentences), sentences=sentences, out=out, notes=notes,
               auto_reason=auto_reason, fallback=source_note is not None,
               prepare_seconds=round(time.perf_counter() - t0, 3))


def finish(job: Job, output: JobOutput, executor: dict[str, Any]) -> RunResult:
    """Apply the filtering policy, count, and write the run directory; the manifest records
    what ran (engines, versions, inputs) and how (``executor``)."""
    config, projected = job.config, output.projected
    t_info, a_info, p_info = output.stages["translate"], output.stages["align"], output.stages["project"]
    misc = _misc_options(config, job.lang)
    retyped = retype_misc(projected, **misc)  # on the strings as projected, before any prefix joins them
    derived = _derived_options(config, job.lang)
    derived_retyped = retype_derived(projected, **derived)  # after the MISC retyping: LOC as it left
    prefix_mode = config.filter["prefix"] or PREFIX_DEFAULT
    attached = attach_prefixes(projected, prefix_mode)
    apply_policy(projected, config.filter["policy"], float(config.filter["min_score"]))
    stats = projection_stats(projected)
    manifest = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_lang": SOURCE_LANG,
        "target_lang": job.lang,
        "pipeline": {"name": config.name, "requested": job.requested, "auto": job.auto_reason,
                     "file": str(config.file) if config.file else None,
                     "sha256": file_sha256(config.file)[:16] if config.file else None,
                     "config": config.to_dict(), "overrides": list(job.overrides)},
        "executor": executor,
        "hardware": hardware(),  # the machine that wrote the run (a cached stage may come from an earlier one)
        "notes": job.notes,
        "source": {"corpus": job.source_ref, "path": str(job.src_path), "sha256": file_sha256(job.src_path)[:16],
                   "content_key": job.src_key, "sentences": len(job.sentences), "fallback": job.fallback},
        "engines": {"translate": t_info["signature"], "tokenizer": t_info["tokenizer"], "align": a_info["signature"],
                    "project": p_info["signature"],
                    "filter": {**config.filter, "misc": misc["mode"], "derived": derived["mode"],
                               "derived_suffix": derived["suffix"], "prefix": prefix_mode}},
        "label_convention": _label_convention(config, job.lang, p_info["signature"], retyped, derived_retyped,
                                              attached),
        "stages": {
            "translate": {k: v for k, v in t_info.items() if k not in ("signature", "tokenizer")},
            "align": {k: v for k, v in a_info.items() if k != "signature"},
            "project": {k: v for k, v in p_info.items() if k != "signature"},
        },
        "counts": stats,
        "versions": {"python": platform.python_version(),
                     **package_versions("projection", "numpy", "scipy", "rapidfuzz", "spacy", "torch", "transformers",
                                        "ctranslate2", "eflomal")},
        "command": " ".join(sys.argv),
    }
    t_w = time.perf_counter()
    manifest["timings"] = {"translate": t_info["seconds"], "align": a_info["seconds"], "project": p_info["seconds"],
                           **output.timings}
    if config.direction == "target":
        _target_manifest(manifest, output)
    rundir.write_run(job.out, projected, manifest)
    manifest["timings"]["write"] = round(time.perf_counter() - t_w, 3)
    manifest["timings"]["total"] = round(job.prepare_seconds + output.seconds + time.perf_counter() - t_w, 3)
    atomic_write_json(job.out / rundir.MANIFEST, manifest)
    return RunResult(job.out, manifest, projected, stats)


def _target_manifest(manifest: dict[str, Any], output: JobOutput) -> None:
    """The target direction in the manifest: its label stage, and which way the text went."""
    t_info, l_info = output.stages["translate"], output.stages["label"]
    manifest["direction"] = "target"
    manifest["source"]["tags_read"] = False
    manifest["engines"]["label"] = l_info["signature"]
    manifest["stages"] = {"translate": manifest["stages"]["translate"],
                          "label": {k: v for k, v in l_info.items() if k != "signature"},
                          **{k: v for k, v in manifest["stages"].items() if k != "translate"}}
    manifest["timings"] = {"translate": t_info["seconds"], "label": l_info["seconds"],
                           **{k: v for k, v in manifest["timings"].items() if k != "translate"}}
    if "refine" in output.stages:
        r_info = output.stages["refine"]
        manifest["engines"]["refine"] = r_info["signature"]
        manifest["stages"]["refine"] = {k: v for k, v in r_info.items() if k != "signature"}
        manifest["timings"]["refine"] = r_info["seconds"]


def _misc_options(config: PipelineConfig, lang: str) -> dict[str, Any]:
    """The MISC retyping of ``[filter]`` (:mod:`projection.retype`), the target's default mode where the file is silent."""
    return {"mode": config.filter["misc"] or misc_default(lang), "min_count": config.filter["misc_min_count"],
            "min_share": config.filter["misc_min_share"]}


def _derived_options(config: PipelineConfig, lang: str) -> dict[str, Any]:
    """The derived-adjective retyping of ``[filter]`` (:mod:`projection.retype`): the target's default mode
    and suffix where the file is silent."""
    mode, suffix = derived_default(lang)
    return {"mode": config.filter["derived"] or mode, "suffix": config.filter["derived_suffix"] or suffix,
            "min_count": config.filter["derived_min_count"]}


def _label_convention(config: PipelineConfig, lang: str, signature: dict[str, Any],
                      retyped: dict[str, Any], derived: dict[str, Any], attached: dict[str, Any]) -> dict[str, Any]:
    """The target's label conventions and whether the pipeline or the target's default chose them: the
    projector's lower-case convention (when it has one), the MISC and derived-adjective retyping and the
    hyphenated prefixes (:mod:`projection.prefix`), with what they changed."""
    out: dict[str, Any] = {}
    if "lowercase" in signature:
        out = {"lowercase": signature["lowercase"],
               "from": "pipeline" if "lowercase" in config.project else f"default for {lang}"}
    out["misc"] = {**retyped, "from": "pipeline" if config.filter.get("misc") else f"default for {lang}"}
    out["derived"] = {**derived, "from": "pipeline" if config.filter.get("derived") else f"default for {lang}"}
    out["prefix"] = {**attached, "from": "pipeline" if config.filter.get("prefix") else "default"}
    return out


def _executor_name(jobs: Sequence[Job], requested: str | None) -> str:
    if requested:
        return requested
    named = sorted({j.config.executor for j in jobs if j.config.executor})
    if len(named) > 1:
        raise ProjectionError(f"the pipelines of these languages name different executors ({', '.join(named)}); "
                              "choose one with --executor")
    return named[0] if named else "local"


def run_many(langs: Sequence[str], pipeline: str | Path = "auto", source: str | None = None,
             out: str | Path | None = None, overrides: Sequence[str] = (),
             executor: str | None = None, **executor_options: Any) -> list[RunResult]:
    """Project ``source`` into every language of ``langs``: one run directory per language.

    ``out`` is the run directory of a single language, and the parent of one directory per
    language (``OUT/<lang>``) for several; by default each goes to ``runs/<lang>-<pipeline>``.
    ``executor`` runs the stages (:mod:`projection.executors`: ``local`` in this process,
    ``ray`` over shards and languages on a Ray cluster); default: the pipeline file's
    ``[pipeline] executor``, else ``local``. ``executor_options`` go to the executor (for
    ``ray``: ``address``, ``shard_size``, ...). Given the same inputs every executor writes
    the same files; the manifest records which one ran.
    """
    langs = list(dict.fromkeys(x.strip() for x in langs if x.strip()))
    if not langs:
        raise ProjectionError("give at least one target language code, e.g. es")
    jobs = [prepare(lang, pipeline, source, None if out is None else Path(out) if len(langs) == 1 else Path(out) / lang,
                    overrides) for lang in langs]
    name = _executor_name(jobs, executor)
    if name != "local" and any(j.config.direction == "target" for j in jobs):
        raise ProjectionError(f"direction = \"target\" runs on the local executor only, not {name}")
    model = options_model(executors.get(name))
    problem = check_options(model, executor_options)
    if problem:
        known = f"; options: {', '.join(model.model_fields)}" if model is not None else ""
        raise ProjectionError(f"executor {name}: {problem[1]}{known}")
    runner = executors.create(name, **executor_options)
    with contextlib.ExitStack() as locks:
        for job in jobs:  # one writer per run directory; a second `run` on the same --out stops here
            locks.enter_context(folder_lock(job.out, "projection run"))
        outputs = runner.run(jobs)
        signature = runner.signature()
        return [finish(job, output, signature) for job, output in zip(jobs, outputs)]


def run(lang: str, pipeline: str | Path = "auto", source: str | None = None, out: str | Path | None = None,
        overrides: Sequence[str] = (), executor: str | None = None,
        **executor_options: Any) -> RunResult:
    """Project ``source`` (default CoNLL-2003 English train) into ``lang`` and write a run directory.

    Progress lines go to this module's logger (``projection.pipeline``, level INFO) and the
    stages' loggers; the first one says which pipeline and source are used (and why, when
    ``auto`` chose or the source fell back to the bundled sample). ``executor`` and
    ``executor_options``: see :func:`run_many`.
    """
    return run_many([lang], pipeline, source, out, overrides, executor, **executor_options)[0]


# --------------------------------------------------------------------------- for the downstream comparison


class BackLabeller:
    """Label a target corpus through English with a given English model: a run of the back-translation
    pipeline ``pipeline`` (with ``overrides``) whose ``[label] model`` is the model folder. ``projection
    compare`` (systems 7 and 8) gets one from the command line, so the train stage never imports the pipeline.

    ``labeller(model_dir, lang, corpus, out, policy, decode)`` writes the run to ``out`` and returns the
    target sentences with their labels: every sentence for ``keep-all`` (translate-test, in corpus order),
    the kept ones for ``drop-sentence`` (training data); ``decode`` is the English tagger's decoder
    (``[label] decode``: ``argmax`` or ``bio``)."""

    def __init__(self, pipeline: str = "translate-test", overrides: Sequence[str] = ()):
        self.pipeline = pipeline
        self.overrides = list(overrides)
        config = load_pipeline(pipeline, self.overrides)
        if config.direction != "target":
            raise ProjectionError(f"{config.file or pipeline}: not a back-translation pipeline "
                                  "([pipeline] direction = \"target\")")
        self.file = config.file

    def signature(self) -> dict[str, Any]:
        """What decides the labels besides the model and the corpus: the pipeline file and the overrides."""
        return {"pipeline": Path(self.pipeline).stem if self.file else self.pipeline,
                "sha256": file_sha256(self.file)[:16] if self.file else None, "overrides": self.overrides}

    def __call__(self, model_dir: str | Path, lang: str, corpus: str, out: str | Path,
                 policy: str = "keep-all", decode: str = "argmax") -> list[Sentence]:
        decoder = [f"label.decode={decode}"] if decode != "argmax" else []  # argmax: the runs cached before, reused
        res = run(lang, self.pipeline, corpus, out,
                  overrides=[*self.overrides, f"label.model={model_dir}", f"filter.policy={policy}", *decoder])
        return [ps.target_sentence() for ps in res.projected if ps.kept or policy == "keep-all"]
