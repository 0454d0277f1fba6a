"""Retyping projected MISC entities by the corpus: a nationality that the translation made a place.

English CoNLL tags "German" MISC and "Germany" LOC. A translation often renders the adjective as
the place: "German call" becomes Swahili "wito wa Ujerumani" (call of Germany), Hausa "kiran
Jamus". The projection then puts the source's MISC on the target's place name. MasakhaNER 2.0
tags such a word LOC (its guidelines: countries, cities, regions) and has no MISC at all, so
for its languages the entity would become O in training: the same word O in one sentence and
LOC in the next, taught by the same corpus.

The corpus itself says what the words are (``misc = "corpus"``). Over every projected entity of
a run, count per target string (its words, case-folded) the labels it was projected with. A
projected MISC entity whose string was projected with one other label L at least ``min_count``
times and in at least ``min_share`` of all its projections (MISC ones included) takes L, and
its method gets the suffix ``+retyped``. Adjectives stay MISC, because MISC sources are nearly
all they are projected from (German ``deutschen``: 31 MISC, 3 LOC projections in the CoNLL-2003
projection); a place name is projected from LOC sources at least as often (Swahili
``ujerumani``: 141 LOC, 78 MISC).

``misc = "keep"`` changes nothing. The default depends on the target (:data:`MISC_DEFAULTS`):
``corpus`` for the MasakhaNER languages (no MISC in their guidelines) and for Spanish, ``keep``
for the other targets. Spanish writes nationality adjectives in lower case and CoNLL-2002 tags
them O, so the projection drops them (``lowercase = "drop"``): what stays MISC is capitalised,
and a capitalised string projected from LOC sources as often is a place name, which CoNLL-2002
tags LOC ("Sri Lankan" -> ``Sri Lanka``, "European" -> ``Europa``). Dutch and German capitalise
or keep their adjectives, and translations of "U.S." make them LOC projections too (Dutch
``Amerikaanse`` 22 times, German ``tschechische``): there the rule would retype adjectives,
which their guidelines tag MISC, so a projected MISC keeps the source's type. The ``[filter]``
table of a pipeline sets it (``misc``, ``misc_min_count``, ``misc_min_share``); the run's
manifest records the mode, where it came from, and what changed.

A core module: it reads and edits records only and imports no stage.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from projection.errors import ProjectionError
from projection.languages import language_key
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Span

MODES = ("keep", "corpus")
SUFFIX = "+retyped"
# by the target's shortest code: targets whose guidelines have no MISC (MasakhaNER 2.0: PER/ORG/LOC/DATE), and
# Spanish, whose lower-case adjectives the projection drops, so that its capitalised MISC strings are names
MISC_DEFAULTS: dict[str, str] = {"ha": "corpus", "sw": "corpus", "yo": "corpus", "zu": "corpus", "es": "corpus"}
MIN_COUNT = 3
MIN_SHARE = 0.4


def misc_default(lang: str) -> str:
    """The default MISC mode for a target language code (ISO 639-1, 639-3 or NLLB, any case)."""
    return MISC_DEFAULTS.get(language_key(lang), "keep")


def _key(ps: ProjectedSentence, span: Span) -> str:
    return " ".join(ps.target_tokens[span.start:span.end]).casefold()


def retype_misc(projected: Sequence[ProjectedSentence], mode: str = "corpus", min_count: int = MIN_COUNT,
                min_share: float = MIN_SHARE, show: int = 20) -> dict[str, Any]:
    """Retype the projected MISC entities of ``projected`` in place (see the module docstring).

    Returns a summary for the manifest: the settings, ``retyped`` (entities changed), ``by_label``
    (how many took each label) and ``strings``: the ``show`` most frequent retyped strings with their
    new label and count.
    """
    if mode not in MODES:
        raise ProjectionError(f"unknown MISC mode {mode!r}; choose one of: {', '.join(MODES)}")
    if int(min_count) < 1:
        raise ProjectionError(f"misc_min_count must be at least 1, not {min_count}")
    if not 0.0 < float(min_share) <= 1.0:
        raise ProjectionError(f"misc_min_share must be in (0, 1], not {min_share}")
    summary: dict[str, Any] = {"mode": mode, "min_count": int(min_count), "min_share": float(min_share),
                               "retyped": 0, "by_label": {}, "strings": []}
    if mode == "keep":
        return summary
    counts: dict[str, Counter] = defaultdict(Counter)
    for ps in projected:
        for e in ps.entities:
            if e.status == EntityStatus.PROJECTED and e.target is not None:
                counts[_key(ps, e.target)][e.target.label] += 1
    new_label: dict[str, str] = {}
    for key, c in counts.items():
        if not c.get("MISC"):
            continue
        n, label = max(((n, label) for label, n in c.items() if label != "MISC"), default=(0, ""))
        if n >= min_count and n / sum(c.values()) >= min_share:
            new_label[key] = label
    changed: Counter = Counter()
    for ps in projected:
        for k, e in enumerate(ps.entities):
            if e.status != EntityStatus.PROJECTED or e.target is None or e.target.label != "MISC":
                continue
            key = _key(ps, e.target)
            if key in new_label:
                label = new_label[key]
                ps.entities[k] = ProjectedEntity(e.source, Span(e.target.start, e.target.end, label), e.score,
                                                 e.method + SUFFIX, e.status)
                changed[(key, label)] += 1
    by_label: Counter = Counter()
    for (_, label), n in changed.items():
        by_label[label] += n
    summary.update(retyped=sum(changed.values()), by_label=dict(sorted(by_label.items())),
                   strings=[[key, label, n] for (key, label), n in changed.most_common(show)])
    return summary
