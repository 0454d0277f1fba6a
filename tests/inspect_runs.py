"""Hand-made projection runs for the inspect tests: every entity status, dropped sentences,
an empty translation, non-ASCII text, overlapping target spans and HTML-looking tokens."""

from __future__ import annotations

from pathlib import Path

from projection.records import Alignment, EntityStatus, ProjectedEntity, ProjectedSentence, Sentence, Span
from projection.rundir import write_run

P, U, C, B = EntityStatus.PROJECTED, EntityStatus.UNALIGNED, EntityStatus.CONFLICT, EntityStatus.BELOW_THRESHOLD


def _ps(sid, src, tgt, ents, links=(), kept=True, reason=None):
    spans = [Span(s, e, label) for (s, e, label), *_ in ents]
    source = Sentence.from_spans(sid, src.split(), spans)
    entities = [
        ProjectedEntity(Span(s, e, label), Span(*t, label) if t else None, score, "align", status)
        for (s, e, label), t, score, status in ents
    ]
    return ProjectedSentence(source, tgt.split() if tgt else [], entities, Alignment.of(links), tgt, {}, kept, reason)


def sentences() -> list[ProjectedSentence]:
    return [
        _ps("s1", "Barack Obama visited Paris yesterday .", "Barack Obama visitó París ayer .",
            [((0, 2, "PER"), (0, 2), 0.97, P), ((3, 4, "LOC"), (3, 4), 0.91, P)],
            [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]),
        _ps("s2", "The European Union and Germany agreed .", "La Unión Europea y Alemania acordaron .",
            [((1, 3, "ORG"), (1, 3), 0.88, P), ((4, 5, "LOC"), None, 0.0, U)],
            [(0, 0), (1, 2), (2, 1), (3, 3), (5, 5), (6, 6)], kept=False, reason="incomplete"),
        _ps("s3", "Gómez joined Real Madrid in Málaga .", "Gómez fichó por el Real Madrid en Málaga .",
            [((0, 1, "PER"), (0, 1), 0.95, P), ((2, 4, "ORG"), (4, 6), 0.35, B), ((5, 6, "LOC"), (7, 8), 0.82, P)],
            [(0, 0), (1, 1), (2, 4), (3, 5), (4, 6), (5, 7), (6, 8)]),
        _ps("s4", "Reuters reported the Tokyo talks .", "", [((0, 1, "ORG"), None, 0.0, U), ((3, 4, "LOC"), None, 0.0, U)],
            [], kept=False, reason="empty-translation"),
        _ps("s5", "Microsoft and IBM talks in Zürich .", "Conversaciones de Microsoft e IBM en Zúrich .",
            [((0, 1, "ORG"), (2, 3), 0.64, P), ((2, 3, "ORG"), (2, 3), 0.41, C), ((5, 6, "LOC"), (6, 7), 0.77, P)],
            [(0, 2), (1, 3), (2, 2), (3, 0), (4, 5), (5, 6), (6, 7)]),
        _ps("s6", "The World Cup in 北京 .", "La Copa del Mundo en 北京 .",
            [((1, 3, "MISC"), (1, 4), 0.73, P), ((4, 5, "LOC"), (5, 6), 0.99, P)],
            [(0, 0), (1, 3), (2, 1), (3, 4), (4, 5), (5, 6)]),
        _ps("s7", "Nothing to see here .", "Nada que ver aquí .", [], [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)]),
        _ps("s8", "<b>Acme</b> & Sons said so .", "<b>Acme</b> & Sons lo dijo .",
            [((0, 3, "ORG"), (0, 3), 0.52, P)], [(0, 0), (1, 1), (2, 2), (3, 4), (4, 3), (5, 5)]),
    ]


MANIFEST = {
    "pipeline": "test-handmade",
    "source": {"corpus": "sample:train", "lang": "en"},
    "target_lang": "es",
    "engines": {"translate": {"engine": "given"}, "align": {"engine": "given", "method": "awesome"}},
    "counts": {"sentences": 8},
}


def make_run(root: Path, name: str = "es-test", items: list[ProjectedSentence] | None = None,
             record_files: bool = True) -> Path:
    """A run directory; ``record_files=False`` leaves the file records out of the manifest (as in
    manifests written before them), so that tests can damage the files' content by hand."""
    import json

    run = Path(root) / name
    manifest = dict(MANIFEST)
    write_run(run, items if items is not None else sentences(), manifest)
    if not record_files:
        manifest.pop("files")
        (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run


def many_sentences(n: int) -> list[ProjectedSentence]:
    """``n`` distinct sentences cycling through the hand-made ones (ids s1-0, s2-0, ...)."""
    base = sentences()
    out = []
    for k in range(n):
        ps = ProjectedSentence.from_dict(base[k % len(base)].to_dict())
        ps.source.id = f"{ps.source.id}-{k // len(base)}"
        out.append(ps)
    return out
