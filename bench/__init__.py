"""Benchmarks of projection (heavy; not part of the test suite): see bench/__main__.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def save(name: str, result: Any) -> Path:
    """Write ``result`` as JSON to ``bench/out/NAME`` (``name`` with its suffix, e.g. ``"align_aer.json"``)
    atomically, creating the folder if needed; return the path written."""
    from projection.store import atomic_write_json  # here: bench modules put the repo on sys.path first

    path = OUT / name
    atomic_write_json(path, result)
    return path


def emit(rows: list[Any], row: dict[str, Any]) -> None:
    """Print ``row`` as one JSON line (a bench's progress as it goes) and add it to ``rows``."""
    print(json.dumps(row, ensure_ascii=False), flush=True)
    rows.append(row)
