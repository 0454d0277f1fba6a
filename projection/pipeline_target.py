"""The back-translation direction (``[pipeline] direction = "target"``): label natural target text through English.

The forward pipeline projects gold English entities onto machine translations. This one
starts from *target-language* sentences (a corpus whose tags are never read, or tokenised
text; :func:`read_target_sentences`) and

1. translates them into English (any translation engine, languages swapped: Apertium's
   reverse modes such as ``spa-eng``, NLLB ``spa_Latn -> eng_Latn``, or a ``given`` file of
   English translations) and word-tokenises the English;
2. labels the English with an English NER model (the ``label`` stage, :mod:`projection.label`:
   a ``projection train`` folder or a transformers token-classification folder), each
   entity with the model's confidence;
3. aligns English <-> original target words with the pipeline's aligner (English on the
   source side, as in the forward direction);
4. projects the English entities onto the original target words with the pipeline's
   projector. An entity's score is the projector's score times the labeller's confidence
   (``meta["label_confidence"]`` keeps the confidences, in entity order).

The run directory has the forward layout, with the sides of each record as they are here:
``source`` is the labelled English back-translation, ``target_tokens`` the original target
sentence, ``translation`` the English text; so ``inspect``, ``export`` and ``train`` read it
unchanged, and ``projected.conll`` is the target text with the labels it received. A sentence
whose English translation is empty is marked ``untranslated`` (no label is known for it).
Every stage is stored by content key under ``RUN_DIR/stages`` like the forward stages.

:func:`projection.pipeline_eval.score_run` scores a run's labels (every sentence, whatever the
filtering policy kept) against the gold tags of the corpus it was made from: translate-test F1,
or agreement with gold (Europarl-NER). This module is pipeline-level: it is where the stages meet.
:func:`prepare_target` is :func:`projection.pipeline.prepare` for this direction, and
:func:`run_target_job` the stages of one job, run by the ``local`` executor over the run's
stage store (alignment with :class:`projection.stages.AlignStage`, its chunks stored as the
forward direction stores them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from projection.errors import ProjectionError
from projection.executors.base import Job, JobOutput, load_output, save_output
from projection.pipeline_config import PipelineConfig, stage_options
from projection.pipeline_engines import (SOURCE_LANG, make_aligner, make_projector, make_translator,
                                         plain_translation_rows, tokenizer_signature, wants_similarity)
from projection.records import Alignment, ProjectedEntity, ProjectedSentence, Sentence
from projection.stages import AlignStage, Batch
from projection.store import StageStore, check_output_dir, content_key

logger = logging.getLogger(__name__)

ENGLISH = "en"
DIRECTIONS = ("source", "target")


# --------------------------------------------------------------------------- input


def read_target_sentences(ref: str | Path, fmt: str | None = None) -> list[Sentence]:
    """The tokens of a target-language corpus (name or file): tags are never read."""
    from projection.train.unlabeled import read_unlabeled

    return read_unlabeled(ref, fmt=fmt)


def target_key(sentences: Sequence[Sentence]) -> str:
    """The content key of target sentences: their tokens only."""
    return content_key([list(s.tokens) for s in sentences])


# --------------------------------------------------------------------------- engines


def make_back_translator(engine: str, options: dict[str, Any], lang: str, where: str):
    """The translation engine ``engine`` from ``lang`` into English, with the per-sentence cache."""
    from projection.translate import cached, translators

    try:
        tr = translators.create(engine, src_lang=lang, tgt_lang=ENGLISH, **options)
    except TypeError as e:
        raise ProjectionError(f"{where}: [translate] {e}") from None
    return cached(tr)


def make_labeller(table: dict[str, Any], options: dict[str, Any], where: str):
    """The ``[label]`` engine: ``engine`` (``trained``/``transformers``; default: told by the model
    folder) with ``model`` and its options. A ``trained`` model is loaded by the train stage's
    :func:`projection.train.load_model`, passed in here (the label stage does not import train)."""
    from projection.label import guess_engine, labellers

    model = options.get("model")
    if not model:
        raise ProjectionError(f"{where}: [label] model = an English NER model folder (a `projection train` folder "
                              "or a transformers token-classification folder) is needed; e.g. --set label.model=DIR")
    engine = table.get("engine") or guess_engine(model)
    if engine == "trained":
        from projection.train import load_model

        options = {**options, "load": load_model}
    try:
        return labellers.create(engine, **options)
    except TypeError as e:
        raise ProjectionError(f"{where}: [label] {e}") from None


# --------------------------------------------------------------------------- units of work


def back_translate_rows(translator: Any, sentences: Sequence[Sentence], lang: str) -> list[dict[str, Any]]:
    """English translations of the target ``sentences``: one row (``text``, ``tokens``; ``untranslated``
    when there is no translation) per sentence."""
    rows = plain_translation_rows(translator, sentences, lang, ENGLISH)
    for row, s in zip(rows, sentences):
        if not row["tokens"] and s.tokens:
            row["untranslated"] = True
    return rows


def label_rows(labeller: Any, rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The labeller's spans (``start``, ``end``, ``label``, ``confidence``) on every English row."""
    return [[sp.to_dict() for sp in spans] for spans in labeller.label([row["tokens"] for row in rows])]


def english_sentences(sentences: Sequence[Sentence], rows: Sequence[dict[str, Any]],
                      labels: Sequence[Sequence[dict[str, Any]]]) -> list[Sentence]:
    """The labelled English back-translations, one per target sentence (same id)."""
    from projection.records import Span

    out = []
    for s, row, spans in zip(sentences, rows, labels):
        out.append(Sentence.from_spans(s.id, row["tokens"], [Span(d["start"], d["end"], d["label"]) for d in spans],
                                       {"back_translation_of": s.id}))
    return out


def project_back(projector: Any, sentences: Sequence[Sentence], rows: Sequence[dict[str, Any]],
                 labels: Sequence[Sequence[dict[str, Any]]], aligns: Sequence[Alignment],
                 sims: Sequence[np.ndarray] | None) -> tuple[list[ProjectedSentence], float]:
    """Project the English labels onto the original target words; entity score = projector score x
    label confidence. Also returns the seconds the projector took."""
    from projection.project import ProjectionInput

    english = english_sentences(sentences, rows, labels)
    inputs = [ProjectionInput(en, list(s.tokens), a, sims[k] if sims else None, None, row["text"])
              for k, (en, s, row, a) in enumerate(zip(english, sentences, rows, aligns))]
    t0 = time.perf_counter()
    projected = projector.project(inputs)
    seconds = time.perf_counter() - t0
    for ps, spans, row, s in zip(projected, labels, rows, sentences):
        conf = {(d["start"], d["end"], d["label"]): float(d["confidence"]) for d in spans}
        confidences = []
        entities = []
        for e in ps.entities:
            c = conf.get((e.source.start, e.source.end, e.source.label), 1.0)
            confidences.append(round(c, 6))
            entities.append(ProjectedEntity(e.source, e.target, float(e.score) * c, e.method, e.status))
        ps.entities = entities
        ps.meta["direction"] = "target"
        ps.meta["label_confidence"] = confidences
        if s.meta.get("line") is not None:
            ps.meta["line"] = s.meta["line"]
        if row.get("untranslated"):
            ps.meta["untranslated"] = True
    return projected, seconds


# --------------------------------------------------------------------------- stages (cached)


def _stored_rows(store: Any, name: str, expected: int, compute: Callable[[], list]) -> tuple[list, bool, float]:
    """``(rows, cached, seconds)``: the stage file ``name`` if it holds ``expected`` rows, else ``compute()``
    written there."""
    t0 = time.perf_counter()
    rows = store.read_jsonl(name, expected=expected)
    cached = rows is not None
    if rows is None:
        rows = compute()
        store.write_jsonl(name, rows)
    return rows, cached, round(time.perf_counter() - t0, 3)


def back_translate_stage(store: Any, sentences: list[Sentence], translator: Any, lang: str, src_key: str,
                         tok_sig: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sig = translator.signature()
    key = content_key("back-translate", src_key, sig, tok_sig, lang)
    rows, cached, seconds = _stored_rows(store, f"back-translate-{key}.jsonl", len(sentences),
                                         lambda: back_translate_rows(translator, sentences, lang))
    return rows, {"key": key, "cached": cached, "seconds": seconds, "signature": sig,
                  "tokenizer": tok_sig, "direction": f"{lang}->{ENGLISH}",
                  "stats": getattr(translator, "last_stats", {}) if not cached else {}}


def label_stage(store: Any, rows: list[dict[str, Any]], labeller: Any, trans_key: str
                ) -> tuple[list[list[dict[str, Any]]], dict[str, Any]]:
    sig = labeller.signature()
    key = content_key("label", trans_key, sig)
    labels, cached, seconds = _stored_rows(store, f"label-{key}.jsonl", len(rows), lambda: label_rows(labeller, rows))
    n = sum(len(x) for x in labels)
    conf = [d["confidence"] for x in labels for d in x]
    return labels, {"key": key, "cached": cached, "seconds": seconds, "signature": sig,
                    "entities": n, "mean_confidence": round(float(np.mean(conf)), 4) if conf else None}


def project_back_stage(store: Any, sentences: list[Sentence], rows: list[dict[str, Any]],
                       labels: list[list[dict[str, Any]]], aligns: list[Alignment], sims: list[np.ndarray] | None,
                       projector: Any, label_key: str, align_key: str) -> tuple[list[ProjectedSentence], dict[str, Any]]:
    sig = projector.signature()
    key = content_key("project-back", label_key, align_key, sig)
    name = f"project-back-{key}.jsonl"
    t0 = time.perf_counter()
    stored = store.read_jsonl(name, expected=len(sentences))
    if stored is not None:
        return ([ProjectedSentence.from_dict(d) for d in stored],
                {"key": key, "cached": True, "seconds": round(time.perf_counter() - t0, 3), "signature": sig})
    projected, seconds = project_back(projector, sentences, rows, labels, aligns, sims)
    store.write_jsonl(name, [ps.to_dict() for ps in projected])
    return projected, {"key": key, "cached": False, "seconds": round(time.perf_counter() - t0, 3),
                       "projection_seconds": round(seconds, 4), "signature": sig}


# --------------------------------------------------------------------------- the run


def prepare_target(lang: str, config: PipelineConfig, requested: str, source: str | None, out: str | Path | None,
                   overrides: Sequence[str], t0: float) -> Job:
    """:func:`projection.pipeline.prepare` for ``direction = "target"``: the source is target-language
    text (tags never read)."""
    from projection.corpora import resolve_corpus

    ref = source or (config.source or "").replace("{lang}", lang)
    if not ref:
        raise ProjectionError(f"{config.file or config.name}: direction = \"target\" labels target-language text: "
                              f"give it with --source (a corpus name such as conll2002-{lang}:test, or a file)")
    if not config.label.get("model"):
        raise ProjectionError(f"{config.file or config.name}: [label] model = an English NER model folder is needed "
                              "(a `projection train` folder or a transformers token-classification folder): "
                              "--set label.model=DIR")
    src_path = resolve_corpus(ref)
    out = Path(out) if out else Path("runs") / f"{lang}-{config.name}"
    check_output_dir(out)
    logger.info(f"projection run {lang}->{SOURCE_LANG}->{lang} (direction target): pipeline {config.name}, source {ref} "
        f"(tokens only), labels from {config.label['model']}, out {out}")
    sentences = read_target_sentences(ref)
    make_projector(config, lang)
    return Job(lang=lang, config=config, requested=requested, overrides=list(overrides), source_ref=ref,
               src_path=src_path, src_key=target_key(sentences), sentences=sentences, out=Path(out), notes=[],
               auto_reason=None, fallback=False, prepare_seconds=round(time.perf_counter() - t0, 3))


def align_stage(store: StageStore, stage: AlignStage, upstream: str, english: Sequence[Sentence],
                targets: Sequence[Sequence[str]]) -> tuple[list[Alignment], list[np.ndarray] | None, dict[str, Any]]:
    """Align each English sentence with its target words (English on the source side), chunk by chunk
    in the store under ``stage``'s key of ``upstream``."""
    key = stage.key(upstream)
    t0 = time.perf_counter()
    corpus = Batch(0, len(english), list(english), [{"tokens": list(t)} for t in targets])
    parts = [corpus.slice(a, b) for a, b in stage.chunks(len(corpus))]
    computed = 0
    for part in parts:
        if not load_output(stage, key, store, part):
            stage.run(part)
            save_output(stage, key, store, part)
            computed += len(part)
    corpus.absorb(parts, "align")
    return corpus.aligns or [], corpus.sims, {
        "key": key, "cached": computed == 0, "pairs_cached": len(corpus) - computed, "pairs_aligned": computed,
        "seconds": round(time.perf_counter() - t0, 3), "signature": stage.signature(), "similarity": stage.similarity,
        "extra_parallel": stage.extra_info}


def run_target_job(job: Job) -> JobOutput:
    """The target direction of one job: back-translate, label, align, project (the ``local`` executor)."""
    from projection import rundir

    t0 = time.perf_counter()
    config, lang, sentences = job.config, job.lang, job.sentences
    where = str(config.file or config.name)
    store = StageStore(job.out / rundir.STAGES)
    projector = make_projector(config, lang)
    labeller = make_labeller(config.label, stage_options(config.label, "label", lang), where)
    translator = make_back_translator(config.translate["engine"], stage_options(config.translate, "translate", lang),
                                      lang, where)
    logger.info(f"translate: {config.translate['engine']} {lang}->{SOURCE_LANG} ({len(sentences):,} sentences)")
    rows, t_info = back_translate_stage(store, sentences, translator, lang, job.src_key,
                                        tokenizer_signature(SOURCE_LANG))
    logger.info(f"label: {labeller.name} ({config.label['model']})")
    labels, l_info = label_stage(store, rows, labeller, t_info["key"])
    aligner, extra_info = make_aligner(config, lang)
    align = AlignStage(config, lang, wants_similarity(config, aligner, projector), engine=aligner,
                       extra_info=extra_info)
    logger.info(f"align: {config.align['engine']} (English <-> {lang})")
    english = english_sentences(sentences, rows, labels)
    aligns, sims, a_info = align_stage(store, align, t_info["key"], english, [s.tokens for s in sentences])
    logger.info(f"project: {config.project['method']} (onto the original {lang} words)")
    projected, p_info = project_back_stage(store, sentences, rows, labels, aligns, sims, projector, l_info["key"],
                                           a_info["key"])
    stages = {"translate": t_info, "label": l_info, "align": a_info, "project": p_info}
    if config.refine.get("retranslate"):
        stages["refine"] = refine_stage(store, job, english, projected, align, l_info["key"])
    return JobOutput(projected, stages, round(time.perf_counter() - t0, 3))


def refine_stage(store: StageStore, job: Job, english: list[Sentence], projected: list[ProjectedSentence],
                 align: AlignStage, label_key: str) -> dict[str, Any]:
    """``[refine] retranslate``: the labelled English into the target with markers, aligned (target to
    target) to the original words; ``projected`` refined in place. Returns the manifest entry."""
    config, lang, sentences = job.config, job.lang, job.sentences
    where = str(config.file or config.name)
    if config.translate["engine"] == "given":
        raise ProjectionError(f"{where}: [refine] retranslate translates the labelled English into {lang} "
                              "again: it needs an MT engine (apertium, nllb, hf), not given translations")
    forward = make_translator(config, lang, markers=True)
    if not hasattr(forward, "marker_style"):
        raise ProjectionError(f"{where}: [refine] retranslate: the {config.translate['engine']} engine cannot "
                              "translate with entity markers")
    logger.info(f"refine: {config.translate['engine']} {SOURCE_LANG}->{lang} with markers, aligned to the original")
    marked, m_info = retranslate_stage(store, english, forward, lang, label_key, tokenizer_signature(lang))
    t_align = AlignStage(config, lang, False, engine=align.engine, extra_info=align.extra_info)
    retranslated = [Sentence(s.id, list(r["tokens"]), ["O"] * len(r["tokens"])) for r, s in zip(marked, sentences)]
    m_aligns, _, ma_info = align_stage(store, t_align, m_info["key"], retranslated, [s.tokens for s in sentences])
    t1 = time.perf_counter()
    min_sim = float(config.refine["min_similarity"])
    refined = refine_projected(projected, marked, m_aligns, min_sim)
    return {**m_info, "align_key": ma_info["key"], "align_cached": ma_info["cached"],
            "seconds": round(m_info["seconds"] + ma_info["seconds"] + time.perf_counter() - t1, 3),
            "min_similarity": min_sim, "refined": refined}


# --------------------------------------------------------------------------- refinement by re-translation


def retranslate_stage(store: Any, english: list[Sentence], translator: Any, lang: str, label_key: str,
                      tok_sig: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The labelled English translated back into ``lang`` with entity markers (Apertium's HTML spans,
    NLLB's brackets): one row (``tokens``, ``spans`` as [start, end, label], ``lost``, ``broken``) per sentence."""
    from projection.translate import marker_stats, translate_marked

    sig = translator.signature()
    key = content_key("retranslate", label_key, sig, tok_sig, lang)
    stats: dict[str, Any] = {}

    def compute() -> list[dict[str, Any]]:
        results = translate_marked(translator, english)
        stats.update(marker_stats(results))
        return [{"text": r.text, "tokens": r.tokens, "spans": [[s.start, s.end, s.label] for s in r.spans],
                 "lost": r.lost, "broken": r.broken} for r in results]

    rows, cached, seconds = _stored_rows(store, f"retranslate-{key}.jsonl", len(english), compute)
    return rows, {"key": key, "cached": cached, "seconds": seconds, "signature": sig, "markers": stats}


def refine_projected(projected: list[ProjectedSentence], marked_rows: Sequence[dict[str, Any]],
                     aligns: Sequence[Alignment], min_similarity: float) -> dict[str, int]:
    """Prefer, in ``projected`` (in place), the re-translation's marked spans found in the original sentence
    by both the target-to-target alignment and string similarity (:mod:`projection.project.refine`)."""
    from projection.project.refine import agreed_spans, refine, refinement_stats
    from projection.records import Span

    counts, agreed_all, marked_all = [], [], []
    for ps, row, a in zip(projected, marked_rows, aligns):
        marked = [Span(int(s), int(e), str(lab)) for s, e, lab in row["spans"]]
        agreed = agreed_spans(row["tokens"], marked, a, ps.target_tokens, min_similarity)
        c = refine(ps, agreed, ps.meta.get("label_confidence"))
        if c:
            ps.meta["refined"] = dict(c)
        counts.append(c)
        agreed_all.append(agreed)
        marked_all.append(marked)
    return refinement_stats(counts, agreed_all, marked_all)

