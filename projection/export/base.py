"""What an export writes: the sentences of a run kept under the export's selection, split.

:func:`load_run_data` reads a run directory through :mod:`projection.rundir` (``manifest.json``
and ``projections.jsonl``: every source sentence with its entities, statuses and scores), so
the selection can be re-decided at export time from the stored statuses:

* with neither ``policy`` nor ``min_score`` the run's own decisions are kept (the sentences
  of ``projected.conll``);
* ``min_score`` demotes projected entities scoring under it to ``below-threshold`` (their
  words become ``O``), then the policy is re-applied: the one given, else the run's;
* ``policy`` re-applies a filtering policy (:mod:`projection.filtering`) to the statuses.

Statuses are what the run stored: an entity the run already demoted (its projector's
threshold, or a ``drop-below-score`` run) cannot be brought back by a laxer export.
``dev_fraction`` then moves a seeded random share of the kept sentences to a ``dev`` split
(``validation`` in a Hugging Face export, as the Hub names it; corpus order is kept inside
each split).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from projection import rundir
from projection.errors import ProjectionError
from projection.filtering import POLICIES, apply_policy, check_min_score, demote_below_score
from projection.records import EntityStatus, ProjectedSentence, Span

EXPORT_JSON = "export.json"
AS_RUN = "as-run"


@dataclass(frozen=True)
class Selection:
    """Which sentences and entities of a run are exported, and how they are split."""

    policy: str | None = None
    min_score: float | None = None
    dev_fraction: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.policy is not None and self.policy not in POLICIES:
            raise ProjectionError(f"unknown filtering policy {self.policy!r}; choose one of: {', '.join(POLICIES)}")
        if self.min_score is not None:
            check_min_score(self.min_score, "--min-score")
        if not 0.0 <= self.dev_fraction < 1.0:
            raise ProjectionError(f"--dev-fraction must be at least 0 and below 1, not {self.dev_fraction}")


@dataclass
class ExportData:
    """The exported sentences of one run, by split, with what decided them."""

    run_dir: Path
    manifest: dict[str, Any]
    selection: Selection
    policy: str  # the effective policy, or "as-run"
    labels: list[str]  # entity labels, sorted: the run's, whether or not any survived
    splits: dict[str, list[ProjectedSentence]]
    sentences_in: int
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> sentences not exported
    run_stats: dict[str, dict[str, int]] = field(default_factory=dict)  # label -> status -> entities, as the run stored them
    out: Path | None = None  # the export folder (for the commands a card shows)

    @staticmethod
    def spans(ps: ProjectedSentence) -> list[Span]:
        """The target spans that are in the tags: entities with status ``projected``."""
        return sorted((e.target for e in ps.entities if e.status == EntityStatus.PROJECTED and e.target is not None),
                      key=lambda s: (s.start, s.end))

    @staticmethod
    def entity_records(ps: ProjectedSentence) -> list[dict[str, Any]]:
        """Every source entity of the sentence: target span (``None`` when there is none), label
        (the target's: a projector may relabel, e.g. an adjective derived from a name becomes
        MISC), score, status, method and the source span; only ``projected`` ones are in the tags."""
        out = []
        for e in sorted(ps.entities, key=lambda e: (e.source.start, e.source.end)):
            t = e.target
            out.append({
                "start": t.start if t else None, "end": t.end if t else None, "label": t.label if t else e.source.label,
                "score": float(e.score), "status": str(e.status), "method": e.method,
                "text": " ".join(ps.target_tokens[t.start:t.end]) if t else None,
                "source_start": e.source.start, "source_end": e.source.end, "source_label": e.source.label,
                "source_text": " ".join(ps.source.tokens[e.source.start:e.source.end]),
            })
        return out

    def split_counts(self) -> dict[str, dict[str, Any]]:
        """Per split: sentences, tokens, entities (in the tags) and entities per label (every label listed)."""
        out = {}
        for name, sents in self.splits.items():
            per_label = Counter({lab: 0 for lab in self.labels})
            for ps in sents:
                per_label.update(sp.label for sp in self.spans(ps))
            out[name] = {"sentences": len(sents), "tokens": sum(len(ps.target_tokens) for ps in sents),
                         "entities": sum(per_label.values()), "per_label": dict(sorted(per_label.items()))}
        return out

    def selection_info(self) -> dict[str, Any]:
        run_filter = manifest_dict(self.manifest, "engines").get("filter") or {}
        return {"policy": self.policy, "run_policy": run_filter.get("policy"), "min_score": self.selection.min_score,
                "dev_fraction": self.selection.dev_fraction, "seed": self.selection.seed if self.selection.dev_fraction else None,
                "sentences_in": self.sentences_in, "sentences_out": sum(len(s) for s in self.splits.values()),
                "dropped": dict(sorted(self.dropped.items()))}


def _check_spans(run_dir: Path, ps: ProjectedSentence) -> None:
    prev: Span | None = None
    for sp in ExportData.spans(ps):
        if sp.start < 0 or sp.end > len(ps.target_tokens) or sp.start >= sp.end:
            raise ProjectionError(f"{run_dir / rundir.PROJECTIONS}: sentence {ps.id}: projected span {sp.start}-{sp.end} "
                                  f"does not fit its {len(ps.target_tokens)} target words")
        if prev is not None and sp.start < prev.end:
            raise ProjectionError(f"{run_dir / rundir.PROJECTIONS}: sentence {ps.id}: projected spans "
                                  f"{prev.start}-{prev.end} and {sp.start}-{sp.end} overlap")
        prev = sp


def split_indices(n: int, dev_fraction: float, seed: int) -> set[int]:
    """The indices of the ``dev`` sentences: a seeded random ``round(n * dev_fraction)`` of ``range(n)``."""
    import numpy as np

    n_dev = round(n * dev_fraction)
    if n_dev == 0 or n_dev == n:
        empty = "dev" if n_dev == 0 else "train"
        raise ProjectionError(f"--dev-fraction {dev_fraction} of {n:,} exported sentences leaves the {empty} split empty")
    return set(np.random.default_rng(seed).permutation(n)[:n_dev].tolist())


def load_run_data(run_dir: str | Path, selection: Selection = Selection(), dev_split: str = "dev") -> ExportData:
    """Read a run directory and decide, split and check what an export of it holds; the held-out
    split is named ``dev_split`` (``dev`` for spaCy and files, ``validation`` on the Hub)."""
    run_dir = Path(run_dir)
    manifest = rundir.read_manifest(run_dir)
    projected = rundir.read_projections(run_dir)
    run_filter = manifest_dict(manifest, "engines").get("filter") or {}
    run_stats: dict[str, Counter[str]] = {}
    for ps in projected:
        for e in ps.entities:
            run_stats.setdefault(e.source.label, Counter())[str(e.status)] += 1
    if selection.policy is None and selection.min_score is None:
        policy = AS_RUN
    else:
        policy = selection.policy or run_filter.get("policy") or "drop-sentence"
        if selection.min_score is not None:
            for ps in projected:
                demote_below_score(ps, selection.min_score)
        min_score = selection.min_score if selection.min_score is not None else float(run_filter.get("min_score") or 0.0)
        apply_policy(projected, policy, min_score)
    kept: list[ProjectedSentence] = []
    dropped: Counter[str] = Counter()
    for ps in projected:
        if ps.kept and ps.target_tokens:
            _check_spans(run_dir, ps)
            kept.append(ps)
        else:
            dropped[str(ps.drop_reason or ("empty-translation" if not ps.target_tokens else "dropped"))] += 1
    if not kept:
        raise ProjectionError(f"{run_dir}: no sentence is left to export (policy {policy}"
                              + (f", min score {selection.min_score}" if selection.min_score is not None else "") + ")")
    labels = set(manifest_dict(manifest, "counts").get("per_label") or {})
    labels |= {lab for ps in projected for e in ps.entities for lab in (e.source.label, e.target and e.target.label) if lab}
    if selection.dev_fraction:
        dev = split_indices(len(kept), selection.dev_fraction, selection.seed)
        splits = {"train": [ps for k, ps in enumerate(kept) if k not in dev],
                  dev_split: [ps for k, ps in enumerate(kept) if k in dev]}
    else:
        splits = {"train": kept}
    return ExportData(run_dir, manifest, selection, policy, sorted(labels), splits, len(projected), dict(dropped),
                      {lab: dict(c) for lab, c in sorted(run_stats.items())})


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def staged_dir(out: str | Path) -> Iterator[Path]:
    """A fresh temporary sibling folder of ``out``, put in its place on success.

    An earlier export in ``out`` (a folder with ``export.json``) is replaced whole, so no file
    of it survives (say a ``dev`` split the new export does not have); a folder holding
    anything else is refused rather than overwritten.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ProjectionError(f"{out}: exists and is not a folder (--out names the folder the export is written to)")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_JSON).exists():
        raise ProjectionError(f"{out}: the folder holds files that are not an export (no {EXPORT_JSON}); "
                              "give a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if out.exists():
            old = tmp.with_name(tmp.name + ".old")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def public(value: Any) -> Any:
    """``value`` with every absolute path replaced by its last component (recursively):
    what a dataset card or ``export.json`` may show of a machine's folders."""
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [public(v) for v in value]
    if isinstance(value, str) and (os.path.isabs(value) or value.startswith("~")):
        return Path(value).name or value
    return value


def pipeline_info(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's pipeline entry as a dict (name, requested, config, sha256, overrides), whatever its shape."""
    pipe = manifest.get("pipeline")
    if isinstance(pipe, dict):
        return pipe
    return {"name": str(pipe)} if pipe else {}


def manifest_dict(manifest: dict[str, Any], key: str) -> dict[str, Any]:
    value = manifest.get(key)
    return value if isinstance(value, dict) else {}


__all__ = ["AS_RUN", "EXPORT_JSON", "ExportData", "Selection", "load_run_data", "manifest_dict", "pipeline_info",
           "public", "split_indices", "staged_dir"]
