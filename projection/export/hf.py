"""Hugging Face ``datasets`` export: a folder that ``datasets.load_dataset(PATH)`` loads.

Layout (the Hub's own)::

    OUT/README.md                          dataset card: YAML metadata + generated body
    OUT/data/train-00000-of-00001.parquet  id, tokens, ner_tags (ClassLabel), entities
    OUT/data/validation-00000-of-00001.parquet    with --dev-fraction (the Hub's name for dev)
    OUT/export.json

The parquet files carry the ``datasets`` features in their schema, so ``ner_tags`` loads as a
``ClassLabel`` with the tag names; the card's ``configs`` entry maps the files to splits.
``ner_tags`` names are every tag of the run's labels in the chosen scheme, whether or not a
label survived the selection, so exports of one run share one label set.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from projection.errors import ProjectionError
from projection.export.base import ExportData
from projection.export.text import check_scheme
from projection.progress import track
from projection.store import package_versions
from projection.tags import spans_to_tags, tag_names

CARD = "README.md"


def features(names: list[str]) -> Any:
    import datasets

    entity = {"start": datasets.Value("int32"), "end": datasets.Value("int32"), "label": datasets.Value("string"),
              "score": datasets.Value("float64"), "status": datasets.Value("string"), "method": datasets.Value("string"),
              "text": datasets.Value("string"), "source_start": datasets.Value("int32"),
              "source_end": datasets.Value("int32"), "source_label": datasets.Value("string"),
              "source_text": datasets.Value("string")}
    return datasets.Features({
        "id": datasets.Value("string"),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
        "entities": [entity],
    })


@dataclass
class HFExporter:
    scheme: str = "iob2"
    card: bool = True
    name: ClassVar[str] = "hf"
    dev_split: ClassVar[str] = "validation"

    def __post_init__(self) -> None:
        self.scheme = check_scheme(self.scheme)
        if importlib.util.find_spec("datasets") is None:
            raise ProjectionError("--format hf needs the `datasets` package: pip install 'projection[hf]'")

    def signature(self) -> dict[str, Any]:
        return {"format": self.name, "scheme": self.scheme, "columns": ["id", "tokens", "ner_tags", "entities"],
                "card": self.card, **package_versions("datasets", "huggingface_hub")}

    def write(self, data: ExportData, folder: Path) -> list[str]:
        import datasets
        import pyarrow.parquet as pq

        names = tag_names(data.labels, self.scheme)
        index = {t: i for i, t in enumerate(names)}
        feats = features(names)
        files = []
        (folder / "data").mkdir()
        for split, sents in data.splits.items():
            cols: dict[str, list[Any]] = {"id": [], "tokens": [], "ner_tags": [], "entities": []}
            for ps in track(sents, f"export hf {split}"):
                tags = spans_to_tags(data.spans(ps), len(ps.target_tokens), self.scheme)
                cols["id"].append(ps.id)
                cols["tokens"].append(list(ps.target_tokens))
                cols["ner_tags"].append([index[t] for t in tags])
                cols["entities"].append(data.entity_records(ps))
            ds = datasets.Dataset.from_dict(cols, features=feats, split=datasets.Split(split))
            name = f"data/{split}-00000-of-00001.parquet"
            pq.write_table(ds.data.table, folder / name)
            files.append(name)
        if self.card:
            from projection.export.card import render_card

            options = {"scheme": self.scheme if self.scheme != "iob2" else None}
            (folder / CARD).write_text(render_card(data, self.name, scheme=self.scheme, tag_names=names,
                                                   options=options), encoding="utf-8")
            files.append(CARD)
        return files
