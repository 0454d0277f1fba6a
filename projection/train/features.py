"""Frozen lower-layer features, computed once and stored by content.

With the lower ``k`` layers of the encoder frozen (``TrainConfig.freeze_layers``), their
output for an input window never changes. :class:`FeatureCache` keeps it in a SQLite file
under ``$PROJECTION_CACHE/features/``, one row per window, keyed by a hash of

* the frozen weights themselves (embeddings and layers ``1..k``, hashed tensor by tensor:
  a trained model whose lower part was frozen has the same key as its original encoder, so
  training and prediction share the rows),
* the hidden-state layers kept (``k``, plus a lower layer for feature aggregation),
* the window's subword ids.

A window seen once (an English training sentence, a dev or test sentence) is never encoded
again by any later epoch, seed, system or evaluation that uses the same encoder. Rows are
float16 ``(tokens, layers, hidden)`` arrays; the file is opened in WAL mode so several
trainings can share it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from projection.progress import bar
from projection.store import cache_root, content_key, package_versions
from projection.train.split import SplitEncoder
from projection.train.windows import Window, collate

FEATURES_DIR = "features"
FORMAT = 1


def weights_fingerprint(split: SplitEncoder) -> str:
    """A hash of the frozen part's weights (and of this format), independent of where they were loaded from."""
    h = hashlib.sha256(f"features-v{FORMAT}|k={split.k}".encode())
    named = [("embeddings", split.encoder.embeddings)] + [(f"layer{i}", split.layers[i]) for i in range(split.k)]
    for prefix, module in named:
        for name, tensor in sorted(module.state_dict().items()):
            t = tensor.detach().to("cpu").contiguous()
            h.update(f"{prefix}.{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:24]


class FeatureCache:
    """Lower-layer features per window: kept in memory for this object's life, and on disk with ``disk``."""

    def __init__(self, split: SplitEncoder, keep: Sequence[int], *, disk: bool = True, root: Path | None = None,
                 device: torch.device | None = None, batch_tokens: int = 8192):
        self.split = split
        self.keep = sorted({split.k, *keep})
        self.device = device or torch.device("cpu")
        self.batch_tokens = batch_tokens
        self.fingerprint = content_key(weights_fingerprint(split), self.keep,
                                       package_versions("torch", "transformers"))
        self.path: Path | None = None
        self._db: sqlite3.Connection | None = None
        if disk:
            self.path = (root or cache_root() / FEATURES_DIR) / f"{self.fingerprint}.sqlite"
        self.stats = {"computed": 0, "from_disk": 0, "seconds": 0.0}
        self._memory: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ storage
    def _conn(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS features (key TEXT PRIMARY KEY, tokens INTEGER, data BLOB)")
            self._db = db
        return self._db

    def _key(self, w: Window) -> str:
        return hashlib.blake2b(np.asarray(w.input_ids, dtype=np.int64).tobytes(), digest_size=16).hexdigest()

    def _read(self, keys: list[str]) -> dict[str, np.ndarray]:
        db = self._conn()
        if db is None or not keys:
            return {}
        found: dict[str, np.ndarray] = {}
        width = len(self.keep) * self.split.encoder.config.hidden_size
        step = 500
        for i in range(0, len(keys), step):
            chunk = keys[i:i + step]
            rows = db.execute(f"SELECT key, tokens, data FROM features WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            for key, n, data in rows:
                if isinstance(data, bytes) and isinstance(n, int) and n > 0 and len(data) == 2 * n * width:
                    found[key] = np.frombuffer(data, dtype=np.float16).reshape(n, len(self.keep), -1)
                # any other row is damaged: recomputed and replaced
        return found

    def _write(self, items: list[tuple[str, np.ndarray]]) -> None:
        db = self._conn()
        if db is None or not items:
            return
        with db:
            db.executemany("INSERT OR REPLACE INTO features (key, tokens, data) VALUES (?, ?, ?)",
                           [(k, a.shape[0], a.tobytes()) for k, a in items])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # ------------------------------------------------------------------ compute
    @torch.no_grad()
    def features(self, windows: Sequence[Window], pad_id: int, description: str = "features") -> list[np.ndarray]:
        """float16 ``(tokens, len(keep), hidden)`` for every window (stored ones read, others computed)."""
        t0 = time.perf_counter()
        keys = [self._key(w) for w in windows]
        unique = list(dict.fromkeys(keys))
        have = {k: self._memory[k] for k in unique if k in self._memory}
        on_disk = self._read([k for k in unique if k not in have])
        self.stats["from_disk"] += len(on_disk)
        have.update(on_disk)
        missing = [k for k in unique if k not in have]
        if missing:
            first = {}
            for w, k in zip(windows, keys):
                first.setdefault(k, w)
            todo = sorted((first[k] for k in missing), key=lambda w: len(w.input_ids))
            enc = self.split.encoder
            was_training = enc.training
            enc.eval()
            try:
                with bar(len(todo), description) as advance:
                    pos = 0
                    while pos < len(todo):
                        n = 1
                        while pos + n < len(todo) and (n + 1) * len(todo[pos + n].input_ids) <= self.batch_tokens:
                            n += 1
                        group = todo[pos:pos + n]
                        ids, mask, _ = collate(group, pad_id)
                        states = self.split.lower(ids.to(self.device), mask.to(self.device), self.keep)
                        stacked = torch.stack([states[layer] for layer in self.keep], dim=2).to("cpu", torch.float16)
                        new = []
                        for b, w in enumerate(group):
                            arr = stacked[b, : len(w.input_ids)].numpy().copy()
                            key = self._key(w)
                            have[key] = arr
                            new.append((key, arr))
                        self._write(new)
                        self.stats["computed"] += len(group)
                        pos += n
                        advance(len(group))
            finally:
                enc.train(was_training)
        self._memory.update(have)
        self.stats["seconds"] += time.perf_counter() - t0
        return [have[k] for k in keys]


def gather(features: Sequence[np.ndarray], keep: Sequence[int], width: int) -> dict[int, torch.Tensor]:
    """A padded float32 batch ``{layer: (batch, width, hidden)}`` from per-window feature arrays."""
    n_layers, hidden = features[0].shape[1], features[0].shape[2]
    buf = np.zeros((len(features), width, n_layers, hidden), dtype=np.float32)
    for b, f in enumerate(features):
        buf[b, : f.shape[0]] = f
    t = torch.from_numpy(buf)
    return {layer: t[:, :, i].contiguous() for i, layer in enumerate(keep)}
