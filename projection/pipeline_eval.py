"""Intrinsic evaluation of projection on Europarl-NER: gold English entities projected onto the
gold target words, scored with seqeval exact spans (``projection eval-projection``); and
:func:`score_run`, a run's labels against the gold tags of the corpus it labelled
(``projection score-run``, the back-translation direction)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.corpora import load_corpus
from projection.errors import ProjectionError
from projection.options import check_options, options_model
from projection.parallel import extra_parallel_pairs
from projection.pipeline_config import REPO, resolve_value
from projection.stages import AlignStage, Batch
from projection.store import StageStore, cache_root, content_key

EVAL_LANGS = ("es", "de")
# Europarl-NER tags lower-case words derived from names MISC in both languages ("europea", "europäischen"),
# so projections are scored under that convention unless told otherwise (--set lowercase=drop).
EVAL_LOWERCASE = "misc"


def eval_projection(lang: str, aligner: str = "embed", model: str | None = None, method: str = "ngram",
                    aligner_options: dict[str, Any] | None = None, method_options: dict[str, Any] | None = None,
                    extra_parallel: Sequence[str] | None = None, half: str = "all", repeat: int = 0) -> dict[str, Any]:
    """Project the gold English Europarl-NER entities onto the gold target words; seqeval exact-span scores.

    ``half`` = ``first``/``second`` scores only that half of the 799 sentences (alignment
    always runs on all of them): tune on one half, report the other. For statistical
    aligners ``extra_parallel`` (default ``["deepl"]``) adds parallel text to learn from.
    Alignments are cached under ``$PROJECTION_CACHE/eval-projection``.
    """
    from projection.align import aligners
    from projection.executors.local import run_stage
    from projection.project import ProjectionInput, projectors
    from projection.project.evaluate import span_scores

    if lang not in EVAL_LANGS:
        raise ProjectionError(f"eval-projection: Europarl-NER has gold entities for {', '.join(EVAL_LANGS)}, not {lang!r}")
    if half not in ("all", "first", "second"):
        raise ProjectionError(f"half must be all, first or second, not {half!r}")
    en = load_corpus("europarl-ner-en:test")
    tg = load_corpus(f"europarl-ner-{lang}:test")
    if len(en) != len(tg):
        raise ProjectionError(f"europarl-ner: {len(en)} English but {len(tg)} {lang} sentences; the files must be parallel")
    opts = dict(aligner_options or {})
    if model is not None:
        opts["model"] = resolve_value("model", model, lang)
    elif aligner == "embed" and (REPO / "models" / "e5-small").exists():
        opts.setdefault("model", str(REPO / "models" / "e5-small"))
    extra_info: list[dict[str, Any]] = []
    params = inspect.signature(aligners.get(aligner)).parameters
    if "extra_pairs" in params:
        names = list(extra_parallel) if extra_parallel is not None else ["deepl"]
        extra, extra_info = extra_parallel_pairs([resolve_value("path", n, lang) for n in names], lang)
        opts["extra_pairs"] = extra
    al = aligners.create(aligner, **opts)
    method_opts = dict(method_options or {})
    if "lowercase" in inspect.signature(projectors.get(method)).parameters:
        method_opts.setdefault("lowercase", EVAL_LOWERCASE)  # the convention of the gold it is scored on
    problem = check_options(options_model(projectors.get(method)), method_opts)
    if problem:
        raise ProjectionError(f"--set {problem[0]}: [{method}] {problem[1]}")
    projector = projectors.create(method, **method_opts)
    want_sim = hasattr(al, "align_with_similarity") and getattr(projector, "sim_weight", 0) > 0
    pairs = [(a.tokens, b.tokens) for a, b in zip(en, tg)]
    stage = AlignStage(None, lang, similarity=want_sim, repeat=repeat, engine=al, extra_info=extra_info)
    corpus = Batch(0, len(en), en, rows=[{"tokens": b.tokens} for b in tg])
    done = run_stage(stage, stage.key(content_key(pairs)), StageStore(cache_root() / "eval-projection"), corpus)
    aligns, sims = corpus.aligns or [], corpus.sims
    a_info = {"cached": done["computed"] == 0, "seconds": round(done["seconds"], 3), "extra_parallel": extra_info}
    inputs = [ProjectionInput(s, t.tokens, a, sims[k] if sims else None) for k, (s, t, a) in enumerate(zip(en, tg, aligns))]
    projected = projector.project(inputs)
    n = len(en)
    sl = {"all": slice(0, n), "first": slice(0, n // 2), "second": slice(n // 2, n)}[half]
    scores = span_scores(tg[sl], projected[sl])
    return {"lang": lang, "aligner": al.signature(), "method": projector.signature(), "half": half, "repeat": repeat,
            "sentences": len(tg[sl]), **scores,
            "alignment": {k: a_info[k] for k in ("cached", "seconds", "extra_parallel")}}


def score_run(run_dir: str | Path, gold: str | Path, ignore: Sequence[str] = ()) -> dict[str, Any]:
    """Exact-span scores (seqeval, fractions in [0, 1]; overall and per label) of a run's labels on *every*
    sentence (kept or not: an unprojected entity is simply absent) against the gold tags of
    ``gold``, the corpus the run labelled (same sentences, same tokens, in order). ``ignore``
    drops labels from both sides (e.g. ``MISC`` when the gold has none)."""
    from projection import rundir
    from projection.project.evaluate import span_scores
    from projection.train.config import map_labels

    if not (Path(run_dir) / rundir.PROJECTIONS).is_file():
        raise ProjectionError(f"{run_dir}: not a run directory (no {rundir.PROJECTIONS})")
    projected = rundir.read_projections(Path(run_dir))
    gold_s = load_corpus(str(gold))
    if len(gold_s) != len(projected):
        raise ProjectionError(f"{gold}: {len(gold_s):,} sentences, but the run {run_dir} has {len(projected):,}: "
                              "score a run against the corpus it labelled")
    for k, (g, p) in enumerate(zip(gold_s, projected)):
        if list(g.tokens) != list(p.target_tokens):
            raise ProjectionError(f"{gold}: sentence {k + 1} ({g.id}) has other words than the run's sentence {p.id}: "
                                  "score a run against the corpus it labelled")
    if ignore:
        drop = dict.fromkeys(ignore, "O")
        gold_s = map_labels(gold_s, drop)
        for p in projected:
            p.entities = [e for e in p.entities if e.source.label not in drop]
    scores = span_scores(gold_s, projected)
    return {"run": str(run_dir), "gold": str(gold), "sentences": len(gold_s), "ignored": sorted(ignore), **scores}
