"""One colour per label and per status, shared by the terminal view, displaCy and the plots,
so an ORG looks the same everywhere. The CoNLL labels take displaCy's own colours."""

from __future__ import annotations

from collections.abc import Iterable

LABEL_COLORS = {
    "PER": "#aa9cfc",  # displaCy PERSON
    "ORG": "#7aecec",  # displaCy ORG
    "LOC": "#feca74",  # displaCy GPE
    "MISC": "#bfeeb7",  # displaCy PRODUCT
}
EXTRA_COLORS = ("#ff9561", "#f0d0ff", "#ffeb80", "#c887fb", "#9cc9cc", "#e4e7d2", "#ff8197", "#bfe1d9")
DEFAULT_COLOR = "#dddddd"

STATUS_COLORS = {
    "projected": "#2e9d57",
    "below-threshold": "#d9a300",
    "conflict": "#c2559a",
    "unaligned": "#d8413a",
    "removed": "#8a8a8a",  # projected, then removed by the target's lower-case convention
}


def label_colors(labels: Iterable[str]) -> dict[str, str]:
    """Colours for ``labels``: fixed ones for CoNLL, then a palette in the order given."""
    out: dict[str, str] = {}
    extra = iter(EXTRA_COLORS)
    for label in labels:
        key = label.upper()
        if key in LABEL_COLORS:
            out[label] = LABEL_COLORS[key]
        else:
            out[label] = next(extra, DEFAULT_COLOR)
    return out
