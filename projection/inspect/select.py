"""Choosing which sentences to look at: label, status, score range, text, random sample, page.

Entity criteria (``labels``, ``statuses``, ``min_score``/``max_score``) are combined per
entity: a sentence matches when *one* of its entities satisfies all of them at once, so
``--label ORG --status unaligned`` finds sentences with an unaligned ORG, not sentences
with some ORG and some unaligned entity. ``dropped``/``kept`` are sentence statuses and
may be given with ``--status`` too. The sample is drawn after filtering and keeps corpus
order, so the same seed always gives the same, readable selection.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from projection.errors import ProjectionError
from projection.inspect.run import is_kept
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence

ENTITY_STATUSES = tuple(str(s) for s in EntityStatus)
SENTENCE_STATUSES = ("kept", "dropped")


@dataclass(frozen=True)
class Filter:
    labels: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()  # entity statuses and/or "kept"/"dropped"
    min_score: float | None = None
    max_score: float | None = None
    grep: str | None = None  # a case-insensitive regular expression over source and target text
    sample: int | None = None
    seed: int = 0

    @classmethod
    def make(
        cls,
        labels: Any = None,
        statuses: Any = None,
        min_score: float | None = None,
        max_score: float | None = None,
        grep: str | None = None,
        sample: int | None = None,
        seed: int = 0,
    ) -> "Filter":
        """Build a filter from loose user input (lists or comma-separated strings), validating it."""
        labels_set = frozenset(x.upper() for x in _split(labels))
        statuses_set = frozenset(x.lower().replace("_", "-") for x in _split(statuses))
        bad = sorted(statuses_set - set(ENTITY_STATUSES) - set(SENTENCE_STATUSES))
        if bad:
            raise ProjectionError(
                f"unknown status {', '.join(map(repr, bad))}; choose from: {', '.join(ENTITY_STATUSES + SENTENCE_STATUSES)}"
            )
        if min_score is not None and max_score is not None and min_score > max_score:
            raise ProjectionError(f"--min-score {min_score} is above --max-score {max_score}")
        if sample is not None and sample < 1:
            raise ProjectionError(f"--sample must be at least 1 (got {sample})")
        if grep:
            try:
                re.compile(grep)
            except re.error as e:
                raise ProjectionError(f"--grep {grep!r}: not a regular expression ({e})") from None
        return cls(labels_set, statuses_set, min_score, max_score, grep or None, sample, seed)

    @property
    def entity_statuses(self) -> frozenset[str]:
        return self.statuses & frozenset(ENTITY_STATUSES)

    @property
    def sentence_statuses(self) -> frozenset[str]:
        return self.statuses & frozenset(SENTENCE_STATUSES)

    @property
    def has_entity_criteria(self) -> bool:
        return bool(self.labels or self.entity_statuses or self.min_score is not None or self.max_score is not None)

    def entity_matches(self, e: ProjectedEntity) -> bool:
        if self.labels and e.source.label.upper() not in self.labels:
            return False
        if self.entity_statuses and str(e.status) not in self.entity_statuses:
            return False
        score = float(e.score)
        if self.min_score is not None and not (score >= self.min_score):  # NaN never matches a bound
            return False
        if self.max_score is not None and not (score <= self.max_score):
            return False
        return True

    def sentence_matches(self, ps: ProjectedSentence, pattern: re.Pattern[str] | None = None) -> bool:
        if self.sentence_statuses and ("kept" if is_kept(ps) else "dropped") not in self.sentence_statuses:
            return False
        if self.has_entity_criteria and not any(self.entity_matches(e) for e in ps.entities):
            return False
        if pattern is not None:
            text = " ".join(ps.source.tokens) + "\n" + " ".join(ps.target_tokens) + "\n" + ps.translation
            if not pattern.search(text):
                return False
        return True

    def apply(self, sentences: list[ProjectedSentence]) -> list[ProjectedSentence]:
        """The matching sentences in corpus order (sampled when ``sample`` is set)."""
        pattern = re.compile(self.grep, re.IGNORECASE) if self.grep else None
        out = [ps for ps in sentences if self.sentence_matches(ps, pattern)]
        if self.sample is not None and self.sample < len(out):
            keep = sorted(random.Random(self.seed).sample(range(len(out)), self.sample))
            out = [out[i] for i in keep]
        return out

    def describe(self) -> str:
        """A short human description, e.g. ``label=ORG status=unaligned score<=0.5``."""
        parts = []
        if self.labels:
            parts.append("label=" + ",".join(sorted(self.labels)))
        if self.statuses:
            parts.append("status=" + ",".join(sorted(self.statuses)))
        if self.min_score is not None:
            parts.append(f"score>={self.min_score:g}")
        if self.max_score is not None:
            parts.append(f"score<={self.max_score:g}")
        if self.grep:
            parts.append(f"grep={self.grep!r}")
        if self.sample is not None:
            parts.append(f"sample={self.sample} seed={self.seed}")
        return " ".join(parts) or "all sentences"


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    return [part.strip() for item in value for part in str(item).split(",") if part.strip()]


@dataclass(frozen=True)
class Page:
    items: list[ProjectedSentence] = field(default_factory=list)
    number: int = 1  # 1-based
    pages: int = 1
    start: int = 0  # 0-based index of items[0] in the selection
    total: int = 0


def paginate(selection: list[ProjectedSentence], page: int = 1, per_page: int = 10) -> Page:
    if per_page < 1:
        raise ProjectionError(f"--per-page must be at least 1 (got {per_page})")
    pages = max(1, math.ceil(len(selection) / per_page))
    if page < 1 or page > pages:
        raise ProjectionError(f"--page {page} is out of range: the selection has {pages} page(s) of {per_page}")
    start = (page - 1) * per_page
    return Page(selection[start : start + per_page], page, pages, start, len(selection))
