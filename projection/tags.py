"""Tag schemes: IOB1, IOB2 (= BIO) and IOBES (= BIOES) <-> spans.

Reading is lenient in the way the CoNLL evaluation script is: ``B-X`` always starts an
entity, and ``I-X`` starts one unless it directly follows ``B-X``/``I-X`` of the same
type. That one rule parses IOB1 (CoNLL-2003 English) and IOB2 (everything else) alike,
including the few ``I``-initial entities in IOB2 files, so spans never depend on a
guessed scheme. IOBES tags read the same way, plus: ``S-X`` is a one-token entity and
``E-X`` closes the entity it continues (or is a one-token entity after anything else).
Writing is always explicit: IOB2 by default, IOB1 or IOBES on request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from projection.records import Span

TAG_RE = re.compile(r"^(?:O|([BIES])-(\S+))$")
SCHEMES = ("iob2", "bio", "iob1", "iobes", "bioes")


def parse_tag(tag: str) -> tuple[str, str | None]:
    """Return ``(prefix, label)`` for ``O``/``B-X``/``I-X``/``E-X``/``S-X``; raise ``ValueError`` otherwise."""
    m = TAG_RE.match(tag)
    if m is None:
        raise ValueError(f"tag {tag!r} is not O, B-LABEL or I-LABEL (or E-LABEL, S-LABEL in IOBES)")
    if m.group(1) is None:
        return "O", None
    return m.group(1), m.group(2)


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """Entity spans (end exclusive) from IOB1, IOB2 or IOBES tags."""
    spans: list[Span] = []
    start = -1
    label: str | None = None
    for i, tag in enumerate(tags):
        prefix, lab = parse_tag(tag)
        continues = prefix in ("I", "E") and label is not None and lab == label
        if not continues:
            if label is not None:
                spans.append(Span(start, i, label))
            if prefix == "O":
                label, start = None, -1
            else:
                label, start = lab, i
        if prefix in ("E", "S"):  # the entity ends on this token
            spans.append(Span(start, i + 1, label))  # type: ignore[arg-type]
            label, start = None, -1
    if label is not None:
        spans.append(Span(start, len(tags), label))
    return spans


def spans_to_tags(spans: Iterable[Span], length: int, scheme: str = "iob2") -> list[str]:
    """Tags for ``length`` tokens from non-overlapping spans, in ``iob2`` (BIO), ``iob1`` or ``iobes`` (BIOES)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; use {', '.join(SCHEMES)}")
    tags = ["O"] * length
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    prev: Span | None = None
    for span in ordered:
        if span.start < 0 or span.end > length or span.start >= span.end:
            raise ValueError(f"span {span} does not fit a sentence of {length} tokens")
        if prev is not None and span.start < prev.end:
            raise ValueError(f"spans {prev} and {span} overlap")
        if scheme in ("iobes", "bioes"):
            if len(span) == 1:
                tags[span.start] = f"S-{span.label}"
            else:
                tags[span.start] = f"B-{span.label}"
                for i in range(span.start + 1, span.end - 1):
                    tags[i] = f"I-{span.label}"
                tags[span.end - 1] = f"E-{span.label}"
            prev = span
            continue
        if scheme == "iob1":
            adjacent_same = prev is not None and prev.end == span.start and prev.label == span.label
            first = "B" if adjacent_same else "I"
        else:
            first = "B"
        tags[span.start] = f"{first}-{span.label}"
        for i in range(span.start + 1, span.end):
            tags[i] = f"I-{span.label}"
        prev = span
    return tags


def tag_names(labels: Iterable[str], scheme: str = "iob2") -> list[str]:
    """Every tag of ``scheme`` for ``labels``: ``O``, then per label (sorted) ``B``, ``I`` (and ``E``, ``S``)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; use {', '.join(SCHEMES)}")
    prefixes = ("B", "I", "E", "S") if scheme in ("iobes", "bioes") else ("B", "I")
    return ["O"] + [f"{p}-{lab}" for lab in sorted(set(labels)) for p in prefixes]


def to_iob2(tags: Sequence[str]) -> list[str]:
    return spans_to_tags(tags_to_spans(tags), len(tags), "iob2")


def to_iob1(tags: Sequence[str]) -> list[str]:
    return spans_to_tags(tags_to_spans(tags), len(tags), "iob1")


def to_iobes(tags: Sequence[str]) -> list[str]:
    return spans_to_tags(tags_to_spans(tags), len(tags), "iobes")
