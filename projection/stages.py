"""The three stages of a run behind one contract: translate -> align -> project.

Modelled on transformers' pipelines (a task implements the steps, the runner owns
execution): each stage is one public class, :class:`TranslateStage`, :class:`AlignStage` and
:class:`ProjectStage`, that builds its engine from a pipeline configuration and exposes

* ``signature()`` - what computes the output (engine signature), for the manifest;
* ``key(upstream)`` - the content key of the stage's output for a whole job, from the key of
  its input (the source corpus, or the upstream stages' keys) and the signature;
* ``run(batch)`` - the work on a :class:`Batch` (a slice of one job's corpus), filling the
  batch's field of this stage;
* ``encode(batch)`` / ``decode(stored, batch)`` - the stored form of that field (JSONL rows,
  or numpy arrays for alignments), read and written through one :class:`~projection.store.StageStore`.

Executors (:mod:`projection.executors`) own execution: ``local`` loops the stages over the
run's stage store, ``ray`` maps the same objects over shards with Ray Data. Both store every
stage's output under the same names, :meth:`Stage.chunk_name` (``STAGE-KEY/START-STOP.EXT``),
cut at the same chunk bounds (:func:`chunks`), so a run started with one executor and finished
with the other recomputes nothing.

The engines behind the stages are built by :mod:`projection.pipeline_engines`, where (with
:mod:`projection.pipeline_config`) the stage packages meet; they never import each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from projection.pipeline_config import PipelineConfig
from projection.pipeline_engines import (CORPUS_LEVEL_ALIGNERS, POSITIONAL_TRANSLATORS, SOURCE_LANG,  # noqa: F401
                                         can_use_gpu, make_aligner, make_projector, make_translator, project_rows,
                                         tokenizer_signature, translate_rows, wants_similarity)
from projection.records import Alignment, ProjectedSentence, Sentence
from projection.store import content_key, decode_alignments, encode_alignments
# Sentences per chunk of a chunked stage (the ray executor's default shard size).
ALIGN_CHUNK = 2000
STAGE_ORDER = ("translate", "align", "project")


def chunks(n: int, size: int, whole: bool = False) -> list[tuple[int, int]]:
    """The [start, stop) bounds a stage's output of ``n`` sentences is stored in."""
    if whole or size <= 0:
        return [(0, n)]
    return [(start, min(start + size, n)) for start in range(0, max(n, 1), size)]


def sentence_key(sentences: Sequence[Sentence]) -> str:
    """The content key of a source corpus (tokens and tags)."""
    return content_key([[s.tokens, s.tags] for s in sentences])


@dataclass
class Batch:
    """A slice ``[start, stop)`` of one job's corpus and what the stages made of it so far:
    ``rows`` (translations), ``aligns``/``sims`` (alignments, similarity matrices) and
    ``projected``. ``seconds``: work time per stage that ran on it; ``stats``: the translator's."""

    start: int
    stop: int
    sentences: list[Sentence]
    rows: list[dict[str, Any]] | None = None
    aligns: list[Alignment] | None = None
    sims: list[np.ndarray] | None = None
    projected: list[ProjectedSentence] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.stop - self.start

    def done(self, stage: str) -> bool:
        """Whether ``stage``'s field is filled."""
        return getattr(self, FIELDS[stage]) is not None

    def slice(self, start: int, stop: int) -> Batch:
        """The sentences ``[start, stop)`` of this batch (which starts at 0) with what is known of them."""
        cut = lambda xs: None if xs is None else list(xs[start:stop])  # noqa: E731
        return Batch(start, stop, self.sentences[start:stop], cut(self.rows), cut(self.aligns), cut(self.sims),
                     cut(self.projected))

    @staticmethod
    def join(parts: Sequence[Batch]) -> Batch:
        """The parts as one batch (to run a stage on them together; see :meth:`spread`)."""
        def cat(name: str) -> list[Any] | None:
            values = [getattr(p, name) for p in parts]
            return None if any(v is None for v in values) else [x for v in values for x in v]

        start = parts[0].start if parts else 0
        return Batch(start, start + sum(len(p) for p in parts), [s for p in parts for s in p.sentences],
                     cat("rows"), cat("aligns"), cat("sims"), cat("projected"))

    def spread(self, parts: Sequence[Batch], stage: str) -> None:
        """Hand ``stage``'s output on this joined batch back to the ``parts`` it was joined from."""
        pos = 0
        for p in parts:
            n = len(p.sentences)
            for name in ((FIELDS[stage], "sims") if stage == "align" else (FIELDS[stage],)):
                value = getattr(self, name)
                setattr(p, name, None if value is None else value[pos:pos + n])
            pos += n

    def absorb(self, parts: Sequence[Batch], stage: str) -> None:
        """Take ``stage``'s output of ``parts`` (consecutive slices of this batch) into this batch."""
        for name in ((FIELDS[stage], "sims") if stage == "align" else (FIELDS[stage],)):
            values = [getattr(p, name) for p in parts]
            setattr(self, name, None if any(v is None for v in values) else [x for v in values for x in v])


FIELDS = {"translate": "rows", "align": "aligns", "project": "projected"}


# --------------------------------------------------------------------------- the stage contract


class Stage:
    """One stage of a run for one target language (see the module docstring)."""

    name = ""
    suffix = "jsonl"
    engine: Any = None
    # chunks with missing output are worked on together (translate, project), or one by one (align:
    # a killed alignment resumes at its chunk)
    together = True

    def __init__(self, config: PipelineConfig | None, lang: str):
        self.config = config
        self.lang = lang

    @property
    def whole_corpus(self) -> bool:
        """Whether the stage's output for a sentence depends on the others: then it runs on the
        whole corpus in one piece, stored as one chunk."""
        return False

    @property
    def can_use_gpu(self) -> bool:
        return False

    def signature(self) -> dict[str, Any]:
        return self.engine.signature()

    def key(self, upstream: Any) -> str:
        return content_key(self.name, upstream, self.signature())

    def chunk_name(self, key: str, start: int, stop: int) -> str:
        return f"{self.name}-{key}/{start:08d}-{stop:08d}.{self.suffix}"

    def chunks(self, n: int, size: int = ALIGN_CHUNK) -> list[tuple[int, int]]:
        return chunks(n, size, self.whole_corpus)

    def run(self, batch: Batch) -> None:
        raise NotImplementedError

    def run_parts(self, parts: Sequence[Batch]) -> Iterator[Batch]:
        """:meth:`run` on each of ``parts`` in turn, each handed back when done (to be stored
        before the next one is finished: a killed run resumes at the part it was working on)."""
        for part in parts:
            self.run(part)
            yield part

    def encode(self, batch: Batch) -> Any:
        raise NotImplementedError

    def decode(self, stored: Any, batch: Batch) -> None:
        raise NotImplementedError


class TranslateStage(Stage):
    """Translate and word-tokenise (``batch.rows``; ``batch.stats``: the translator's counts)."""

    name = "translate"

    def __init__(self, config: PipelineConfig, lang: str, markers: bool = False):
        super().__init__(config, lang)
        self.markers = markers
        self.engine = make_translator(config, lang, markers)
        self.tokenizer = tokenizer_signature(lang)

    @property
    def whole_corpus(self) -> bool:
        return self.config.translate["engine"] in POSITIONAL_TRANSLATORS

    @property
    def can_use_gpu(self) -> bool:
        return can_use_gpu("translate", self.config.translate["engine"], self.config.translate)

    def key(self, upstream: Any) -> str:
        """``upstream``: the content key of the source corpus."""
        return content_key("translate", upstream, self.signature(), self.tokenizer, self.lang, self.markers)

    def run(self, batch: Batch) -> None:
        batch.rows = translate_rows(self.engine, batch.sentences, self.lang, self.markers)
        batch.stats = dict(getattr(self.engine, "last_stats", {}) or {})

    def match_info(self, sentences: Sequence[Sentence]) -> dict[str, Any] | None:
        """How a given translation file's sentences were matched to the source (after :meth:`run`
        on the whole corpus ``sentences``), with sentence ids."""
        match = getattr(self.engine, "match_info", None)
        if not match:
            return None
        return {**match, "unmatched_source_ids": [sentences[i].id for i in match["unmatched_source_ids"]],
                "merged_source_ids": [sentences[i].id for i in match["merged_source_ids"]]}

    def match_name(self, key: str) -> str:
        return f"{self.name}-{key}/match.jsonl"

    def stats_name(self, key: str) -> str:
        """Where the statistics of the run that computed the stage are kept (a cached run reports them)."""
        return f"{self.name}-{key}/stats.jsonl"

    def encode(self, batch: Batch) -> list[dict[str, Any]]:
        return list(batch.rows or [])

    def decode(self, stored: list[dict[str, Any]], batch: Batch) -> None:
        batch.rows = stored


class AlignStage(Stage):
    """Word-align the sentences with their translations (``batch.aligns``, ``batch.sims``).

    ``similarity``: also keep similarity matrices (None: decide with :func:`wants_similarity`
    once the projector is known, see :func:`build_stages`). ``repeat`` > 0 gives a separate key
    (repeated measurements of a non-deterministic aligner).
    """

    name = "align"
    suffix = "npz"
    together = False

    def __init__(self, config: PipelineConfig | None, lang: str, similarity: bool | None = None, repeat: int = 0,
                 engine: Any = None, extra_info: list[dict[str, Any]] | None = None):
        super().__init__(config, lang)
        if engine is None:
            if config is None:
                raise ValueError("AlignStage needs a pipeline configuration or an engine")
            engine, extra_info = make_aligner(config, lang)
        self.engine = engine
        self.extra_info = list(extra_info or [])
        self.similarity = bool(similarity)
        self.repeat = repeat

    @property
    def whole_corpus(self) -> bool:
        name = getattr(self.engine, "name", None) or (self.config.align["engine"] if self.config else "")
        return name in CORPUS_LEVEL_ALIGNERS

    @property
    def can_use_gpu(self) -> bool:
        return self.config is not None and can_use_gpu("align", self.config.align["engine"], self.config.align)

    def key(self, upstream: Any) -> str:
        """``upstream``: the translation stage's key (or the content key of given pairs)."""
        return content_key("align", upstream, self.signature(), self.similarity, *([self.repeat] if self.repeat else []))

    @staticmethod
    def pairs(batch: Batch) -> list[tuple[list[str], list[str]]]:
        return [(s.tokens, row["tokens"]) for s, row in zip(batch.sentences, batch.rows or [])]

    def run(self, batch: Batch) -> None:
        pairs = self.pairs(batch)
        if self.similarity:
            batch.aligns, batch.sims = self.engine.align_with_similarity(pairs)
        else:
            batch.aligns, batch.sims = self.engine.align(pairs), None

    def run_parts(self, parts: Sequence[Batch]) -> Iterator[Batch]:
        """With an aligner that aligns parts as a stream (``align_stream``: the ``embed``
        aligner), the encoder works on the next part while a finished one is stored, and a
        sentence repeated across parts is encoded once; the same results as :meth:`run` on each."""
        stream = getattr(self.engine, "align_stream", None)
        if stream is None or len(parts) < 2:
            yield from super().run_parts(parts)
            return
        for part, (aligns, sims) in zip(parts, stream([self.pairs(p) for p in parts], self.similarity)):
            part.aligns, part.sims = aligns, sims
            yield part

    def encode(self, batch: Batch) -> dict[str, Any]:
        return encode_alignments(batch.aligns or [], batch.sims if self.similarity else None)

    def decode(self, stored: dict[str, Any], batch: Batch) -> None:
        batch.aligns, sims = decode_alignments(stored, len(batch))
        batch.sims = sims if self.similarity else None

    def windowed(self) -> int | None:
        """Sentences the aligner encoded in windows so far (longer than its input limit), if it counts them."""
        counts = getattr(self.engine, "stats", None)
        return counts["windowed_sentences"] if isinstance(counts, dict) and "windowed_sentences" in counts else None


class ProjectStage(Stage):
    """Project the entities onto the translations (``batch.projected``)."""

    name = "project"

    def __init__(self, config: PipelineConfig, lang: str):
        super().__init__(config, lang)
        self.engine = make_projector(config, lang)
        self.projection_seconds = 0.0  # the projector's own time, summed over the batches run

    def key(self, upstream: Any) -> str:
        """``upstream``: (translation key, alignment key)."""
        trans_key, align_key = upstream
        return content_key("project", trans_key, align_key, self.signature())

    def run(self, batch: Batch) -> None:
        batch.projected, seconds = project_rows(self.engine, batch.sentences, batch.rows or [], batch.aligns or [],
                                                batch.sims)
        self.projection_seconds += seconds

    def encode(self, batch: Batch) -> list[dict[str, Any]]:
        return [ps.to_dict() for ps in batch.projected or []]

    def decode(self, stored: list[dict[str, Any]], batch: Batch) -> None:
        batch.projected = [ProjectedSentence.from_dict(d) for d in stored]


@dataclass
class Stages:
    """The three stages of one job, with the content key of each stage's output."""

    translate: TranslateStage
    align: AlignStage
    project: ProjectStage
    keys: dict[str, str]

    def __iter__(self):
        return iter((self.translate, self.align, self.project))

    def signatures(self) -> dict[str, Any]:
        return {"translate": self.translate.signature(), "tokenizer": self.translate.tokenizer,
                "align": self.align.signature(), "project": self.project.signature()}


def build_stages(config: PipelineConfig, lang: str, src_key: str, markers: bool = False) -> Stages:
    """The stages of a run of ``config`` into ``lang`` over the source corpus of key ``src_key``."""
    translate = TranslateStage(config, lang, markers)
    project = ProjectStage(config, lang)
    align = AlignStage(config, lang)
    align.similarity = wants_similarity(config, align.engine, project.engine)
    t_key = translate.key(src_key)
    a_key = align.key(t_key)
    return Stages(translate, align, project, {"translate": t_key, "align": a_key,
                                              "project": project.key((t_key, a_key))})
