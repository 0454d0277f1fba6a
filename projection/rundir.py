"""The layout of a projection run directory, shared by the pipeline and the inspectors.

::

    RUN_DIR/
      manifest.json        signature: engines, models, versions, parameters, input hashes, counts, timings;
                           written last (and removed first when a run rewrites the folder), with the size
                           and SHA-256 of every file below ("files"): readers check them
      projections.jsonl    one ProjectedSentence per line, every source sentence (kept or not);
                           "kept" (bool) and "drop_reason" (str or None; in "meta" in older runs)
      entities.parquet     one row per source entity: id, label, status, method, score,
                           src_start, src_end, tgt_start, tgt_end, src_text, tgt_text
      projected.conll      the kept target sentences, IOB2 (what a trainer reads)
      projected.parquet    the same as parquet (id, tokens, tags, meta)
      stages/              content-addressed cache of stage outputs (safe to delete)
      .lock                held (flock) by the run writing the folder: a second one stops with an error
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from projection.corpus import write_conll, write_jsonl, write_parquet
from projection.errors import InputError, ProjectionError, parse_json, read_json_file
from projection.records import ProjectedSentence
from projection.store import atomic_path, atomic_write_json, file_sha256

MANIFEST = "manifest.json"
PROJECTIONS = "projections.jsonl"
ENTITIES = "entities.parquet"
PROJECTED_CONLL = "projected.conll"
PROJECTED_PARQUET = "projected.parquet"
STAGES = "stages"
RUN_FILES = (PROJECTIONS, PROJECTED_CONLL, PROJECTED_PARQUET, ENTITIES)


def file_record(path: Path) -> dict[str, Any]:
    """What the manifest records of a run file: its size and SHA-256 (16 hex digits)."""
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)[:16]}


def check_files(run_dir: str | Path, manifest: dict[str, Any], names: Sequence[str] = RUN_FILES) -> None:
    """The run files match the manifest (written last): a run killed while rewriting, or a file
    changed since, is a :class:`ProjectionError`. Manifests older than this check list no files."""
    recorded = manifest.get("files")
    if not isinstance(recorded, dict):
        return
    for name in names:
        want = recorded.get(name)
        path = Path(run_dir) / name
        if not isinstance(want, dict) or not path.exists():
            continue
        if path.stat().st_size != want.get("bytes") or file_sha256(path)[:16] != want.get("sha256"):
            raise ProjectionError(f"{path}: does not match {Path(run_dir) / MANIFEST} (changed since, or the run "
                                  "that wrote it was interrupted); rerun `projection run` with the same --out")


def entity_rows(projected: Iterable[ProjectedSentence]) -> list[dict[str, Any]]:
    rows = []
    for ps in projected:
        for e in ps.entities:
            rows.append(
                {
                    "id": ps.id,
                    "label": e.source.label,
                    "status": str(e.status),
                    "method": e.method,
                    "score": float(e.score),
                    "src_start": e.source.start,
                    "src_end": e.source.end,
                    "tgt_start": e.target.start if e.target else None,
                    "tgt_end": e.target.end if e.target else None,
                    "src_text": " ".join(ps.source.tokens[e.source.start : e.source.end]),
                    "tgt_text": " ".join(ps.target_tokens[e.target.start : e.target.end]) if e.target else None,
                }
            )
    return rows


def write_run(run_dir: str | Path, projected: Sequence[ProjectedSentence], manifest: dict[str, Any]) -> None:
    """Write every file of a run directory atomically; the manifest last, so it marks completion."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # no manifest while the files change: a run killed half-way is unfinished, not a mix of two runs
    (run_dir / MANIFEST).unlink(missing_ok=True)
    write_jsonl(projected, run_dir / PROJECTIONS)
    kept = [ps.target_sentence() for ps in projected if ps.kept]
    write_conll(kept, run_dir / PROJECTED_CONLL)
    write_parquet(kept, run_dir / PROJECTED_PARQUET)
    rows = entity_rows(projected)
    schema = pa.schema(
        [("id", pa.string()), ("label", pa.string()), ("status", pa.string()), ("method", pa.string()),
         ("score", pa.float64()), ("src_start", pa.int64()), ("src_end", pa.int64()), ("tgt_start", pa.int64()),
         ("tgt_end", pa.int64()), ("src_text", pa.string()), ("tgt_text", pa.string())]
    )
    with atomic_path(run_dir / ENTITIES) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    manifest["files"] = {name: file_record(run_dir / name) for name in RUN_FILES}
    atomic_write_json(run_dir / MANIFEST, manifest)


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        raise ProjectionError(f"{run_dir}: not a finished projection run (no {MANIFEST}); run `projection run` first")
    manifest = read_json_file(path)
    if isinstance(manifest, dict):
        check_files(run_dir, manifest)
    return manifest


def check_run_file(path: str | Path) -> None:
    """``path`` (``projected.conll`` or ``.parquet`` read as a corpus): when it lies in a run
    directory, that run must be finished and the file must match its manifest."""
    path = Path(path)
    if path.name not in RUN_FILES or not (path.parent / PROJECTIONS).exists():
        return
    manifest = read_manifest(path.parent)
    if isinstance(manifest, dict):
        check_files(path.parent, manifest, [path.name])


def read_projections(run_dir: str | Path) -> list[ProjectedSentence]:
    path = Path(run_dir) / PROJECTIONS
    if not path.exists():
        raise ProjectionError(f"{run_dir}: no {PROJECTIONS}; is this a projection run directory?")
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                out.append(ProjectedSentence.from_dict(parse_json(path, lineno, line)))
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise InputError(path, lineno, f"not a projected-sentence record ({e})") from None
    return out
