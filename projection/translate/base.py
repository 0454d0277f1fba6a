"""The translator protocol and helpers shared by the engines.

A translator turns a list of source sentences into the same number of target sentences,
in order: ``translate(texts) -> list[str]``. That one-in-one-out guarantee is what lets a
corpus of 14,041 CoNLL sentences come back as exactly 14,041 lines, which the alignment
and projection stages rely on; every engine checks it and never returns a line break
inside a translation. ``signature()`` describes everything that determines the output
(engine, model and its fingerprint, decoding options, package versions); it goes into
run manifests and into the translation cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from projection.devices import default_threads  # noqa: F401 (the engines import it from here)
from projection.errors import ProjectionError
from projection.fingerprint import folder_fingerprint, hub_fingerprint, model_fingerprint  # noqa: F401 (the engines' one model identity)
from projection.translate.text import clean_text


@runtime_checkable
class Translator(Protocol):
    """What every translation engine provides.

    Attributes: ``name`` (registry name), ``src_lang`` and ``tgt_lang`` (as given),
    ``marker_style`` (``"html"`` or ``"brackets"``: which entity markers the engine
    carries through translation, see :mod:`projection.translate.markers`), and
    ``cacheable`` (False for engines whose output depends on the position of a sentence
    in the input, such as ``given``).
    """

    name: str
    src_lang: str
    tgt_lang: str
    marker_style: str
    cacheable: bool

    def translate(self, texts: list[str]) -> list[str]:
        """Translate ``texts`` in order; exactly one output per input, no line breaks."""
        ...

    def signature(self) -> dict[str, Any]:
        """Everything that determines the output; stable across runs and machines."""
        ...


def check_one_per_input(texts: Sequence[str], out: Sequence[str], engine: str) -> list[str]:
    """Enforce the one-line-per-input contract on an engine's raw output."""
    if len(out) != len(texts):
        raise ProjectionError(f"{engine}: got {len(out)} translations for {len(texts)} inputs (engine bug)")
    return [clean_text(t) for t in out]


def token_batches(lengths: Sequence[int], budget: int, max_sentences: int = 256) -> list[list[int]]:
    """Indices grouped into batches sorted by length, each within a padded-token budget.

    Sorting by length means little padding; a batch holds sentences while
    ``len(batch) * longest <= budget`` (at least one sentence per batch), which keeps
    memory bounded however long the longest sentence is.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    cur: list[int] = []
    longest = 0
    for i in order:
        n = max(1, lengths[i])
        if cur and ((len(cur) + 1) * max(longest, n) > budget or len(cur) >= max_sentences):
            batches.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        batches.append(cur)
    return batches


def translate_nonempty(texts: list[str], fn: Callable[[list[str]], list[str]]) -> list[str]:
    """Apply ``fn`` to the non-empty cleaned inputs only; empty inputs translate to ``""``."""
    cleaned = [clean_text(t) for t in texts]
    idx = [i for i, t in enumerate(cleaned) if t]
    out = [""] * len(texts)
    if idx:
        res = fn([cleaned[i] for i in idx])
        if len(res) != len(idx):
            raise ProjectionError(f"engine returned {len(res)} translations for {len(idx)} inputs")
        for i, r in zip(idx, res):
            out[i] = clean_text(r)
    return out


