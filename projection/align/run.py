"""File-level alignment: read pairs, align with a registered engine, write Pharaoh lines.

This is what ``projection align`` calls; it is just as usable from Python::

    from projection.align.run import align_file
    align_file("embed", "pairs.txt", "pairs.align", {"model": "models/e5-small", "layer": 8})
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from projection.align import aligners
from projection.align.io import read_pairs, write_pharaoh
from projection.errors import ProjectionError


def create_aligner(name: str, options: dict[str, Any] | None = None):
    """``aligners.create`` with a clear error for an option the engine does not take."""
    try:
        return aligners.create(name, **(options or {}))
    except TypeError as e:
        msg = str(e)
        if "unexpected keyword argument" in msg:
            bad = msg.rsplit("argument", 1)[1].strip(" '\"")
            raise ProjectionError(f"aligner {name!r} has no option {bad!r}") from None
        raise


def align_file(aligner: str, input: str | Path, output: str | Path, options: dict[str, Any] | None = None, *,
               extra: Sequence[str | Path] = (), lowercase: bool = False) -> dict[str, Any]:
    """Align the pairs of ``input`` (``src ||| tgt`` lines or JSONL) into ``output`` (Pharaoh).

    ``extra`` files (same formats) are extra parallel text for engines that learn from
    text (eflomal's ``extra_pairs``); ``lowercase`` lower-cases input and extra text.
    Returns a summary: pairs, links, seconds (alignment including model loading),
    pairs_per_second, output, signature; for engines that count them (``embed``),
    windowed_sentences: sentences longer than the encoder's input limit, encoded in windows.
    """
    opts = dict(options or {})
    pairs = read_pairs(input, lowercase=lowercase)
    if extra:
        extra_pairs = [p for path in extra for p in read_pairs(path, lowercase=lowercase)]
        opts["extra_pairs"] = list(opts.get("extra_pairs") or []) + extra_pairs
    engine = create_aligner(aligner, opts)
    start = time.perf_counter()
    alignments = engine.align(pairs)
    seconds = time.perf_counter() - start
    write_pharaoh(alignments, output)
    summary = {
        "output": str(output),
        "pairs": len(pairs),
        "links": sum(len(a) for a in alignments),
        "seconds": seconds,
        "pairs_per_second": len(pairs) / seconds if seconds > 0 else None,
        "signature": engine.signature(),
    }
    stats = getattr(engine, "stats", None)
    if isinstance(stats, dict) and "windowed_sentences" in stats:
        summary["windowed_sentences"] = stats["windowed_sentences"]
    return summary
