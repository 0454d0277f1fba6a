"""The plain typed records that flow between stages.

* :class:`Span` - an entity over token indices ``[start, end)`` with a label.
* :class:`Sentence` - an id, tokens and IOB2 tags (plus free metadata).
* :class:`Alignment` - word-alignment links ``(i, j)``: source word i <-> target word j.
* :class:`ProjectedEntity` / :class:`ProjectedSentence` - the result of projecting a
  source sentence's entities onto its translation.

Records are plain dataclasses with ``to_dict``/``from_dict`` for JSONL and parquet; no
record imports a stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable


@dataclass(frozen=True, slots=True, order=True)
class Span:
    start: int
    end: int  # exclusive
    label: str

    def __len__(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Span":
        return cls(int(d["start"]), int(d["end"]), str(d["label"]))


@dataclass(slots=True)
class Sentence:
    id: str
    tokens: list[str]
    tags: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"sentence {self.id}: {len(self.tokens)} tokens but {len(self.tags)} tags")

    @property
    def spans(self) -> list[Span]:
        from projection.tags import tags_to_spans

        return tags_to_spans(self.tags)

    @classmethod
    def from_spans(cls, id: str, tokens: list[str], spans: Iterable[Span], meta: dict[str, Any] | None = None) -> "Sentence":
        from projection.tags import spans_to_tags

        return cls(id, list(tokens), spans_to_tags(spans, len(tokens)), dict(meta or {}))

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tokens": list(self.tokens), "tags": list(self.tags), "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Sentence":
        return cls(str(d["id"]), list(d["tokens"]), list(d["tags"]), dict(d.get("meta") or {}))


@dataclass(frozen=True, slots=True)
class Alignment:
    """Word-alignment links between a source and a target sentence (0-based)."""

    links: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, int]]) -> "Alignment":
        return cls(frozenset((int(i), int(j)) for i, j in pairs))

    def __iter__(self):
        return iter(sorted(self.links))

    def __len__(self) -> int:
        return len(self.links)

    def __contains__(self, pair: object) -> bool:
        return pair in self.links

    def inverse(self) -> "Alignment":
        return Alignment(frozenset((j, i) for i, j in self.links))

    def to_pharaoh(self) -> str:
        return " ".join(f"{i}-{j}" for i, j in sorted(self.links))

    @classmethod
    def from_pharaoh(cls, line: str) -> "Alignment":
        pairs = []
        for item in line.split():
            i, _, j = item.replace("p", "-").partition("-")
            pairs.append((int(i), int(j)))
        return cls.of(pairs)


class EntityStatus(str, Enum):
    PROJECTED = "projected"
    UNALIGNED = "unaligned"
    CONFLICT = "conflict"
    BELOW_THRESHOLD = "below-threshold"
    # projected, then removed by the target's label convention (a lower-case word derived from a
    # name, which the target's guidelines tag O): its words are O, and the sentence is still complete
    REMOVED = "removed"

    def __str__(self) -> str:
        return self.value


@dataclass(slots=True)
class ProjectedEntity:
    source: Span
    target: Span | None
    score: float
    method: str
    status: EntityStatus

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(),
            "target": self.target.to_dict() if self.target else None,
            "score": float(self.score),
            "method": self.method,
            "status": str(self.status),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ProjectedEntity":
        return cls(
            Span.from_dict(d["source"]),
            Span.from_dict(d["target"]) if d.get("target") else None,
            float(d["score"]),
            str(d["method"]),
            EntityStatus(d["status"]),
        )


@dataclass(slots=True)
class ProjectedSentence:
    """A source sentence, its translation (as target words) and the projected entities; ``kept``
    says whether the sentence goes into the training data, ``drop_reason`` why not (set by
    :func:`projection.filtering.apply_policy`)."""

    source: Sentence
    target_tokens: list[str]
    entities: list[ProjectedEntity]
    alignment: Alignment = field(default_factory=Alignment)
    translation: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    kept: bool = True
    drop_reason: str | None = None

    @property
    def id(self) -> str:
        return self.source.id

    @property
    def complete(self) -> bool:
        """True when every source entity was projected (or deliberately removed by a label convention)."""
        return all(e.status in (EntityStatus.PROJECTED, EntityStatus.REMOVED) for e in self.entities)

    def target_sentence(self) -> Sentence:
        spans = [e.target for e in self.entities if e.status == EntityStatus.PROJECTED and e.target is not None]
        return Sentence.from_spans(self.source.id, self.target_tokens, spans, {"source_id": self.source.id})

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source.to_dict(),
            "target_tokens": list(self.target_tokens),
            "entities": [e.to_dict() for e in self.entities],
            "alignment": self.alignment.to_pharaoh(),
            "translation": self.translation,
            "kept": self.kept,
            "drop_reason": self.drop_reason,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ProjectedSentence":
        meta = dict(d.get("meta") or {})
        # files written before ``kept`` and ``drop_reason`` were fields hold them in ``meta``
        kept = d["kept"] if "kept" in d else meta.pop("kept", True)
        reason = d["drop_reason"] if "drop_reason" in d else meta.pop("drop_reason", None)
        return cls(
            Sentence.from_dict(d["source"]),
            list(d["target_tokens"]),
            [ProjectedEntity.from_dict(e) for e in d["entities"]],
            Alignment.from_pharaoh(d.get("alignment") or ""),
            d.get("translation") or "",
            meta,
            bool(kept),
            None if reason is None else str(reason),
        )
