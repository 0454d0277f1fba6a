"""Sentence filtering policies: which projected sentences become training data.

A projected sentence in which an entity could not be projected has that entity's words
tagged ``O`` - a false negative that teaches the model to ignore a name. Hence the
default for training data, ``drop-sentence``, keeps only sentences whose every source
entity was projected (sentences without entities are kept: they are real negatives).

* ``keep-all`` - keep every sentence; unprojected entities are simply absent.
* ``drop-sentence`` - drop a sentence with any unprojected entity (an entity ``removed`` by the
  target's lower-case convention is not unprojected: its words are rightly O).
* ``drop-below-score`` - demote projected entities scoring under ``min_score`` to
  ``below-threshold``; keep every sentence.

Every policy sets ``kept`` and ``drop_reason`` (the status of the first
unprojected entity, ``"empty-translation"``, ``"untranslated"`` or ``None``) on every
sentence, so the run directory records why each sentence is in or out. ``untranslated``
marks a source sentence that a given translation file has no translation for
(``meta["untranslated"]``, set by sentence matching): always dropped, whatever the policy.

This is a core module (it imports no stage): the projection stage applies the policy when
a run is made (``projection.project`` re-exports it), the export stage re-applies it to a
stored run with other settings.
"""

from __future__ import annotations

from collections.abc import Sequence

from projection.errors import ProjectionError
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence

POLICIES = ("keep-all", "drop-sentence", "drop-below-score")


def _reason(ps: ProjectedSentence) -> str | None:
    if ps.meta.get("untranslated"):
        return "untranslated"
    if not ps.target_tokens:
        return "empty-translation"
    for e in ps.entities:
        if e.status not in (EntityStatus.PROJECTED, EntityStatus.REMOVED):
            return str(e.status)
    return None


def demote_below_score(ps: ProjectedSentence, min_score: float) -> None:
    """Mark the projected entities of ``ps`` scoring under ``min_score`` ``below-threshold`` (in place)."""
    ps.entities = [
        ProjectedEntity(e.source, e.target, e.score, e.method, EntityStatus.BELOW_THRESHOLD)
        if e.status == EntityStatus.PROJECTED and e.score < min_score else e
        for e in ps.entities
    ]


def check_min_score(min_score: float, what: str = "min_score") -> float:
    if not 0.0 <= min_score <= 1.0:
        raise ProjectionError(f"{what} must be between 0 and 1, not {min_score}")
    return float(min_score)


def apply_policy(projected: Sequence[ProjectedSentence], policy: str = "drop-sentence",
                 min_score: float = 0.0) -> list[ProjectedSentence]:
    """Mark every sentence kept or dropped (in place, also returned)."""
    if policy not in POLICIES:
        raise ProjectionError(f"unknown filtering policy {policy!r}; choose one of: {', '.join(POLICIES)}")
    if policy == "drop-below-score":
        check_min_score(min_score, "drop-below-score: min_score")
    for ps in projected:
        if policy == "drop-below-score":
            demote_below_score(ps, min_score)
        reason = _reason(ps)
        if policy == "drop-sentence":
            kept = reason is None
        else:
            kept = reason not in ("empty-translation", "untranslated")
        ps.kept = kept
        ps.drop_reason = None if kept else reason
    return list(projected)
