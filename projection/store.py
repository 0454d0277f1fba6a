"""Atomic writes, content hashes and signatures: the reproducibility plumbing.

Every stage output is written to a temporary file in the same folder and renamed into
place (``os.replace`` is atomic on POSIX), so a killed run never leaves a half-written
file that a later run would trust. Stage outputs are keyed by :func:`content_key`, a
hash of everything that produced them; :class:`StageStore` reads and writes them under one
folder, checking each file and recomputing what is damaged.

Over 400 lines because it is the one place for every on-disk guarantee (atomic writes,
locks, checked stage files, signatures); splitting it would spread the same invariants.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Iterator

from projection.errors import ProjectionError
from projection.records import Alignment

logger = logging.getLogger(__name__)


def cache_root() -> Path:
    """``$PROJECTION_CACHE``, else ``~/.cache/projection``: the cache folder shared by all stages."""
    env = os.environ.get("PROJECTION_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "projection"


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace variance: the input of every hash."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def content_key(*parts: Any, length: int = 16) -> str:
    """A short stable hash of JSON-serialisable parts."""
    h = hashlib.sha256()
    for part in parts:
        h.update(canonical_json(part).encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:length]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: str | Path, path: Path) -> None:
    """Give the temporary file the mode a plain ``open`` would (mkstemp makes it 0600), then rename it."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def _cannot_write(path: str | Path, e: OSError) -> ProjectionError:
    return ProjectionError(f"{path}: cannot write ({e.strerror or e})")


def write_target(path: str | Path) -> tuple[Path, bool]:
    """Where a write to ``path`` goes, and whether it can be atomic (by rename).

    A symlink is followed (the link stays, its target is written); a device, FIFO or socket
    (``/dev/null``, ``/dev/stdout``, a named pipe) is written directly, never replaced by a
    regular file; a directory is a :class:`ProjectionError`.
    """
    real = Path(os.path.realpath(path))
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, True
    except OSError as e:
        raise _cannot_write(path, e) from None
    if stat.S_ISDIR(st.st_mode):
        raise ProjectionError(f"{path}: is a directory; give a file name")
    return real, stat.S_ISREG(st.st_mode)


def _existing_ancestor(path: Path) -> Path:
    ancestor = path
    while not ancestor.exists() and not ancestor.is_symlink() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    return ancestor


def _check_ancestor(path: str | Path, p: Path) -> None:
    ancestor = _existing_ancestor(p)
    if ancestor != p and not ancestor.is_dir():
        raise ProjectionError(f"{path}: {ancestor} is a file, not a folder")
    if ancestor != p and not os.access(ancestor, os.W_OK | os.X_OK):
        raise ProjectionError(f"{path}: cannot write into {ancestor} (permission denied)")


def check_output_file(path: str | Path) -> None:
    """Fail now, before any work, when ``path`` cannot be written as a file (a directory, under a
    file, in a read-only folder); a one-line :class:`ProjectionError`."""
    target, regular = write_target(path)
    _check_ancestor(path, target)
    if regular and target.exists() and not os.access(target.parent, os.W_OK | os.X_OK):
        raise ProjectionError(f"{path}: cannot write into {target.parent} (permission denied)")


def check_output_dir(path: str | Path) -> None:
    """Fail now, before any work, when ``path`` cannot be (or become) a folder to write into."""
    p = Path(os.path.realpath(path))
    if p.exists() and not p.is_dir():
        raise ProjectionError(f"{path}: exists and is not a folder (the output must be a run folder)")
    _check_ancestor(path, p)
    if p.exists() and not os.access(p, os.W_OK | os.X_OK):
        raise ProjectionError(f"{path}: cannot write into it (permission denied)")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path, prefix: str, suffix: str = "") -> int:
    """Remove ``folder/{prefix}{pid}.*{suffix}`` files and folders whose process is gone (left by a
    killed run: temporary files of atomic writes, eflomal's scratch folders); returns how many."""
    removed = 0
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(prefix) and e.name.endswith(suffix)]
    except OSError:
        return 0
    for entry in entries:
        pid_text = entry.name[len(prefix):].split(".", 1)[0].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or pid_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
    return removed


def _temp_sibling(path: Path, shown: str | Path) -> str:
    """A new temporary file next to ``path``, named ``.NAME.PID.RANDOM.tmp``; ones a killed process
    left for the same target are removed first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent, f".{path.name}.", ".tmp")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _cannot_write(shown, e) from None
    os.close(fd)
    return tmp


@contextlib.contextmanager
def scratch_dir(kind: str) -> Iterator[Path]:
    """A private temporary folder (``$TMPDIR/projection-KIND-PID-RANDOM``), removed on exit; the
    ones killed processes left behind are removed when the next one is made."""
    root = Path(tempfile.gettempdir())
    remove_stale(root, f"projection-{kind}-")
    path = Path(tempfile.mkdtemp(prefix=f"projection-{kind}-{os.getpid()}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success.

    The one safe-write path of the project (see :func:`write_target`): symlinks are followed,
    special files written in place, and an unwritable target is one clear error."""
    target, regular = write_target(path)
    binary = "b" in mode
    kwargs: dict[str, Any] = {} if binary else {"encoding": encoding, "newline": ""}
    if not regular:
        try:
            f = open(target, mode, **kwargs)
        except OSError as e:
            raise _cannot_write(path, e) from None
        with f:
            yield f
        return
    tmp = _temp_sibling(target, path)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            _publish(tmp, target)
        except OSError as e:
            raise _cannot_write(path, e) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path to hand to a library writer (e.g. pyarrow); renamed to ``path`` on success
    (copied into it when ``path`` is a device or FIFO, see :func:`write_target`)."""
    target, regular = write_target(path)
    tmp = _temp_sibling(target if regular else Path(tempfile.gettempdir()) / target.name, path)
    try:
        yield Path(tmp)
        try:
            if regular:
                _publish(tmp, target)
            else:
                with open(tmp, "rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        except OSError as e:
            raise _cannot_write(path, e) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "run") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``folder/.lock``, ``flock``) for the duration: a
    second writer gets a :class:`ProjectionError` naming the holder's pid instead of silently
    interleaving its files. The kernel releases the lock when the holder dies, even by ``kill -9``."""
    import fcntl

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
    except OSError as e:
        raise _cannot_write(folder, e) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise ProjectionError(f"{folder}: another {what} (pid {holder}) is writing into it; wait for it to "
                              "finish or choose another output folder") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --------------------------------------------------------------------------- checked stage files

STAGE_FORMAT = 1


class StageFileError(Exception):
    """A stage file that cannot be trusted (truncated, short, junk, or of an older format): the
    reason says which; the caller discards the file and recomputes the stage."""


def _stage_header(rows: int, digest: str) -> dict[str, Any]:
    return {"projection_stage": STAGE_FORMAT, "rows": rows, "sha256": digest}


def _check_header(header: Any, what: str) -> tuple[int, str]:
    if not (isinstance(header, dict) and header.get("projection_stage") == STAGE_FORMAT
            and isinstance(header.get("rows"), int) and isinstance(header.get("sha256"), str)):
        raise StageFileError(f"no stage header ({what}: written by an older version, or not a stage file)")
    return header["rows"], header["sha256"]


def write_stage_jsonl(path: str | Path, rows: Any) -> None:
    """Rows as JSON lines after a header line that carries their count and the SHA-256 of the body."""
    body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    n = body.count(b"\n")
    header = json.dumps(_stage_header(n, hashlib.sha256(body).hexdigest())).encode("utf-8") + b"\n"
    with atomic_open(path, "wb") as f:
        f.write(header)
        f.write(body)


def read_stage_jsonl(path: str | Path, expected: int | None = None) -> list[Any]:
    """The rows of a file of :func:`write_stage_jsonl`; :class:`StageFileError` when the header,
    the row count (also against ``expected``) or the checksum does not match."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise StageFileError(f"unreadable ({e.strerror or e})") from None
    first, sep, body = data.partition(b"\n")
    try:
        header = json.loads(first) if sep else None
    except (ValueError, RecursionError):
        header = None
    n, digest = _check_header(header, "first line")
    got = body.count(b"\n")
    if got != n or not body.endswith(b"\n") and body:
        raise StageFileError(f"{got} rows of the {n} its header announces (truncated)")
    if hashlib.sha256(body).hexdigest() != digest:
        raise StageFileError("checksum mismatch (the file was changed or damaged)")
    if expected is not None and n != expected:
        raise StageFileError(f"{n} rows, {expected} expected")
    try:
        return [json.loads(line) for line in body.decode("utf-8").split("\n")[:-1]]
    except (ValueError, RecursionError) as e:
        raise StageFileError(f"bad JSON ({e})") from None


def _arrays_digest(arrays: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_stage_npz(path: str | Path, arrays: dict[str, Any], rows: int) -> None:
    """Numpy arrays in one ``.npz`` with a ``_stage`` header array: the row count and a SHA-256 of the arrays."""
    import numpy as np

    header = json.dumps(_stage_header(rows, _arrays_digest(arrays)))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, _stage=np.array(header), **arrays)


def read_stage_npz(path: str | Path, expected: int | None = None) -> dict[str, Any]:
    """The arrays of a file of :func:`write_stage_npz` (header checked), else :class:`StageFileError`."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except Exception as e:  # noqa: BLE001 - numpy/zipfile raise many types on junk; all mean "damaged"
        raise StageFileError(f"not a readable .npz ({type(e).__name__}: {str(e)[:120]})") from None
    try:
        header = json.loads(str(arrays.pop("_stage")))
    except (KeyError, ValueError):
        header = None
    n, digest = _check_header(header, "no _stage array")
    if _arrays_digest(arrays) != digest:
        raise StageFileError("checksum mismatch (the file was changed or damaged)")
    if expected is not None and n != expected:
        raise StageFileError(f"{n} rows, {expected} expected")
    return arrays


def encode_alignments(aligns: Sequence[Alignment], sims: Sequence[Any] | None) -> dict[str, Any]:
    """Alignments (and similarity matrices, as float16) as flat arrays for :func:`write_stage_npz`."""
    import numpy as np

    links = [sorted(a.links) for a in aligns]
    offsets = np.zeros(len(links) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(x) for x in links])
    flat = np.array([p for x in links for p in x], dtype=np.int32).reshape(-1, 2)
    arrays: dict[str, Any] = {"links": flat, "link_offsets": offsets}
    if sims is not None:
        arrays["sim_shapes"] = np.array([s.shape for s in sims], dtype=np.int64).reshape(-1, 2)
        arrays["sim_data"] = (np.concatenate([s.astype(np.float16).ravel() for s in sims])
                              if sims else np.zeros(0, dtype=np.float16))
    return arrays


def decode_alignments(arrays: dict[str, Any], expected: int | None = None) -> tuple[list[Alignment], list[Any] | None]:
    """The inverse of :func:`encode_alignments` (similarities as float32); :class:`StageFileError`
    when the arrays do not fit together."""
    import numpy as np

    try:
        offsets = arrays["link_offsets"]
        links = arrays["links"]
        if expected is not None and len(offsets) - 1 != expected:
            raise StageFileError(f"{len(offsets) - 1} alignments, {expected} expected")
        aligns = [Alignment(frozenset(map(tuple, links[offsets[k]:offsets[k + 1]].tolist())))
                  for k in range(len(offsets) - 1)]
        sims = None
        if "sim_shapes" in arrays:
            data = arrays["sim_data"].astype(np.float32)
            sims, pos = [], 0
            for m, n in arrays["sim_shapes"].tolist():
                sims.append(data[pos:pos + m * n].reshape(m, n))
                pos += m * n
    except (KeyError, ValueError, IndexError) as e:
        raise StageFileError(f"inconsistent arrays ({type(e).__name__}: {e})") from None
    return aligns, sims


class StageStore:
    """Content-addressed stage outputs under one folder (``RUN_DIR/stages``).

    Every file carries its row count and a checksum (:func:`write_stage_jsonl`,
    :func:`write_stage_npz`); a short, truncated, junk or older-format file is named in the
    log, deleted and reported missing, so the stage is recomputed. ``.jsonl`` names hold rows,
    ``.npz`` names arrays.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / name

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def discard(self, name: str, err: StageFileError) -> None:
        """Name a damaged file in the log and delete it."""
        path = self.path(name)
        logger.warning(f"note: {path}: damaged stage file ({err}); discarded, the stage is recomputed")
        with contextlib.suppress(OSError):
            path.unlink()

    def read(self, name: str, expected: int | None = None) -> Any:
        """The stored rows (``.jsonl``) or arrays (``.npz``), or None when absent or damaged (then deleted)."""
        path = self.path(name)
        if not path.exists():
            return None
        try:
            return read_stage_npz(path, expected) if name.endswith(".npz") else read_stage_jsonl(path, expected)
        except StageFileError as e:
            self.discard(name, e)
            return None

    def write(self, name: str, data: Any, rows: int | None = None) -> None:
        """Rows (``.jsonl``) or arrays (``.npz``, ``rows`` = how many items they hold)."""
        if name.endswith(".npz"):
            write_stage_npz(self.path(name), data, rows=int(rows or 0))
        else:
            write_stage_jsonl(self.path(name), data)

    def read_jsonl(self, name: str, expected: int | None = None) -> list[Any] | None:
        return self.read(name, expected)

    def write_jsonl(self, name: str, rows: Sequence[Any]) -> None:
        self.write(name, rows)

    def read_alignments(self, name: str, expected: int | None = None
                        ) -> tuple[list[Alignment], list[Any] | None] | None:
        arrays = self.read(name, expected)
        if arrays is None:
            return None
        try:
            return decode_alignments(arrays, expected)
        except StageFileError as e:
            self.discard(name, e)
            return None

    def write_alignments(self, name: str, aligns: Sequence[Alignment], sims: Sequence[Any] | None) -> None:
        self.write(name, encode_alignments(aligns, sims), rows=len(aligns))


@functools.lru_cache(maxsize=None)
def _module_code(name: str) -> str:
    """The code of one module as a normalised AST dump: comments, docstrings and layout do not count."""
    import ast
    import importlib

    path = getattr(importlib.import_module(name), "__file__", None)
    if not path:
        return name
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            body[:1] = [] if len(body) > 1 else [ast.Pass()]
    return ast.dump(tree)


def code_hash(*modules: str) -> str:
    """A short hash of the code of ``modules`` (dotted names), part of every engine's signature
    (translators, aligners, projectors): a changed implementation never reuses stage outputs or
    translations cached by the previous one, while an edit to a comment or docstring does not
    throw them away."""
    h = hashlib.sha256()
    for name in modules:
        h.update(name.encode("utf-8") + b"\0" + _module_code(name).encode("utf-8") + b"\0")
    return h.hexdigest()[:12]


_MODEL_MARKERS = ("config.json", "tokenizer_config.json", "tokenizer.json", "model.bin")


def check_model_folder(name: str | Path, what: str = "model") -> None:
    """A local folder given as a model must hold one (``config.json``, a tokenizer, a CTranslate2
    ``model.bin``); otherwise one clear line now, instead of a library's guess (sentencepiece,
    tiktoken, ``model_type``) deep inside loading. Hub names (not folders) pass."""
    p = Path(name)
    if not p.is_dir() or any((p / m).is_file() for m in _MODEL_MARKERS):
        return
    entries = sorted(x.name for x in p.iterdir())
    held = "the folder is empty" if not entries else "it holds " + ", ".join(entries[:5]) + (" …" if len(entries) > 5 else "")
    raise ProjectionError(f"{name}: not a {what} folder (no config.json or tokenizer files; {held})")


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (``"not installed"`` when absent)."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def signature_string(sig: dict[str, Any]) -> str:
    """A one-line, sacrebleu-style rendering of a signature: ``key:value|key:value``."""
    parts = []
    for key in sorted(sig):
        value = sig[key]
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
        parts.append(f"{key}:{value}")
    return "|".join(parts)
