"""The layout of a projection run directory, shared by the pipeline and the inspectors.

::

    RUN_DIR/
      manifest.json        signature: engines, models, versions, parameters, input hashes, counts, timings
      projections.jsonl    one ProjectedSentence per line, every source sentence (kept or not);
                           meta["kept"] (bool) and meta["drop_reason"] (str or None)
      entities.parquet     one row per source entity: id, label, status, method, score,
                           src_start, src_end, tgt_start, tgt_end, src_text, tgt_text
      projected.conll      the kept target sentences, IOB2 (what a trainer reads)
      projected.parquet    the same as parquet (id, tokens, tags, meta)
      stages/              content-addressed cache of stage outputs (safe to delete)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from projection.corpus import write_conll, write_jsonl, write_parquet
from projection.errors import InputError, ProjectionError, parse_json
from projection.records import ProjectedSentence
from projection.store import atomic_path, atomic_write_json

MANIFEST = "manifest.json"
PROJECTIONS = "projections.jsonl"
ENTITIES = "entities.parquet"
PROJECTED_CONLL = "projected.conll"
PROJECTED_PARQUET = "projected.parquet"
STAGES = "stages"


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
    write_jsonl(projected, run_dir / PROJECTIONS)
    kept = [ps.target_sentence() for ps in projected if ps.meta.get("kept", True)]
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
    atomic_write_json(run_dir / MANIFEST, manifest)


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        raise ProjectionError(f"{run_dir}: not a finished projection run (no {MANIFEST}); run `projection run` first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(path, e.lineno, f"invalid JSON: {e.msg}") from None


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
