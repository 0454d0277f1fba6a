"""Hyphenated class prefixes joined to the name they belong to (Zulu ``e-Afrika``, ``i-ANC``).

In the Nguni languages (Zulu, Xhosa, Swati, Southern Ndebele) a noun-class or locative prefix is
written as one word with the noun: ``eGoli`` (in Johannesburg), ``uZuma``, ``waseMelika`` (of
America). Before a vowel, an acronym or a foreign name the same prefix takes a hyphen, and the
word is still one word: ``e-Afrika``, ``i-ANC``, ``I-HOUSTON``. A tokenizer that splits at hyphens
(ours does, and so does MasakhaNER 2.0's: ``KwaZulu - Natal``, ``e - Afrika``) makes three tokens
of it, and the projection matches the English name on the last one only: ``e - [Afrika]``.
The prefix of ``eGoli`` can never be cut off, since it is inside the token; left alone, the same
corpus teaches a model the prefix inside the entity when it is written solid and outside it when
it is hyphenated.

``prefix = "attach"`` makes the two spellings agree: a projected entity that begins right after
``PREFIX -`` starts at ``PREFIX`` instead, and its method gets the suffix ``+prefix``, when
``PREFIX`` is alphabetic, at most :data:`MAX_PREFIX` letters, and lower-case, upper-case
(a headline: ``NE-HOUSTON``) or the sentence's first word (``U-Alex``), not a capitalised name
(``Paris - London``). Where the translation's spacing is known (raw MT output tokenised here),
the three tokens must also be written as one word (``Bosnia - Herzegovina`` with spaces is not a
prefix); a translation that came tokenised (a CoNLL file, tokens joined by single spaces) has lost
its spacing, and the pattern alone decides. Nothing moves when the prefix or the hyphen already
belongs to another entity. ``prefix = "keep"`` changes nothing.

The default is ``keep`` for every target (:data:`DEFAULT`): the one test set of such a language
here, MasakhaNER 2.0 Zulu, puts the hyphenated prefix outside the entity, though the solid one is
necessarily inside. In its train split, of the names right after ``PREFIX -``, 479 start after a
prefix tagged O (``i - [ANC]``: 305 ORG, 105 LOC, 69 PER) and 23 start at the prefix (counted on the
train split's tags, as a convention of the test data, like the lower-case conventions of
:mod:`projection.project.ngram`; no model was selected on them). ``attach`` was the first default
for Zulu; trained on the projection cut at hyphens with the prefix attached, Zulu translate-train
scored 44.16 F1 at seed 13 against 47.82 on the uncut projection (ORG 42.1 -> 24.5;
docs/project.md), which led to that count. ``attach`` stays for data whose guidelines tag whole
written words. The ``[filter]`` table of a pipeline sets it (``prefix``); the manifest records the
mode, where it came from, and what moved.

A core module: it reads and edits records only and imports no stage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from projection.errors import ProjectionError
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Span

MODES = ("keep", "attach")
SUFFIX = "+prefix"
MAX_PREFIX = 5  # letters: Zulu's longest concord + locative prefixes (wase-, yase-, ezase-)
HYPHENS = frozenset({"-", "\u2010", "\u2011"})
# no target's test data here puts a hyphenated prefix inside the entity (MasakhaNER 2.0 Zulu leaves it out)
DEFAULT = "keep"


def glued(tokens: Sequence[str], text: str) -> list[bool] | None:
    """``glued[k]``: token ``k`` and token ``k + 1`` are written with no space between them in ``text``.

    None when the spacing is not known: ``text`` is the tokens joined by single spaces (a translation
    that came tokenised), or the tokens cannot be found in order in it.
    """
    if not text or text == " ".join(tokens):
        return None
    ends: list[tuple[int, int]] = []
    pos = 0
    for tok in tokens:
        at = text.find(tok, pos)
        if at < 0:
            return None
        ends.append((at, at + len(tok)))
        pos = at + len(tok)
    return [ends[k][1] == ends[k + 1][0] for k in range(len(ends) - 1)]


def _prefix_at(ps: ProjectedSentence, start: int, glue: list[bool] | None, taken: set[int]) -> bool:
    """True when the two tokens before ``start`` are ``PREFIX -`` of the name (see the module docstring)."""
    if start < 2 or start - 2 in taken or start - 1 in taken:
        return False
    prefix, hyphen = ps.target_tokens[start - 2], ps.target_tokens[start - 1]
    if hyphen not in HYPHENS or not prefix.isalpha() or len(prefix) > MAX_PREFIX:
        return False
    if not (prefix.islower() or prefix.isupper() or start == 2):
        return False
    return glue is None or (glue[start - 2] and glue[start - 1])


def attach_prefixes(projected: Sequence[ProjectedSentence], mode: str = "attach", show: int = 20) -> dict[str, Any]:
    """Move the start of projected entities onto their hyphenated prefix, in place (see the module docstring).

    Returns a summary for the manifest: the mode, ``attached`` (entities that moved), ``by_label``
    and ``prefixes``: the ``show`` most frequent prefixes (case-folded) with their counts.
    """
    if mode not in MODES:
        raise ProjectionError(f"unknown prefix mode {mode!r}; choose one of: {', '.join(MODES)}")
    summary: dict[str, Any] = {"mode": mode, "attached": 0, "by_label": {}, "prefixes": []}
    if mode == "keep":
        return summary
    by_label: Counter = Counter()
    prefixes: Counter = Counter()
    for ps in projected:
        live = [k for k, e in enumerate(ps.entities) if e.status == EntityStatus.PROJECTED and e.target is not None]
        if not live or not any(t in HYPHENS for t in ps.target_tokens):
            continue
        glue = glued(ps.target_tokens, ps.translation)
        taken = {i for k in live for i in range(ps.entities[k].target.start, ps.entities[k].target.end)}
        for k in live:
            e = ps.entities[k]
            start = e.target.start
            if not _prefix_at(ps, start, glue, taken):
                continue
            ps.entities[k] = ProjectedEntity(e.source, Span(start - 2, e.target.end, e.target.label), e.score,
                                             e.method + SUFFIX, e.status)
            taken.update((start - 2, start - 1))
            by_label[e.target.label] += 1
            prefixes[ps.target_tokens[start - 2].casefold()] += 1
    summary.update(attached=sum(by_label.values()), by_label=dict(sorted(by_label.items())),
                   prefixes=[[p, n] for p, n in prefixes.most_common(show)])
    return summary
