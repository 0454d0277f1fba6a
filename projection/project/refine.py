"""Refinement of back-projected labels by re-translation (after Politov et al., arXiv 2501.18750).

In the back-translation direction the labels of a target sentence come from its English
translation, projected back through a word alignment. The refinement translates the
*labelled English* into the target again with entity markers, so the MT system itself says
where each entity is in a target sentence, and then finds those marked spans in the
*original* target sentence in two independent ways:

* by a target-to-target word alignment (re-translation <-> original): the original words
  linked to the marked words, as one contiguous span;
* by string similarity: the n-gram of the original most similar to the marked text
  (rapidfuzz ratio on lower-cased text, at least ``min_similarity``).

Where the two agree, the span is trusted, and it is preferred to the projected one: a
projected entity of the same label overlapping it takes that span (``changed`` when it
differs, ``confirmed`` when it is the same); an entity that was not projected (unaligned,
conflict, below threshold) takes an agreed span of its label that no other entity holds
(``recovered``). Where they disagree, or a marker was lost, the projection stands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from projection.records import Alignment, EntityStatus, ProjectedEntity, ProjectedSentence, Span

REFINED = "+retranslation"


def aligned_span(marked: Span, alignment: Alignment, n_original: int, slack: int = 2) -> tuple[int, int] | None:
    """The original words linked to the marked words ``[marked.start, marked.end)``, as one span, or None
    when nothing is linked or the linked words spread over more than ``len(marked) + slack`` words."""
    linked = sorted({j for i, j in alignment.links if marked.start <= i < marked.end and 0 <= j < n_original})
    if not linked:
        return None
    start, end = linked[0], linked[-1] + 1
    if end - start > len(marked) + slack:
        return None
    return start, end


def similar_span(text: str, original: Sequence[str], min_similarity: float, max_extra: int = 2
                 ) -> tuple[int, int, float] | None:
    """The n-gram of ``original`` (1 to ``words(text) + max_extra`` words) most similar to ``text``:
    ``(start, end, ratio in [0, 1])``, or None below ``min_similarity``. Ties go to the shorter, earlier span."""
    from rapidfuzz.fuzz import ratio

    want = text.lower()
    n_words = max(len(text.split()), 1)
    best: tuple[float, int, int] | None = None
    low = [w.lower() for w in original]
    for n in range(1, n_words + max_extra + 1):
        for s in range(0, len(low) - n + 1):
            r = ratio(want, " ".join(low[s:s + n])) / 100.0
            if best is None or r > best[0] + 1e-9:
                best = (r, s, s + n)
    if best is None or best[0] < min_similarity:
        return None
    return best[1], best[2], best[0]


def agreed_spans(marked_tokens: Sequence[str], marked_spans: Sequence[Span], alignment: Alignment,
                 original: Sequence[str], min_similarity: float = 0.8) -> list[Span]:
    """The marked spans located in the original sentence where alignment and string similarity agree."""
    out = []
    for m in marked_spans:
        if not (0 <= m.start < m.end <= len(marked_tokens)):
            continue
        a = aligned_span(m, alignment, len(original))
        s = similar_span(" ".join(marked_tokens[m.start:m.end]), original, min_similarity)
        if a is not None and s is not None and a == (s[0], s[1]):
            out.append(Span(a[0], a[1], m.label))
    return out


def refine(ps: ProjectedSentence, agreed: Sequence[Span], confidences: Sequence[float] | None = None) -> Counter:
    """Prefer the ``agreed`` spans (see the module doc) in ``ps`` (in place); returns what was done.
    A recovered entity is scored ``confidences[k]`` (the labeller's confidence of entity k), else 1."""
    done: Counter = Counter()
    if not agreed:
        return done
    used: set[int] = set()
    entities = list(ps.entities)
    for k, e in enumerate(entities):  # projected entities first: an agreed span of their label that overlaps
        if e.status != EntityStatus.PROJECTED or e.target is None:
            continue
        for a_i, a in enumerate(agreed):
            if a_i in used or a.label != e.source.label or a.end <= e.target.start or e.target.end <= a.start:
                continue
            used.add(a_i)
            if (a.start, a.end) == (e.target.start, e.target.end):
                done["confirmed"] += 1
            else:
                taken = any(j != k and f.status == EntityStatus.PROJECTED and f.target is not None
                            and f.target.start < a.end and a.start < f.target.end for j, f in enumerate(entities))
                if taken:
                    done["kept_overlap"] += 1
                    break
                entities[k] = ProjectedEntity(e.source, Span(a.start, a.end, e.target.label), e.score,
                                              e.method + REFINED, e.status)
                done["changed"] += 1
            break
    for k, e in enumerate(entities):  # then entities that were not projected: a free agreed span of their label
        if e.status in (EntityStatus.PROJECTED, EntityStatus.REMOVED):
            continue
        for a_i, a in enumerate(agreed):
            if a_i in used or a.label != e.source.label:
                continue
            if any(f.status == EntityStatus.PROJECTED and f.target is not None and f.target.start < a.end
                   and a.start < f.target.end for f in entities):
                continue
            used.add(a_i)
            score = float(confidences[k]) if confidences is not None and k < len(confidences) else 1.0
            entities[k] = ProjectedEntity(e.source, Span(a.start, a.end, e.source.label), score,
                                          e.method + REFINED, EntityStatus.PROJECTED)
            done["recovered"] += 1
            break
    ps.entities = entities
    return done


def refinement_stats(counts: Sequence[Counter], agreed: Sequence[Sequence[Span]], marked: Sequence[Any]) -> dict[str, int]:
    """Totals over a corpus for the manifest."""
    total: Counter = Counter()
    for c in counts:
        total.update(c)
    return {"marked_spans": sum(len(m) for m in marked), "agreed": sum(len(a) for a in agreed),
            **{k: int(total.get(k, 0)) for k in ("confirmed", "changed", "recovered", "kept_overlap")}}
