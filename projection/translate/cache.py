"""A content-addressed translation cache (sqlite in WAL mode) and the caching wrapper.

Translating CoNLL-2003 with NLLB takes hours on a CPU; a run that is interrupted (Ctrl-C,
a killed job, SIGKILL) must not start over. Every translation is stored under
``key = sha256(engine signature + languages + source text)``: the signature names the
engine, model fingerprint, decoding options and package versions, so a different model
or beam size never reuses a stale translation, while the same command run again (or a
different corpus sharing sentences) translates only what is missing.

Work is done in chunks that are committed one by one, so a kill loses at most the chunk
in flight. Chunks are formed from *all* unique sentences of a call (sorted by length),
not only the missing ones, so a resumed run hands the engine exactly the batches an
uninterrupted run would have: the output is byte-identical even for engines whose
numerics depend on batch composition.

Location: ``$PROJECTION_CACHE`` (default ``~/.cache/projection``), file
``translations.sqlite``. WAL lets several processes read while one writes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Any

from projection.errors import ProjectionError
from projection.store import cache_root, canonical_json
from projection.translate.text import clean_text

DEFAULT_CHUNK = 64


def signature_key(translator: Any) -> str:
    """The hash of everything that determines a translator's output (languages included)."""
    sig = translator.signature()
    parts = {"signature": sig, "src": translator.src_lang, "tgt": translator.tgt_lang}
    return hashlib.sha256(canonical_json(parts).encode("utf-8")).hexdigest()


def text_key(sig_key: str, text: str) -> str:
    return hashlib.sha256(f"{sig_key}\0{text}".encode("utf-8")).hexdigest()[:40]


class TranslationCache:
    """Key -> translation store; one sqlite file, safe for concurrent processes."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory).expanduser() if directory else cache_root()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ProjectionError(f"cannot create the cache folder {self.directory}: {e.strerror}") from None
        self.path = self.directory / "translations.sqlite"
        self._db = sqlite3.connect(self.path, timeout=120, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable against process kills; WAL keeps it consistent
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS translations ("
            " key TEXT PRIMARY KEY, translation TEXT NOT NULL, engine TEXT NOT NULL, created REAL NOT NULL)"
        )
        # results of cheap-but-not-free deterministic steps (detokenisation of a corpus), keyed the same way
        self._db.execute("CREATE TABLE IF NOT EXISTS memo (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        step = 30000  # below SQLITE_MAX_VARIABLE_NUMBER (32766 since sqlite 3.32; 999 before)
        i = 0
        while i < len(keys):
            part = keys[i : i + step]
            q = f"SELECT key, translation FROM translations WHERE key IN ({','.join('?' * len(part))})"
            try:
                found.update(self._db.execute(q, part).fetchall())
            except sqlite3.OperationalError as e:
                if "too many" not in str(e) or step <= 900:
                    raise
                step = 900
                continue
            i += len(part)
        return found

    def put_many(self, items: list[tuple[str, str]], engine: str) -> None:
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO translations (key, translation, engine, created) VALUES (?, ?, ?, ?)",
                [(k, v, engine, now) for k, v in items],
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def memo_get(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = f"SELECT key, value FROM memo WHERE key IN ({','.join('?' * len(part))})"
            found.update(self._db.execute(q, part).fetchall())
        return found

    def memo_put(self, items: list[tuple[str, str]]) -> None:
        if not items:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO memo (key, value) VALUES (?, ?)", items)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def __getstate__(self) -> dict[str, Any]:  # picklable (e.g. sent to a worker process): reopen there
        return {"directory": str(self.directory)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"])  # type: ignore[misc]

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class CachedTranslator:
    """Wrap a translator with the cache, chunked work and a progress bar.

    ``translate(texts)`` returns exactly what the wrapped engine would; afterwards
    ``last_stats`` tells how the lines were served: ``lines``, ``empty`` (blank inputs,
    translated to ``""`` without the engine), ``cached``, ``translated`` (lines), ``unique``
    and ``unique_translated`` (distinct sentences sent to the engine) and ``seconds``.
    With ``cache_dir=False``, or for engines that are not cacheable (``given``), nothing is
    stored but chunking and progress stay the same.
    """

    def __init__(self, translator: Any, cache_dir: str | Path | None | bool = None, chunk_size: int | None = None,
                 progress: bool = True):
        self.inner = translator
        self.enabled = cache_dir is not False and getattr(translator, "cacheable", True)
        self.cache = TranslationCache(None if cache_dir in (None, True) else cache_dir) if self.enabled else None
        self.chunk_size = int(chunk_size or getattr(translator, "chunk_size", DEFAULT_CHUNK) or DEFAULT_CHUNK)
        self.progress = progress
        self.last_stats: dict[str, Any] = {}
        self._sig_key: str | None = None

    def __getattr__(self, name: str) -> Any:  # name, src_lang, tgt_lang, marker_style, ...
        if name == "inner":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def signature(self) -> dict[str, Any]:
        return self.inner.signature()

    def translate(self, texts: list[str]) -> list[str]:
        from projection.progress import bar

        t0 = time.perf_counter()
        texts = list(texts)
        cleaned = [clean_text(t) for t in texts]
        empty = sum(1 for t in cleaned if not t)
        engine = getattr(self.inner, "name", type(self.inner).__name__)
        desc = f"{engine} {self.inner.src_lang}->{self.inner.tgt_lang}"

        if not getattr(self.inner, "cacheable", True):
            # Position-dependent engines (given translations) see the whole list at once.
            out = self.inner.translate(texts)
            self.last_stats = {**(getattr(self.inner, "last_stats", None) or {}),  # e.g. given's repaired marks
                               "lines": len(texts), "empty": empty, "cached": 0, "translated": len(texts) - empty,
                               "unique": len(set(cleaned) - {""}), "unique_translated": len(set(cleaned) - {""}),
                               "seconds": time.perf_counter() - t0}
            return out

        unique = sorted(set(cleaned) - {""}, key=lambda t: (len(t), t))
        result: dict[str, str] = {}
        keys: dict[str, str] = {}
        if self.cache is not None:
            if self._sig_key is None:
                self._sig_key = signature_key(self.inner)
            keys = {t: text_key(self._sig_key, t) for t in unique}
            stored = self.cache.get_many(list(keys.values()))
            result = {t: stored[k] for t, k in keys.items() if k in stored}
        cached_unique = set(result)
        missing_total = len(unique) - len(cached_unique)
        chunks = [unique[i : i + self.chunk_size] for i in range(0, len(unique), self.chunk_size)]
        label = f"{desc} ({len(cached_unique):,} cached)" if cached_unique else desc
        with bar(missing_total if self.progress else 0, label) as advance:
            for chunk in chunks:
                todo = [t for t in chunk if t not in result]
                if not todo:
                    continue
                out = self.inner.translate(todo)
                if len(out) != len(todo):
                    raise ProjectionError(f"{engine}: {len(out)} translations for {len(todo)} inputs")
                pairs = list(zip(todo, (clean_text(o) for o in out)))
                result.update(pairs)
                if self.cache is not None:
                    self.cache.put_many([(keys[t], o) for t, o in pairs], engine)
                advance(len(todo))
        lines_cached = sum(1 for t in cleaned if t and t in cached_unique)
        self.last_stats = {
            "lines": len(texts), "empty": empty, "cached": lines_cached,
            "translated": len(texts) - empty - lines_cached, "unique": len(unique),
            "unique_translated": missing_total, "seconds": time.perf_counter() - t0,
        }
        return [result[t] if t else "" for t in cleaned]


def cached(translator: Any, cache_dir: str | Path | None | bool = None, chunk_size: int | None = None,
           progress: bool = True) -> CachedTranslator:
    """``translator`` with the translation cache (``cache_dir=False``: no cache, same interface)."""
    if isinstance(translator, CachedTranslator):
        return translator
    return CachedTranslator(translator, cache_dir=cache_dir, chunk_size=chunk_size, progress=progress)
