"""CoNLL and JSONL exports in a chosen tag scheme (IOB2 = BIO, IOB1, IOBES = BIOES).

``{split}.conll``: ``token<TAB>tag`` lines, a blank line after each sentence (what
``projection train`` and most NER trainers read). ``{split}.jsonl``: one sentence per line,
``{"id", "tokens", "tags", "entities"}``, ``entities`` being every source entity with its
target span, score and status (see :meth:`ExportData.entity_records`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from projection.corpus import write_conll, write_jsonl
from projection.errors import ProjectionError
from projection.export.base import ExportData
from projection.records import Sentence
from projection.tags import spans_to_tags

SCHEMES = ("iob2", "iob1", "iobes")
_ALIASES = {"bio": "iob2", "bioes": "iobes"}


def check_scheme(scheme: str) -> str:
    s = _ALIASES.get(str(scheme).lower(), str(scheme).lower())
    if s not in SCHEMES:
        raise ProjectionError(f"unknown tag scheme {scheme!r}; choose one of: {', '.join(SCHEMES)} (bio = iob2, bioes = iobes)")
    return s


@dataclass
class ConllExporter:
    scheme: str = "iob2"
    name: ClassVar[str] = "conll"

    def __post_init__(self) -> None:
        self.scheme = check_scheme(self.scheme)

    def signature(self) -> dict[str, Any]:
        return {"format": self.name, "scheme": self.scheme, "columns": ["token", "tag"]}

    def write(self, data: ExportData, folder: Path) -> list[str]:
        files = []
        for split, sents in data.splits.items():
            name = f"{split}.conll"
            write_conll([Sentence.from_spans(ps.id, ps.target_tokens, data.spans(ps)) for ps in sents], folder / name,
                        scheme=self.scheme)
            files.append(name)
        return files


@dataclass
class JsonlExporter:
    scheme: str = "iob2"
    name: ClassVar[str] = "jsonl"

    def __post_init__(self) -> None:
        self.scheme = check_scheme(self.scheme)

    def signature(self) -> dict[str, Any]:
        return {"format": self.name, "scheme": self.scheme, "fields": ["id", "tokens", "tags", "entities"]}

    def write(self, data: ExportData, folder: Path) -> list[str]:
        files = []
        for split, sents in data.splits.items():
            name = f"{split}.jsonl"
            write_jsonl(({"id": ps.id, "tokens": list(ps.target_tokens),
                          "tags": spans_to_tags(data.spans(ps), len(ps.target_tokens), self.scheme),
                          "entities": data.entity_records(ps)} for ps in sents), folder / name)
            files.append(name)
        return files
