"""Word-alignment stage: sentence pairs in, word alignments (0-based index pairs) out.

Engines (``aligners.create(name, **options)``):

* ``embed`` - SimAlign's embedding aligner (argmax / itermax / match) over any encoder,
  batched; also gives word-level similarity matrices (:mod:`projection.align.embed`).
* ``eflomal`` - the eflomal statistical aligner, both directions, symmetrised
  (:mod:`projection.align.eflomal`).

Shared parts: :func:`~projection.align.symmetrize.symmetrize` (intersection, union,
grow-diag, grow-diag-final(-and)), :mod:`~projection.align.metrics` (precision, recall,
AER; gold readers) and :mod:`~projection.align.io` (pair files, Pharaoh output).
"""

from __future__ import annotations

from projection.align.base import Aligner, Pair, check_pairs
from projection.registry import Registry

aligners: Registry = Registry("aligner")
aligners.add("embed", "projection.align.embed:EmbedAligner")
aligners.add("eflomal", "projection.align.eflomal:EflomalAligner")

__all__ = ["Aligner", "Pair", "aligners", "check_pairs"]
