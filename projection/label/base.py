"""The labelling stage's record, protocol and the decoding shared by its engines.

A labeller tags word-tokenised (English) sentences with named entities and says how sure
it is of each: ``label(sentences) -> one list of LabelledSpan per sentence``. Engines give
per-word tag distributions; :func:`decode` turns them into spans:

* the tag of a word is its most probable one, the sequence repaired to IOB2 (an ``I-X``
  after ``O`` starts an entity, as everywhere in this project); or, with the option
  ``decode = "bio"`` of every engine, the most probable valid IOB2 sequence
  (:mod:`projection.decoding`: an ``I-X`` only after ``B-X`` or ``I-X``);
* the confidence of a span is the mean over its words of the probability mass of its label
  (``B-X`` plus ``I-X``, so a B/I hesitation inside a name does not count as doubt).

``label_map`` (an option of every engine) renames labels or drops them (``{"MISC": "O"}``)
after decoding, so an English model with more labels than the target's gold can be used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from projection.decoding import check as check_decoder, decode as decode_scores, transitions
from projection.errors import ProjectionError
from projection.records import Span
from projection.tags import tags_to_spans

_TAG = re.compile(r"^([BIES])-(.+)$")
_GENERIC = re.compile(r"^LABEL_\d+$")


@dataclass(frozen=True, slots=True)
class LabelledSpan:
    """An entity over words ``[start, end)`` with a label and the labeller's confidence in [0, 1]."""

    start: int
    end: int
    label: str
    confidence: float

    @property
    def span(self) -> Span:
        return Span(self.start, self.end, self.label)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label, "confidence": round(float(self.confidence), 6)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LabelledSpan":
        return cls(int(d["start"]), int(d["end"]), str(d["label"]), float(d["confidence"]))


@runtime_checkable
class Labeller(Protocol):
    """Tags word-tokenised sentences with entities and their confidence."""

    name: str

    def label(self, sentences: Sequence[Sequence[str]]) -> list[list[LabelledSpan]]:
        """One list of spans (in word order, not overlapping) per sentence."""
        ...

    def signature(self) -> dict[str, Any]:
        """What determines the labels (engine, model weights hash, options): part of cache keys."""
        ...


def normalise_tags(names: Sequence[str], where: str) -> list[str]:
    """A model's tag names as IOB2 tags: ``B-X``/``I-X``/``O`` kept, IOBES ``S-X``/``E-X`` read as
    ``B-X``/``I-X``, a bare ``X`` as ``I-X``. Generic names (``LABEL_0``...) are an error: the model
    folder does not say which entity each output is."""
    if not names:
        raise ProjectionError(f"{where}: no labels (id2label) naming the tags (B-PER, I-PER, O, ...)")
    if all(_GENERIC.match(n) for n in names):
        raise ProjectionError(f"{where}: the model's labels are {', '.join(names[:4])}...: its config.json has no "
                              "id2label naming the tags (B-PER, I-PER, O, ...)")
    out = []
    for name in names:
        name = str(name)
        if name.upper() == "O":
            out.append("O")
            continue
        m = _TAG.match(name)
        if m:
            prefix = {"S": "B", "E": "I"}.get(m.group(1), m.group(1))
            out.append(f"{prefix}-{m.group(2)}")
        else:
            out.append(f"I-{name}")
    return out


def check_label_map(label_map: Mapping[str, str] | None, where: str) -> dict[str, str]:
    """``{label: new label or "O"}`` validated: strings only."""
    if label_map is None:
        return {}
    if not isinstance(label_map, Mapping) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                      for k, v in label_map.items()):
        raise ProjectionError(f"{where}: label_map must be a table of label = new label (or \"O\" to drop), "
                              f"not {label_map!r}")
    return {k: v.strip() for k, v in label_map.items()}


def check_decode(mode: str, where: str, tags: Sequence[str] | None = None) -> str:
    """``mode`` if it is one of :data:`projection.decoding.DECODERS` (and, for ``bio``, ``tags`` when given
    are IOB2 tags with a ``B-`` for every ``I-``), else a clear error naming ``where``."""
    check_decoder(mode, f"{where}: [label] decode")
    if mode == "bio" and tags is not None:
        try:
            transitions(tags)
        except ProjectionError as e:
            raise ProjectionError(f"{where}: [label] decode = \"bio\": {e}") from None
    return mode


def decode(tags: Sequence[str], proba: np.ndarray, label_map: Mapping[str, str] | None = None,
           mode: str = "argmax") -> list[LabelledSpan]:
    """Spans and confidences of one sentence from its ``(words, tags)`` probabilities (see the module doc);
    ``mode`` is the decoder (``argmax`` or ``bio``, :mod:`projection.decoding`)."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != len(tags):
        raise ValueError(f"probabilities of shape {proba.shape} for {len(tags)} tags")
    if len(proba) == 0:
        return []
    with np.errstate(divide="ignore"):  # a tag of probability 0 scores -inf: never on the best path
        best = decode_scores(np.log(proba), tags, mode)
    mass: dict[str, np.ndarray] = {}
    for k, tag in enumerate(tags):
        if tag != "O":
            lab = tag[2:]
            mass[lab] = mass.get(lab, 0) + proba[:, k]
    out = []
    for sp in tags_to_spans(best):
        conf = float(np.clip(mass[sp.label][sp.start:sp.end].mean(), 0.0, 1.0))
        label = (label_map or {}).get(sp.label, sp.label)
        if label != "O":
            out.append(LabelledSpan(sp.start, sp.end, label, conf))
    return out


def weights_hash(folder: str | Path, names: Sequence[str]) -> str:
    """SHA-256 (16 hex digits) of the first of ``names`` present in ``folder`` (the model's weights);
    without any of them, of every file in the folder (a spaCy model is a folder of small files)."""
    from projection.store import content_key, file_sha256

    folder = Path(folder)
    for name in names:
        path = folder / name
        if path.is_file():
            return file_sha256(path)[:16]
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "eval" not in p.relative_to(folder).parts[:1])
    if not files:
        raise ProjectionError(f"{folder}: no model files ({' or '.join(names)})")
    return content_key([[str(p.relative_to(folder)), file_sha256(p)] for p in files])
