"""The classic alignment-run heuristic (as in Mayhew et al. 2017, Ehrmann et al. 2011).

For each source entity, the target words linked to any of its words form runs of
consecutive positions; runs separated by at most ``gap`` words (and no clause
punctuation) are merged. The run with the most linked words wins (ties: the longer, then
the earlier); it is kept when its length ratio ``min(|run|, |entity|) / max(|run|, |entity|)``
reaches ``threshold``. When two entities' runs overlap, the higher ratio wins and the other
entity is recorded as a conflict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from pydantic import Field

from projection.options import Options, validate_engine_options
from projection.project.base import ProjectionInput, batch_spans, code_hash, is_break_token, make_sentence, no_gc
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence, Span


class HeuristicOptions(Options):
    """The options of :class:`HeuristicProjector` and their ranges."""

    gap: int = Field(1, ge=0)
    threshold: float = Field(0.3, ge=0.0, le=1.0)


@dataclass
class HeuristicProjector:
    gap: int = 1
    threshold: float = 0.3
    name: str = field(default="heuristic", init=False)
    options_model = HeuristicOptions  # not a field: checks the options (also those of a pipeline file)

    def __post_init__(self) -> None:
        validate_engine_options(type(self), "heuristic", {"gap": self.gap, "threshold": self.threshold})

    def signature(self) -> dict[str, Any]:
        return {"method": self.name, **{k: v for k, v in asdict(self).items() if k != "name"}, "code": code_hash(__name__)}

    def best_run(self, aligned: list[int], breaks: list[bool]) -> tuple[int, int, int] | None:
        """(start, end, linked words) of the best merged run of sorted target positions."""
        if not aligned:
            return None
        runs: list[list[int]] = [[aligned[0], aligned[0] + 1, 1]]
        for j in aligned[1:]:
            last = runs[-1]
            if j < last[1]:
                continue
            between = range(last[1], j)
            if j - last[1] <= self.gap and not any(breaks[x] for x in between):
                last[1] = j + 1
                last[2] += 1
            else:
                runs.append([j, j + 1, 1])
        best = max(runs, key=lambda r: (r[2], r[1] - r[0], -r[0]))
        return best[0], best[1], best[2]

    def project(self, inputs: Sequence[ProjectionInput]) -> list[ProjectedSentence]:
        with no_gc():
            return self._project(inputs)

    def _project(self, inputs: Sequence[ProjectionInput]) -> list[ProjectedSentence]:
        out = []
        for inp, spans in zip(inputs, batch_spans([inp.source.tags for inp in inputs])):
            if not spans:
                out.append(make_sentence(inp, []))
                continue
            by_src: dict[int, set[int]] = {}
            for i, j in inp.alignment.links:
                by_src.setdefault(i, set()).add(j)
            breaks = [is_break_token(t) for t in inp.target_tokens]
            cands: list[tuple[Span, Span | None, float]] = []
            for sp in spans:
                aligned = sorted({j for i in range(sp.start, sp.end) for j in by_src.get(i, ())})
                run = self.best_run(aligned, breaks)
                if run is None:
                    cands.append((sp, None, 0.0))
                    continue
                a, b, _ = run
                ratio = min(b - a, len(sp)) / max(b - a, len(sp))
                cands.append((sp, Span(a, b, sp.label), ratio))
            # overlap resolution: higher ratio first; ties keep source order
            order = sorted(range(len(cands)), key=lambda k: (-cands[k][2], k))
            taken: list[Span] = []
            status: dict[int, EntityStatus] = {}
            for k in order:
                sp, tgt, score = cands[k]
                if tgt is None:
                    status[k] = EntityStatus.UNALIGNED
                elif score < self.threshold:
                    status[k] = EntityStatus.BELOW_THRESHOLD
                elif any(t.start < tgt.end and tgt.start < t.end for t in taken):
                    status[k] = EntityStatus.CONFLICT
                else:
                    status[k] = EntityStatus.PROJECTED
                    taken.append(tgt)
            ents = [ProjectedEntity(sp, tgt, score, self.name, status[k]) for k, (sp, tgt, score) in enumerate(cands)]
            out.append(make_sentence(inp, ents))
        return out
