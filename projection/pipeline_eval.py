"""Intrinsic evaluation of projection on Europarl-NER: gold English entities projected onto the
gold target words, scored with seqeval exact spans (``projection eval-projection``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
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
                    extra_parallel: Sequence[str] | None = None, half: str = "all", repeat: int = 0,
                    log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
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
        extra, extra_info = extra_parallel_pairs([resolve_value("path", n, lang) for n in names], lang, log)
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
    done = run_stage(stage, stage.key(content_key(pairs)), StageStore(cache_root() / "eval-projection", log), corpus)
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
