"""The statistics of a projection run, one definition for the pipeline (the manifest's ``counts``)
and the inspectors: sentences in and out, drop reasons, entities per label and status, and the
projection rate. Core module: reads records only, imports no stage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from projection.records import ProjectedSentence


def projection_stats(projected: Sequence[ProjectedSentence]) -> dict[str, Any]:
    """Sentences in/out, drop reasons, and per label: entities and their statuses.

    Entities of sentences without a translation (``untranslated``: a given file that is not
    line-parallel) count under that status and not in the rates, which measure projection
    onto the translations there are. An entity ``removed`` by the target's lower-case
    convention was projected (then removed on purpose): it counts as a success in the rates.
    """
    per_label: dict[str, Counter] = {}
    for ps in projected:
        untranslated = bool(ps.meta.get("untranslated"))
        for e in ps.entities:
            per_label.setdefault(e.source.label, Counter())["untranslated" if untranslated else str(e.status)] += 1
    labels = {}
    for label in sorted(per_label):
        c = per_label[label]
        total = sum(c.values())
        translated = total - c.get("untranslated", 0)
        done = c.get("projected", 0) + c.get("removed", 0)
        labels[label] = {"entities": total, **dict(sorted(c.items())),
                         "rate": round(done / translated, 4) if translated else None}
    entities = sum(v["entities"] for v in labels.values())
    untranslated_n = sum(v.get("untranslated", 0) for v in labels.values())
    projected_n = sum(v.get("projected", 0) for v in labels.values())
    removed_n = sum(v.get("removed", 0) for v in labels.values())
    kept = sum(1 for ps in projected if ps.kept)
    reasons = Counter(ps.drop_reason for ps in projected if not ps.kept)
    kept_entities = sum(1 for ps in projected if ps.kept for e in ps.entities
                        if str(e.status) == "projected")
    return {
        "sentences_in": len(projected), "sentences_out": kept, "dropped": dict(sorted(reasons.items())),
        "entities": entities, "projected": projected_n, "removed_by_convention": removed_n,
        "rate": round((projected_n + removed_n) / (entities - untranslated_n), 4) if entities - untranslated_n else None,
        "entities_in_output": kept_entities, "per_label": labels,
    }
