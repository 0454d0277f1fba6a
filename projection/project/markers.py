"""Mark-then-translate projection (EasyProject-style), with n-gram matching as the fallback.

The translation carried markers around the source entities; the translation stage parsed
them into labelled target spans (``ProjectionInput.marked``). Those spans do not say which
source entity they belong to when two entities share a label, and some entities lose
their markers in translation. So:

1. every marked span is a candidate for every source entity with the same label, scored
   by its n-gram score (alignment, name and embedding evidence, at most 1) plus 2, so that
   a marked span always beats an unmarked candidate and the evidence decides between entities of
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

from projection.project.base import ProjectionInput, batch_spans, make_sentence, no_gc
from projection.project.ngram import NgramProjector, _Candidates
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Span


MARK_BONUS = 2.0  # n-gram scores are at most 1


@dataclass
class MarkersProjector(NgramProjector):
    """Options: those of :class:`~projection.project.ngram.NgramProjector` (for the fallback)."""

    name: str = field(default="markers", init=False)

    def signature(self) -> dict[str, Any]:
        sig = super().signature()
        sig["fallback"] = "ngram"
        return sig

    def project(self, inputs: Sequence[ProjectionInput]) -> list[ProjectedSentence]:
        out: list[ProjectedSentence] = []
        with no_gc():
            for k in range(0, len(inputs), self.batch_size):
                chunk = list(inputs[k : k + self.batch_size])
                spans = batch_spans([inp.source.tags for inp in chunk])
                ents = self._project_marked(chunk, spans)
                out.extend(make_sentence(inp, e) for inp, e in zip(chunk, ents))
        return out

    def _project_marked(self, inputs: list[ProjectionInput], spans: list[list[Span]]) -> list[list[ProjectedEntity]]:
        extra: dict[int, list[tuple[int, int]]] = {}
        k = 0
        for inp, sps in zip(inputs, spans):
            n = len(inp.target_tokens)
            for sp in sps:
                extra[k] = [(m.start, m.end) for m in inp.marked or () if m.label == sp.label and 0 <= m.start < m.end <= n]
                k += 1
        ent_sent, ent_span, cands, best, bs, be, has_link, extra_scores = self._candidates(inputs, spans, extra)
        K = len(ent_span)
        # marked spans join the candidates with a bonus that puts them above every unmarked one
        m_ent = [k for k in range(K) for _ in extra.get(k, ())]
        m_start = [s for k in range(K) for s, _ in extra.get(k, ())]
        m_end = [e for k in range(K) for _, e in extra.get(k, ())]
        m_base = [max(x, 0.0) for k in range(K) for x in extra_scores.get(k, ())]
        n_plain = cands.ent.size
        all_c = _Candidates(np.concatenate([cands.ent, np.asarray(m_ent, dtype=np.int64)]),
                            np.concatenate([cands.start, np.asarray(m_start, dtype=np.int64)]),
                            np.concatenate([cands.end, np.asarray(m_end, dtype=np.int64)]),
                            np.concatenate([cands.score, MARK_BONUS + np.asarray(m_base, dtype=np.float32)]).astype(np.float32),
                            np.concatenate([cands.shared, np.zeros(len(m_ent), dtype=np.int64)]))
        chosen = self._match(ent_sent, K, all_c)
        out: list[list[ProjectedEntity]] = [[] for _ in inputs]
        for k, sp in enumerate(ent_span):
            b = int(ent_sent[k])
            c = int(chosen[k])
            if c >= 0:
                marked = c >= n_plain
                score = float(all_c.score[c]) - (MARK_BONUS if marked else 0.0)
                rec = self._record(inputs[b], sp, Span(int(all_c.start[c]), int(all_c.end[c]), sp.label), score,
                                   EntityStatus.PROJECTED, "markers" if marked else "ngram")
            else:
                rec = self._unmatched(inputs[b], sp, float(best[k]), int(bs[k]), int(be[k]), bool(has_link[k]), "ngram")
            out[b].append(rec)
        return out
