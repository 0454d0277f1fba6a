"""The one identity of a model: a content fingerprint of its folder (or its hub snapshot).

Translation caches, encoder conversions and aligner signatures all key on it, so one folder has
one identity everywhere. Core module: imports no stage.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_memo: dict[tuple, str] = {}


def folder_fingerprint(path: str | Path, head: int = 1 << 20) -> str:
    """A content fingerprint (16 hex digits) of a model folder, fast even for multi-GB weights.

    Small files (< 8 MB: configs, vocabularies, tokenizers) are hashed in full; large
    weight files by size plus their first and last megabyte, which changes whenever the
    weights are retrained or requantised. Reading 2 MB instead of 2.4 GB keeps the
    per-run cost of the cache key negligible. Memoised per process on the files' names,
    sizes and modification times.
    """
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    stats = [(p.relative_to(path).as_posix(), p.stat()) for p in files]
    memo = (str(path.resolve()), head, tuple((rel, st.st_size, st.st_mtime_ns) for rel, st in stats))
    if memo in _memo:
        return _memo[memo]
    h = hashlib.sha256()
    for p, (rel, st) in zip(files, stats):
        size = st.st_size
        h.update(f"{rel}\0{size}\0".encode())
        with open(p, "rb") as f:
            if size < 8 * head:
                h.update(f.read())
            else:
                h.update(f.read(head))
                f.seek(size - head)
                h.update(f.read(head))
    _memo[memo] = h.hexdigest()[:16]
    return _memo[memo]


def hub_fingerprint(name: str) -> str:
    """The locally cached snapshot (commit) of a hub model, or ``"hub"`` if unknown."""
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(name, local_files_only=True)
        return f"hub:{Path(local).name}"
    except Exception:
        return "hub"


def model_fingerprint(model: str | Path) -> str:
    """A local folder's :func:`folder_fingerprint`, else the hub snapshot's name."""
    return folder_fingerprint(model) if Path(model).is_dir() else hub_fingerprint(str(model))
