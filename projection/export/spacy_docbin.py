"""spaCy DocBin export: ``train.spacy`` (and ``dev.spacy``), trainable with ``python -m spacy train``.

Each sentence is one ``Doc`` over the run's own target words (the tokenisation is kept:
``words`` are the run's tokens, one space between them), its projected entities are
``doc.ents``; ``doc.user_data`` holds the sentence ``id`` and ``entities`` (every source
entity with its target span, score and status), stored in the DocBin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from projection.export.base import ExportData
from projection.progress import track
from projection.store import package_versions


@dataclass
class DocBinExporter:
    name: ClassVar[str] = "spacy"

    def signature(self) -> dict[str, Any]:
        return {"format": self.name, "ents": "projected entities", "user_data": ["id", "entities"],
                **package_versions("spacy")}

    def write(self, data: ExportData, folder: Path) -> list[str]:
        from spacy.tokens import Doc, DocBin
        from spacy.tokens import Span as SpacySpan
        from spacy.vocab import Vocab

        vocab = Vocab()
        files = []
        for split, sents in data.splits.items():
            db = DocBin(store_user_data=True)
            for ps in track(sents, f"export spacy {split}"):
                words = list(ps.target_tokens)
                doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
                doc.ents = [SpacySpan(doc, sp.start, sp.end, label=sp.label) for sp in data.spans(ps)]
                doc.user_data["id"] = ps.id
                doc.user_data["entities"] = data.entity_records(ps)
                db.add(doc)
            name = f"{split}.spacy"
            db.to_disk(folder / name)
            files.append(name)
        return files
