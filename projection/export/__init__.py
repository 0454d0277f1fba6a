"""Exporting a projection run to where NER models are trained.

``exporters`` is the stage's registry (format name -> implementation); :func:`export_run` is
the Python API behind ``projection export``::

    from projection.export import export_run
    res = export_run("runs/es-given", "spacy", "corpus/es", dev_fraction=0.1, seed=13)
    res = export_run("runs/es-given", "hf", "hf/es-given", min_score=0.6)   # + README.md dataset card
    res = export_run("runs/es-given", "conll", "conll/es", scheme="iobes", policy="keep-all")
    res.files, res.counts                                                  # written files, per-split counts

Formats: ``spacy`` (``train.spacy`` [``dev.spacy``] DocBins), ``hf`` (a ``datasets`` folder:
``data/{train,validation}-00000-of-00001.parquet`` and a ``README.md`` dataset card), ``conll`` and
``jsonl`` (``{split}.conll`` / ``{split}.jsonl`` in a tag scheme). Every export folder also
holds ``export.json``: the run it came from, the selection, the counts and the format's
signature. The stage reads a run directory through the core modules (:mod:`projection.rundir`,
:mod:`projection.filtering`, :mod:`projection.tags`) and imports no other stage.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from projection.errors import ProjectionError
from projection.registry import Registry

if TYPE_CHECKING:
    from projection.export.base import ExportData


class Exporter(Protocol):
    """One output format. ``write`` fills ``folder`` (a fresh temporary folder that replaces the
    export folder when it succeeds) and returns the written files, relative to it. An exporter may
    set ``dev_split`` to name the held-out split its ecosystem expects (default ``dev``)."""

    name: str

    def signature(self) -> dict[str, Any]: ...

    def write(self, data: "ExportData", folder: Path) -> list[str]: ...


exporters: Registry[Any] = Registry("export format")
exporters.add("spacy", "projection.export.spacy_docbin:DocBinExporter")
exporters.add("hf", "projection.export.hf:HFExporter")
exporters.add("conll", "projection.export.text:ConllExporter")
exporters.add("jsonl", "projection.export.text:JsonlExporter")

FORMATS = ("spacy", "hf", "conll", "jsonl")


@dataclass
class ExportResult:
    out: Path
    format: str
    files: list[str]
    counts: dict[str, dict[str, Any]]  # per split: sentences, tokens, entities, per_label
    selection: dict[str, Any]  # effective policy, min score, split, sentences in/out, drop reasons
    seconds: float


def make_exporter(fmt: str, **options: Any) -> Exporter:
    """The exporter of ``fmt`` with its options; an option the format does not take is a clear error."""
    cls = exporters.get(fmt)
    params = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ProjectionError(f"export format {fmt!r} takes no option {', '.join(repr(u) for u in unknown)} "
                              f"(its options: {', '.join(params) or 'none'})")
    return cls(**options)


def export_run(run_dir: str | Path, fmt: str, out: str | Path, *, policy: str | None = None,
               min_score: float | None = None, dev_fraction: float = 0.0, seed: int = 0, **options: Any) -> ExportResult:
    """Export the run in ``run_dir`` as ``fmt`` into the folder ``out`` (replaced whole if it holds an earlier export).

    ``policy`` / ``min_score`` re-decide which sentences and entities go out (see
    :mod:`projection.export.base`); ``dev_fraction`` and ``seed`` split off a seeded ``dev``
    share; other ``options`` go to the format (``scheme`` for conll, jsonl and hf).
    """
    from projection import __version__, rundir
    from projection.export.base import EXPORT_JSON, Selection, load_run_data, pipeline_info, public, staged_dir
    from projection.store import atomic_write_json, file_sha256

    t0 = time.perf_counter()
    selection = Selection(policy, min_score, dev_fraction, seed)
    exporter = make_exporter(fmt, **options)
    data = load_run_data(run_dir, selection, getattr(exporter, "dev_split", "dev"))
    data.out = Path(out)
    counts = data.split_counts()
    run_dir = Path(run_dir)
    with staged_dir(out) as folder:
        files = exporter.write(data, folder)
        info = {
            "format": fmt,
            "exporter": exporter.signature(),
            "run": {"dir": public(str(run_dir)), "created": data.manifest.get("created"),
                    "target_lang": data.manifest.get("target_lang"),
                    "pipeline": pipeline_info(data.manifest).get("name"),
                    "manifest_sha256": file_sha256(run_dir / rundir.MANIFEST)[:16],
                    "projections_sha256": file_sha256(run_dir / rundir.PROJECTIONS)[:16]},
            "selection": data.selection_info(),
            "labels": data.labels,
            "counts": counts,
            "files": files,
            "versions": {"projection": __version__},
        }
        atomic_write_json(folder / EXPORT_JSON, info)
    return ExportResult(Path(out), fmt, files + [EXPORT_JSON], counts, data.selection_info(),
                        round(time.perf_counter() - t0, 3))


__all__ = ["FORMATS", "ExportResult", "Exporter", "export_run", "exporters", "make_exporter"]
