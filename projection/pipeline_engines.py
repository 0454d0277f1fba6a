"""The engines behind the stages, built from a pipeline configuration, and the stages' units of work.

:func:`make_translator`, :func:`make_aligner`, :func:`make_projector` build the engines of the
``[translate]``, ``[align]`` and ``[project]`` tables for one target language;
:func:`translate_rows` and :func:`project_rows` are the work the stage objects of
:mod:`projection.stages` run. With :mod:`projection.pipeline_config`, this is where the stage
packages (``translate``, ``align``, ``project``) meet; they never import each other.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from projection.errors import ProjectionError
from projection.parallel import extra_parallel_pairs
from projection.pipeline_config import PipelineConfig, engine_class, resolve_value, stage_options
from projection.records import Alignment, ProjectedSentence, Sentence, Span
from projection.store import code_hash, package_versions

SOURCE_LANG = "en"
# Aligners that learn from the whole corpus (statistical): their output for a sentence
# depends on the other sentences, so they run on the corpus in one piece. Every other
# aligner treats sentence pairs independently and runs in resumable chunks.
CORPUS_LEVEL_ALIGNERS = frozenset({"eflomal"})
# Translators whose output for a sentence is fixed by its position in the whole input, not by
# its text (translations read from a file): they run on the corpus in one piece.
POSITIONAL_TRANSLATORS = frozenset({"given"})


def _where(config: PipelineConfig, section: str) -> str:
    return f"{config.file or config.name}: [{section}]"


def make_translator(config: PipelineConfig, lang: str, markers: bool) -> Any:
    """The translation engine of ``config`` for ``lang`` (wrapped in the per-sentence cache)."""
    from projection.translate import cached, translators

    options = stage_options(config.translate, "translate", lang)
    engine = config.translate["engine"]
    if markers and "markers" in inspect.signature(translators.get(engine)).parameters:
        options.setdefault("markers", True)
    # options were checked against the engine's options model when the pipeline was read: an
    # error raised here is the engine's own (a ProjectionError about a model, or a bug)
    return cached(translators.create(engine, src_lang=SOURCE_LANG, tgt_lang=lang, **options))


def make_aligner(config: PipelineConfig, lang: str) -> tuple[Any, list[dict[str, Any]]]:
    """The aligner of ``config`` (given its extra parallel text) and what extra text it got."""
    from projection.align import aligners

    options = stage_options(config.align, "align", lang)
    engine = config.align["engine"]
    extra_names = config.align.get("extra_parallel", [])
    extra_info: list[dict[str, Any]] = []
    if extra_names:
        if "extra_pairs" not in inspect.signature(aligners.get(engine)).parameters:
            raise ProjectionError(f"{_where(config, 'align')} extra_parallel: the {engine} aligner "
                                  "does not learn from extra parallel text")
        names = [resolve_value("path", n, lang) for n in extra_names]
        extra, extra_info = extra_parallel_pairs(names, lang)
        options["extra_pairs"] = extra
    try:
        al = aligners.create(engine, **options)
    except ProjectionError as e:  # the engine's own check of its options or model: name the file
        raise ProjectionError(f"{_where(config, 'align')} {e}") from None
    return al, extra_info


def projector_options(config: PipelineConfig, lang: str) -> dict[str, Any]:
    """The ``[project]`` options for ``lang``: the pipeline's, plus the target's default lower-case
    convention (:data:`projection.project.ngram.LOWERCASE_DEFAULTS`) when the method has that option
    and the pipeline does not set it."""
    from projection.project import projectors
    from projection.project.ngram import lowercase_default

    options = stage_options(config.project, "project", lang)
    try:
        params = inspect.signature(projectors.get(config.project["method"])).parameters
    except (TypeError, ValueError):
        params = {}
    if "lowercase" in params and "lowercase" not in options:
        options["lowercase"] = lowercase_default(lang)
    return options


def make_projector(config: PipelineConfig, lang: str) -> Any:
    """The projection method of ``config``; a bad option is a :class:`ProjectionError` naming the file
    (any other error inside the method's constructor is raised as itself)."""
    from projection.project import projectors

    try:
        return projectors.create(config.project["method"], **projector_options(config, lang))
    except ProjectionError as e:  # the method's options model: name the file
        raise ProjectionError(f"{_where(config, 'project')} {e}") from None


def wants_similarity(config: PipelineConfig, aligner: Any, projector: Any) -> bool:
    """Whether alignment also stores similarity matrices: ``[align] similarity``, else when the
    aligner gives them and the projector uses them."""
    explicit = config.align.get("similarity")
    has = hasattr(aligner, "align_with_similarity")
    uses = getattr(projector, "sim_weight", 0) > 0
    if explicit is True and not has:
        raise ProjectionError(f"{_where(config, 'align')} similarity = true, but the "
                              f"{config.align['engine']} aligner gives no similarity matrices")
    return has and uses if explicit is None else bool(explicit) and has


def tokenizer_signature(lang: str) -> dict[str, Any]:
    """The word tokeniser applied to translations (part of the translation stage's key)."""
    from projection.translate.text import tokenizer_language

    return {"tokenizer": "spacy-blank", "lang": tokenizer_language(lang), **package_versions("spacy"),
            "code": code_hash("projection.translate.text", "projection.translate.markers")}


def translate_rows(translator: Any, sentences: Sequence[Sentence], lang: str, markers: bool) -> list[dict[str, Any]]:
    """Translate and word-tokenise ``sentences``: one row (``text``, ``tokens``, with markers also
    ``marked``, ``lost``, ``broken``) per sentence."""
    from projection.translate import translate_marked

    if markers:
        results = translate_marked(translator, sentences)
        return [{"text": r.text, "tokens": r.tokens, "marked": [[s.start, s.end, s.label] for s in r.spans],
                 "lost": r.lost, "broken": r.broken} for r in results]
    return plain_translation_rows(translator, sentences, SOURCE_LANG, lang)


def plain_translation_rows(translator: Any, sentences: Sequence[Sentence], src_lang: str, tgt_lang: str
                           ) -> list[dict[str, Any]]:
    """``sentences`` (in ``src_lang``) detokenised, translated and the output word-tokenised in ``tgt_lang``
    (a given translation's own tokens when it has them): one row (``text``, ``tokens``, ``untranslated``
    for the sentences a given file has no translation for) per sentence; either direction."""
    from projection.translate import detokenize, tokenize

    out = translator.translate([detokenize(list(s.tokens), src_lang) for s in sentences])
    given_tokens = getattr(translator, "tokens", None)
    if isinstance(given_tokens, list) and len(given_tokens) == len(out):
        toks = [list(t) for t in given_tokens]
    else:
        toks = [tokenize(t, tgt_lang) if t else [] for t in out]
    rows: list[dict[str, Any]] = [{"text": t, "tokens": k} for t, k in zip(out, toks)]
    # sentences a given translation file has no translation for (sentence matching): dropped later
    for i in getattr(translator, "untranslated", None) or []:
        rows[i]["untranslated"] = True
    return rows


def project_rows(projector: Any, sentences: Sequence[Sentence], rows: Sequence[dict[str, Any]],
                 aligns: Sequence[Alignment], sims: Sequence[np.ndarray] | None) -> tuple[list[ProjectedSentence], float]:
    """Project the entities of ``sentences`` onto their translations (``rows`` of :func:`translate_rows`);
    also returns the seconds the projector took."""
    from projection.project import ProjectionInput

    inputs = []
    for k, (s, row, a) in enumerate(zip(sentences, rows, aligns)):
        marked = [Span(*m) for m in row["marked"]] if row.get("marked") is not None else None
        inputs.append(ProjectionInput(s, row["tokens"], a, sims[k] if sims else None, marked, row["text"]))
    t1 = time.perf_counter()
    projected = projector.project(inputs)
    project_seconds = time.perf_counter() - t1
    for ps, row in zip(projected, rows):
        if row.get("untranslated"):
            ps.meta["untranslated"] = True
        if "lost" in row:
            ps.meta["markers_lost"] = row["lost"]
            ps.meta["markers_broken"] = row["broken"]
    return projected, project_seconds


def can_use_gpu(section: str, name: str, table: dict[str, Any]) -> bool:
    """An engine can use a GPU when it takes a ``device`` option that is not set to ``cpu``."""
    try:
        params = inspect.signature(engine_class(section, name)).parameters
    except (TypeError, ValueError, KeyError):
        return False
    return "device" in params and str(table.get("device", "auto")) != "cpu"
