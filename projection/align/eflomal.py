"""``eflomal``: a Bayesian IBM-style aligner (Östling & Tiedemann 2016), via the eflomal package.

eflomal learns its lexical, distortion and fertility models from the very text it
aligns, so alignment quality grows with the amount of parallel text: a few hundred pairs
(e.g. one test set) are too few. ``extra_pairs`` appends more parallel text (any
(source words, target words) pairs of the same language pair) to the training input;
only the alignments of the requested pairs are returned.

eflomal runs both directions in one call (forward: each target word gets at most one
source word; reverse: each source word at most one target word); the two are combined
with :func:`projection.align.symmetrize.symmetrize` (default ``grow-diag-final-and``).
eflomal lower-cases every token itself and has no random seed, so two runs can differ
slightly.

Tokens are the caller's words: whitespace inside a word is replaced by ``_`` (eflomal
splits lines on whitespace) so that word indices are kept; an empty side yields no links.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

from projection.align.base import Pair, check_pairs
from projection.align.symmetrize import canonical_method, symmetrize_all
from projection.errors import ProjectionError
from projection.progress import bar
from projection.records import Alignment
from projection.store import scratch_dir


def _token(word: str) -> str:
    if not word:
        return "_"
    if any(ch.isspace() for ch in word):
        return "".join("_" if ch.isspace() else ch for ch in word)
    return word


def _line(words: Sequence[str]) -> str:
    return " ".join(_token(w) for w in words)


def _read_links(path: Path, n: int, what: str) -> list[Alignment]:
    lines = path.read_text(encoding="utf-8").split("\n")
    if len(lines) < n:
        raise ProjectionError(f"eflomal wrote {len(lines)} {what} alignments for {n} pairs")
    return [Alignment.from_pharaoh(line) for line in lines[:n]]


_ROUTE_LOCK = threading.Lock()


@contextlib.contextmanager
def _routed(tmp: Path) -> Iterator[None]:
    """Point the eflomal package's temporary files at ``tmp`` (a scratch folder that a later run
    removes if this one is killed) and run its binary through :func:`projection.procs.run` (its own
    process group, killed with this process)."""
    import eflomal
    import eflomal.cython as ecy

    from projection.procs import subprocess_shim

    with _ROUTE_LOCK:
        saved = eflomal.NamedTemporaryFile, ecy.NamedTemporaryFile, ecy.subprocess
        temp = functools.partial(tempfile.NamedTemporaryFile, dir=tmp)
        eflomal.NamedTemporaryFile, ecy.NamedTemporaryFile, ecy.subprocess = temp, temp, subprocess_shim
        try:
            yield
        finally:
            eflomal.NamedTemporaryFile, ecy.NamedTemporaryFile, ecy.subprocess = saved


class EflomalAligner:
    """eflomal in both directions, then symmetrisation.

    Parameters: ``symmetrization`` (see :mod:`projection.align.symmetrize`),
    ``extra_pairs`` (more parallel text to learn from; not returned), ``model`` (1 = IBM1,
    2 = +HMM, 3 = +fertility), ``n_iterations`` (3-tuple, else ``rel_iterations`` scales
    eflomal's defaults), ``n_samplers``, ``null_prior``, and the stemming options
    ``source_prefix_len``/``source_suffix_len``/``target_prefix_len``/``target_suffix_len``.
    """

    name = "eflomal"

    def __init__(self, symmetrization: str = "grow-diag-final-and", extra_pairs: Sequence[Pair] | None = None,
                 model: int = 3, n_iterations: tuple[int, int, int] | None = None, rel_iterations: float = 1.0,
                 n_samplers: int = 3, null_prior: float = 0.2, source_prefix_len: int = 0, source_suffix_len: int = 0,
                 target_prefix_len: int = 0, target_suffix_len: int = 0):
        if model not in (1, 2, 3):
            raise ProjectionError(f"eflomal model must be 1, 2 or 3, got {model!r}")
        self.symmetrization = canonical_method(symmetrization)
        self.extra_pairs = check_pairs(extra_pairs or [], "extra pair")
        self.options = {
            "model": model, "n_iterations": tuple(n_iterations) if n_iterations else None,
            "rel_iterations": float(rel_iterations), "n_samplers": int(n_samplers), "null_prior": float(null_prior),
            "source_prefix_len": source_prefix_len, "source_suffix_len": source_suffix_len,
            "target_prefix_len": target_prefix_len, "target_suffix_len": target_suffix_len,
        }
        self._extra_key: str | None = None

    def signature(self) -> dict[str, Any]:
        from projection.store import code_hash, content_key, package_versions

        if self._extra_key is None:
            self._extra_key = content_key([[_line(s), _line(t)] for s, t in self.extra_pairs])
        return {
            "engine": "eflomal",
            "symmetrization": self.symmetrization,
            "extra_pairs": len(self.extra_pairs),
            "extra_pairs_key": self._extra_key,
            **{k: v for k, v in self.options.items()},
            "seeded": False,
            "versions": package_versions("eflomal"),
            "code": code_hash(__name__, "projection.align.base", "projection.align.symmetrize"),
        }

    def align_directions(self, pairs: Sequence[Pair]) -> tuple[list[Alignment], list[Alignment]]:
        """Forward and reverse alignments (both in source-target orientation), before symmetrisation."""
        import eflomal

        checked = check_pairs(pairs)
        if not checked:
            return [], []
        train = checked + self.extra_pairs
        opts = self.options
        aligner = eflomal.Aligner(
            model=opts["model"], n_iterations=opts["n_iterations"], n_samplers=opts["n_samplers"],
            rel_iterations=opts["rel_iterations"], null_prior=opts["null_prior"],
            source_prefix_len=opts["source_prefix_len"], source_suffix_len=opts["source_suffix_len"],
            target_prefix_len=opts["target_prefix_len"], target_suffix_len=opts["target_suffix_len"],
        )
        with scratch_dir("eflomal") as tmp, _routed(tmp), \
                bar(1, f"eflomal: {len(checked):,} pairs + {len(self.extra_pairs):,} extra") as advance:
            fwd_path, rev_path = Path(tmp) / "fwd", Path(tmp) / "rev"
            aligner.align([_line(s) for s, _ in train], [_line(t) for _, t in train],
                          links_filename_fwd=str(fwd_path), links_filename_rev=str(rev_path), quiet=True)
            fwd = _read_links(fwd_path, len(checked), "forward")
            rev = _read_links(rev_path, len(checked), "reverse")
            advance(1)
        for k, (a, (s, t)) in enumerate(zip(fwd, checked)):
            if any(i >= len(s) or j >= len(t) for i, j in a.links):
                raise ProjectionError(f"eflomal returned a link out of range for pair {k}")
        return fwd, rev

    def align(self, pairs: Sequence[Pair]) -> list[Alignment]:
        """Symmetrised alignments (0-based word indices), one per pair."""
        fwd, rev = self.align_directions(pairs)
        return symmetrize_all(fwd, rev, self.symmetrization)

    def __repr__(self) -> str:
        return f"EflomalAligner(symmetrization={self.symmetrization!r}, extra_pairs={len(self.extra_pairs)})"
