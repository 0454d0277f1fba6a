"""Retyping projected entities by the corpus: a nationality that the translation made a place, and a
place that the translation made an adjective.

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

The other way round (``derived = "misc"``): English "London" is LOC, and German renders "the London
market" as ``der Londoner Markt``, Dutch as ``de Londense markt``. The projection puts the source's LOC on a
derived adjective, which German CoNLL-2003 and Dutch CoNLL-2002 tag MISC, as they tag ``deutschen`` and
``Nederlandse``. A projected single-word LOC entity whose word (case-folded) is a string that the run
projects as LOC at least ``derived_min_count`` times plus the target's derivation suffix
(:data:`DERIVED_SUFFIXES`: German ``-er``: ``Londoner``, ``Pariser``, ``Japaner``; Dutch ``-se``:
``Londense``, ``Japanse``) takes MISC, method suffix ``+derived``. The stem must be a place of the same
run, so a place name that merely ends in the suffix (``Hannover``, ``Ulster``) keeps LOC. On by default
where a suffix is known (German, Dutch); Spanish writes these adjectives in lower case (the lower-case
convention handles them), MasakhaNER has no MISC.

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
DERIVED_MODES = ("keep", "misc")
DERIVED_SUFFIX = "+derived"
# by the target's shortest code: the suffix that derives an adjective (or demonym) from a place name, where
# the target's guidelines tag such words MISC (a label convention read off the train splits' tags, like the
# lower-case conventions; no model is selected with them): of the one-word entities that are a LOC string of
# the split (at least 3 times) plus the suffix, German CoNLL-2003 train tags 364 of 366 MISC (`Frankfurter`
# 109, `Moskauer` 7), Dutch CoNLL-2002 train 145 of 146 (`Nederlandse` 42, `Brusselse` 42)
DERIVED_SUFFIXES: dict[str, str] = {"de": "er", "nl": "se"}
# by the target's shortest code: targets whose guidelines have no MISC (MasakhaNER 2.0: PER/ORG/LOC/DATE), and
# Spanish, whose lower-case adjectives the projection drops, so that its capitalised MISC strings are names
MISC_DEFAULTS: dict[str, str] = {"ha": "corpus", "sw": "corpus", "yo": "corpus", "zu": "corpus", "es": "corpus"}
MIN_COUNT = 3
MIN_SHARE = 0.4


def misc_default(lang: str) -> str:
    """The default MISC mode for a target language code (ISO 639-1, 639-3 or NLLB, any case)."""
    return MISC_DEFAULTS.get(language_key(lang), "keep")


def derived_default(lang: str) -> tuple[str, str]:
    """The default derived-adjective mode and suffix for a target language code: ``("misc", suffix)``
    where the target has a known suffix, ``("keep", "")`` otherwise."""
    suffix = DERIVED_SUFFIXES.get(language_key(lang), "")
    return ("misc" if suffix else "keep"), suffix


def _key(ps: ProjectedSentence, span: Span) -> str:
    return " ".join(ps.target_tokens[span.start:span.end]).casefold()


def _label_counts(projected: Sequence[ProjectedSentence]) -> dict[str, Counter]:
    """Per target string (case-folded), the labels of the run's projected entities on it."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for ps in projected:
        for e in ps.entities:
            if e.status == EntityStatus.PROJECTED and e.target is not None:
                counts[_key(ps, e.target)][e.target.label] += 1
    return counts


def _relabel(ps: ProjectedSentence, k: int, label: str, suffix: str) -> None:
    """Give entity ``k`` of ``ps`` the target label ``label``; its method gets ``suffix``."""
    e = ps.entities[k]
    ps.entities[k] = ProjectedEntity(e.source, Span(e.target.start, e.target.end, label), e.score, e.method + suffix,
                                     e.status)


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
    new_label: dict[str, str] = {}
    for key, c in _label_counts(projected).items():
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
                _relabel(ps, k, label, SUFFIX)
                changed[(key, label)] += 1
    by_label: Counter = Counter()
    for (_, label), n in changed.items():
        by_label[label] += n
    summary.update(retyped=sum(changed.values()), by_label=dict(sorted(by_label.items())),
                   strings=[[key, label, n] for (key, label), n in changed.most_common(show)])
    return summary


def retype_derived(projected: Sequence[ProjectedSentence], mode: str = "misc", suffix: str = "",
                   min_count: int = MIN_COUNT, show: int = 20) -> dict[str, Any]:
    """Retype to MISC, in place, the projected single-word LOC entities that are a place of the run
    plus ``suffix`` (see the module docstring). Returns a summary for the manifest like
    :func:`retype_misc`'s (``retyped``, ``strings``: word, stem and count)."""
    if mode not in DERIVED_MODES:
        raise ProjectionError(f"unknown derived mode {mode!r}; choose one of: {', '.join(DERIVED_MODES)}")
    if int(min_count) < 1:
        raise ProjectionError(f"derived_min_count must be at least 1, not {min_count}")
    suffix = suffix.casefold()
    if mode == "misc" and (not suffix or not suffix.isalpha()):
        raise ProjectionError(f"derived = \"misc\" needs a suffix of letters (derived_suffix), not {suffix!r}")
    summary: dict[str, Any] = {"mode": mode, "suffix": suffix, "min_count": int(min_count), "retyped": 0,
                               "strings": []}
    if mode == "keep":
        return summary
    counts = _label_counts(projected)
    changed: Counter = Counter()
    for ps in projected:
        for k, e in enumerate(ps.entities):
            t = e.target
            if e.status != EntityStatus.PROJECTED or t is None or t.label != "LOC" or t.end - t.start != 1:
                continue
            key = _key(ps, t)
            stem = key[:-len(suffix)]
            if key.endswith(suffix) and stem and stem in counts and counts[stem]["LOC"] >= min_count:
                _relabel(ps, k, "MISC", DERIVED_SUFFIX)
                changed[(key, stem)] += 1
    summary.update(retyped=sum(changed.values()),
                   strings=[[key, stem, n] for (key, stem), n in changed.most_common(show)])
    return summary
