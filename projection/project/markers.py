"""Mark-then-translate projection (EasyProject-style), with n-gram matching as the fallback.

The translation carried markers around the source entities; the translation stage parsed
them into labelled target spans (``ProjectionInput.marked``). Those spans do not say which
source entity they belong to when two entities share a label, and some entities lose
their markers in translation. So:

1. every marked span is a candidate for every source entity with the same label, scored
   by the n-gram score (alignment, name and embedding evidence) plus 1, so that a marked
   span always beats an unmarked candidate and the evidence decides between entities of
   the same label;
2. entities left without a marked span fall back to ordinary n-gram candidates that do
   not overlap the spans already taken (method ``ngram`` in the record);
3. matching is the n-gram projector's (greedy or exact), with its threshold for the
   fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from projection.project.base import ProjectionInput, make_sentence
from projection.project.ngram import NgramProjector, exact_match, greedy_match, relabel_adjective
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Span


@dataclass
class MarkersProjector(NgramProjector):
    """Options: those of :class:`~projection.project.ngram.NgramProjector` (for the fallback)."""

    name: str = field(default="markers", init=False)

    def signature(self) -> dict[str, Any]:
        sig = super().signature()
        sig["method"] = "markers"
        sig["fallback"] = "ngram"
        return sig

    def project(self, inputs: Sequence[ProjectionInput]) -> list[ProjectedSentence]:
        out: list[ProjectedSentence] = []
        for k in range(0, len(inputs), self.batch_size):
            out.extend(self._project_marked(list(inputs[k : k + self.batch_size])))
        return out

    def _project_marked(self, inputs: list[ProjectionInput]) -> list[ProjectedSentence]:
        spans = [inp.source.spans for inp in inputs]
        weights, hard = self._weights(inputs, spans)
        scores, valid, (ent_sent, ent_span, has_link) = self._scores(inputs, spans, weights, hard)
        K, N, Lmax = scores.shape
        flat = scores.reshape(K, N * Lmax).copy()
        base = flat.copy()
        marked_cand = np.zeros_like(flat, dtype=bool)
        for k, (b, sp) in enumerate(zip(ent_sent, ent_span)):
            for m in inputs[b].marked or ():
                length = m.end - m.start
                if m.label != sp.label or not 1 <= length <= Lmax or m.end > len(inputs[b].target_tokens):
                    continue
                c = m.start * Lmax + (length - 1)
                flat[k, c] = 1.0 + max(float(base[k, c]), 0.0)
                marked_cand[k, c] = True
        cand_start = np.repeat(np.arange(N), Lmax)
        cand_end = cand_start + np.tile(np.arange(1, Lmax + 1), N)
        sid = np.asarray(ent_sent, dtype=np.int64)
        match = greedy_match if self.matching == "greedy" else exact_match
        chosen = match(flat, sid, cand_start, cand_end, self.threshold)
        results: list[list[ProjectedEntity]] = [[] for _ in inputs]
        best0 = base.max(axis=1) if K else np.zeros(0)
        arg0 = base.argmax(axis=1) if K else np.zeros(0, dtype=np.int64)
        for k in range(K):
            sp = ent_span[k]
            b = ent_sent[k]
            c = int(chosen[k])
            if c >= 0:
                target = Span(int(cand_start[c]), int(cand_end[c]), sp.label)
                if self.relabel:
                    target = relabel_adjective(inputs[b], sp, target)
                method = "markers" if marked_cand[k, c] else "ngram"
                results[b].append(ProjectedEntity(sp, target, max(float(base[k, c]), 0.0), method, EntityStatus.PROJECTED))
                continue
            b0 = float(best0[k])
            if b0 >= self.threshold:
                status = EntityStatus.CONFLICT
            elif not has_link[k]:
                status = EntityStatus.UNALIGNED
            else:
                status = EntityStatus.BELOW_THRESHOLD
            a0 = int(arg0[k])
            target = Span(int(cand_start[a0]), int(cand_end[a0]), sp.label) if b0 > 0 else None
            results[b].append(ProjectedEntity(sp, target, max(b0, 0.0), "ngram", status))
        return [make_sentence(inp, ents) for inp, ents in zip(inputs, results)]
