"""Loading a projection run directory for inspection, with clear errors for broken runs.

``projections.jsonl`` is the record of truth (every source sentence, kept or not);
``entities.parquet`` is the flat per-entity table that statistics and plots read, and
``projected.conll`` is what a trainer will see. A run directory written by an older or
interrupted pipeline may lack or disagree on the derived files: rather than failing or
silently trusting one file, :func:`load_run` rebuilds what it can from the record of truth
and keeps a list of :attr:`Run.warnings` that both views print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from projection import rundir
from projection.errors import InputError, ProjectionError
from projection.records import ProjectedSentence

#: the columns of ``entities.parquet`` (see :func:`projection.rundir.entity_rows`)
ENTITY_COLUMNS = (
    "id", "label", "status", "method", "score",
    "src_start", "src_end", "tgt_start", "tgt_end", "src_text", "tgt_text",
)


@dataclass
class Run:
    """Everything the views need from one run directory, already validated."""

    path: Path
    manifest: dict[str, Any]
    sentences: list[ProjectedSentence]
    entities: pd.DataFrame  # one row per source entity, columns ENTITY_COLUMNS
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def languages(self) -> tuple[str, str]:
        """(source, target) language codes from the manifest, when it names them."""
        m = self.manifest
        src = _first_str(m, ("source_lang", "src_lang"), ("source", "lang"), ("languages", "source"))
        tgt = _first_str(m, ("target_lang", "tgt_lang", "lang"), ("target", "lang"), ("languages", "target"))
        return src or "en", tgt or "target"


def _first_str(m: dict[str, Any], flat: Sequence[str], *nested: tuple[str, str]) -> str | None:
    for key in flat:
        v = m.get(key)
        if isinstance(v, str) and v:
            return v
        if isinstance(v, list) and len(v) == 1 and isinstance(v[0], str):
            return v[0]
    for outer, inner in nested:
        v = m.get(outer)
        if isinstance(v, dict) and isinstance(v.get(inner), str) and v[inner]:
            return v[inner]
    return None


def is_kept(ps: ProjectedSentence) -> bool:
    """Whether the sentence went into ``projected.conll``."""
    return ps.kept


def drop_reason(ps: ProjectedSentence) -> str | None:
    if is_kept(ps):
        return None
    return ps.drop_reason or "unspecified"


def _check_projection(path: Path, index: int, ps: ProjectedSentence) -> None:
    """Reject records whose spans point outside their sentence: rendering them would be a lie."""
    n_src, n_tgt = len(ps.source.tokens), len(ps.target_tokens)
    where = f"record {index} (sentence {ps.id})"
    for e in ps.entities:
        s, t = e.source, e.target
        if not (0 <= s.start < s.end <= n_src):
            raise InputError(path, None, f"{where}: source span {s.start}:{s.end} outside its {n_src} tokens")
        if t is not None and not (0 <= t.start < t.end <= n_tgt):
            raise InputError(path, None, f"{where}: target span {t.start}:{t.end} outside its {n_tgt} tokens")


def _read_entities(run_dir: Path, sentences: list[ProjectedSentence], warnings: list[str]) -> pd.DataFrame:
    derived = pd.DataFrame(rundir.entity_rows(sentences), columns=list(ENTITY_COLUMNS))
    path = run_dir / rundir.ENTITIES
    if not path.exists():
        warnings.append(f"{rundir.ENTITIES} is missing; entity statistics were rebuilt from {rundir.PROJECTIONS}")
        return derived
    try:
        df = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several unrelated types for a damaged file
        raise ProjectionError(f"{path}: not a readable parquet file ({type(e).__name__}: {e})") from None
    missing = [c for c in ENTITY_COLUMNS if c not in df.columns]
    if missing:
        raise ProjectionError(f"{path}: missing column(s) {', '.join(missing)}; was it written by `projection run`?")
    if len(df) != len(derived):
        warnings.append(
            f"{rundir.ENTITIES} has {len(df):,} rows but {rundir.PROJECTIONS} has {len(derived):,} entities; "
            f"statistics use {rundir.PROJECTIONS}"
        )
        return derived
    return df[list(ENTITY_COLUMNS)].reset_index(drop=True)


def _count_conll_sentences(path: Path) -> int:
    n, inside = 0, False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip() and not line.startswith("-DOCSTART-"):
                if not inside:
                    n += 1
                inside = True
            else:
                inside = False
    return n


def load_run(run_dir: str | Path) -> Run:
    """Read and cross-check a run directory; raise :class:`ProjectionError` with one clear line if it is unusable."""
    path = Path(run_dir)
    if not path.exists():
        raise ProjectionError(f"{path}: no such run directory; create one with `projection run --out {path}`")
    if not path.is_dir():
        raise ProjectionError(f"{path}: is a file, expected a projection run directory")
    manifest = rundir.read_manifest(path)
    if not isinstance(manifest, dict):
        raise InputError(path / rundir.MANIFEST, None, "expected a JSON object")
    sentences = rundir.read_projections(path)
    for i, ps in enumerate(sentences, start=1):
        _check_projection(path / rundir.PROJECTIONS, i, ps)
    warnings: list[str] = []
    entities = _read_entities(path, sentences, warnings)
    conll = path / rundir.PROJECTED_CONLL
    kept = [ps for ps in sentences if is_kept(ps)]
    n_empty = sum(not ps.target_tokens for ps in kept)
    if n_empty:
        warnings.append(f"{n_empty:,} kept sentence(s) have an empty target; they are invisible in {rundir.PROJECTED_CONLL}")
    if not conll.exists():
        warnings.append(f"{rundir.PROJECTED_CONLL} is missing: a trainer has nothing to read")
    else:
        n_conll = _count_conll_sentences(conll)
        if n_conll != len(kept) - n_empty:
            warnings.append(f"{rundir.PROJECTED_CONLL} has {n_conll:,} sentences but {len(kept) - n_empty:,} are marked kept")
    if not sentences:
        warnings.append(f"{rundir.PROJECTIONS} is empty")
    return Run(path, manifest, sentences, entities, warnings)
