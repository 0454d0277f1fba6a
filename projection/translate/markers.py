"""Mark-then-translate: put markers around source entities, translate, read target spans back.

This is the EasyProject / T-Projection family of label projection: instead of aligning
words after translation, the MT system carries the entity boundaries itself. Two styles:

* ``html`` (Apertium): ``<span class="PER" id="e0">Peter Blackburn</span>``. Apertium keeps
  the markup as word-bound blanks that move with their words; a multi-word entity may
  come back in pieces (``<span class="PER" id="e0">Peter</span> <span ... id="e0">Blackburn</span>``),
  which are merged again. Text is HTML-escaped.
* ``brackets`` (NLLB, EasyProject's format): ``[ Peter Blackburn ]``, no labels; labels are
  given back by order when the number of pairs matches the source, otherwise by fuzzy
  matching the bracketed text against the source entity texts. Literal square brackets
  in the source are turned into round ones so they cannot be confused with markers.

:func:`parse_marked` returns the target words (spaCy rule-based tokenizer, the same as
:func:`projection.translate.text.tokenize` on the marker-free text), the target
:class:`~projection.records.Span` s over those words, and counts: ``lost`` (source
entities with no target span), ``broken`` (unpaired, nested, empty or unassignable
markers) and ``merged`` (pieces of a split entity joined into one span).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from projection.errors import ProjectionError
from projection.records import Sentence, Span
from projection.translate.text import detokenize, tokenize_with_offsets

STYLES = ("html", "brackets")
_LABEL_OK = re.compile(r"^[A-Za-z0-9_.-]+$")
_HTML_MARK = re.compile(r"<span\s+class\s*=\s*[\"']([^\"']*)[\"'](?:\s+id\s*=\s*[\"']([^\"']*)[\"'])?\s*>|</span\s*>")
_BRACKET_MARK = re.compile(r"\[\s*|\s*\]")  # the spaces inside "[ x ]" belong to the markers


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise ProjectionError(f"unknown marker style {style!r}; choose one of: {', '.join(STYLES)}")


def token_offsets(tokens: Sequence[str], text: str) -> list[tuple[int, int]] | None:
    """Character offsets of ``tokens`` in their detokenised ``text``, or None if they cannot be found in order."""
    pos = 0
    out = []
    for tok in tokens:
        i = text.find(tok, pos)
        if i < 0 or text[pos:i].strip():
            return None
        out.append((i, i + len(tok)))
        pos = i + len(tok)
    return out


def mark(tokens: Sequence[str], spans: Sequence[Span], style: str, lang: str = "en") -> str:
    """The detokenised source sentence with markers around each entity span.

    ``html``: ``<span class="LABEL" id="eK">...</span>`` (K = index of the span in
    ``spans``), text HTML-escaped. ``brackets``: ``[ ... ]``, literal brackets in the text
    become ``(``/``)``.
    """
    _check_style(style)
    tokens = [t for t in tokens]
    if style == "brackets":
        tokens = [t.replace("[", "(").replace("]", ")") for t in tokens]
    for sp in spans:
        if not 0 <= sp.start < sp.end <= len(tokens):
            raise ProjectionError(f"span {sp} is outside the sentence of {len(tokens)} tokens")
        if style == "html" and not _LABEL_OK.match(sp.label):
            raise ProjectionError(f"label {sp.label!r} cannot be used as an HTML class")
    text = detokenize(tokens, lang)
    offsets = token_offsets(tokens, text)
    if offsets is None:  # the detokenizer rewrote a token: fall back to spaces, which always works
        text = " ".join(tokens)
        offsets = token_offsets(tokens, text)
        assert offsets is not None
    inserts: list[tuple[int, int, str]] = []  # (char position, order, marker)
    for k, sp in enumerate(sorted(spans, key=lambda s: (s.start, s.end))):
        k_orig = list(spans).index(sp)
        s, e = offsets[sp.start][0], offsets[sp.end - 1][1]
        if style == "html":
            inserts.append((s, 1, f'<span class="{sp.label}" id="e{k_orig}">'))
            inserts.append((e, 0, "</span>"))
        else:
            inserts.append((s, 1, "[ "))
            inserts.append((e, 0, " ]"))
    out: list[str] = []
    pos = 0
    for at, _, marker in sorted(inserts, key=lambda x: (x[0], x[1])):
        chunk = text[pos:at]
        out.append(html.escape(chunk, quote=False) if style == "html" else chunk)
        out.append(marker)
        pos = at
    tail = text[pos:]
    out.append(html.escape(tail, quote=False) if style == "html" else tail)
    return "".join(out)


@dataclass
class MarkedTranslation:
    """A translation with markers parsed out."""

    text: str  # the translation without markers
    tokens: list[str]
    spans: list[Span]
    lost: int = 0
    broken: int = 0
    merged: int = 0
    expected: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def sentence(self, id: str = "") -> Sentence:
        return Sentence.from_spans(id, self.tokens, self.spans)


def _strip_markers(text: str, style: str) -> tuple[str, list[tuple[str, int, str | None, str | None]]]:
    """Marker-free text (whitespace collapsed) and marker events ``(kind, char pos, label, id)``."""
    pattern = _HTML_MARK if style == "html" else _BRACKET_MARK
    pieces: list[str] = []
    events: list[tuple[str, int, str | None, str | None]] = []
    raw_len = 0
    pos = 0
    for m in pattern.finditer(text):
        seg = text[pos : m.start()]
        seg = html.unescape(seg) if style == "html" else seg
        pieces.append(seg)
        raw_len += len(seg)
        tok = m.group(0)
        if style == "html":
            kind = "close" if tok.startswith("</") else "open"
            events.append((kind, raw_len, m.group(1) if kind == "open" else None, m.group(2) if kind == "open" else None))
        else:
            events.append(("open" if tok.strip() == "[" else "close", raw_len, None, None))
        pos = m.end()
    tail = text[pos:]
    pieces.append(html.unescape(tail) if style == "html" else tail)
    raw = "".join(pieces)
    # collapse whitespace, mapping raw positions to clean positions
    clean: list[str] = []
    mapping = [0] * (len(raw) + 1)
    prev_space = True  # drops leading whitespace
    for i, c in enumerate(raw):
        mapping[i] = len(clean)
        if c.isspace():
            if not prev_space:
                clean.append(" ")
            prev_space = True
        else:
            clean.append(c)
            prev_space = False
    mapping[len(raw)] = len(clean)
    text_out = "".join(clean)
    if text_out.endswith(" "):
        text_out = text_out[:-1]
    events = [(k, min(mapping[p], len(text_out)), lab, ident) for k, p, lab, ident in events]
    return text_out, events


def _assign_by_text(pieces: list[tuple[int, int]], words: list[str], sources: list[tuple[str, str]]) -> list[str | None]:
    from rapidfuzz import fuzz

    scored = []
    for pi, (s, e) in enumerate(pieces):
        ptxt = " ".join(words[s:e])
        for si, (_, stxt) in enumerate(sources):
            scored.append((fuzz.ratio(ptxt.lower(), stxt.lower()), pi, si))
    labels: list[str | None] = [None] * len(pieces)
    used_p, used_s = set(), set()
    for score, pi, si in sorted(scored, reverse=True):
        if score < 50 or pi in used_p or si in used_s:
            continue
        labels[pi] = sources[si][0]
        used_p.add(pi)
        used_s.add(si)
    return labels


def parse_marked(text: str, style: str, lang: str, expected: Sequence[str] | Sequence[tuple[str, str]] | None = None) -> MarkedTranslation:
    """Target words, target spans and marker counts from a marked translation.

    ``expected`` describes the source entities, in source order: their labels, or
    ``(label, entity text)`` pairs (needed to label ``brackets`` output whose number of
    pairs differs from the source). Without it, nothing can be lost, bracket spans get
    the empty label and html pieces are merged whenever they are adjacent.
    """
    _check_style(style)
    exp_pairs: list[tuple[str, str]] | None = None
    if expected is not None:
        exp_pairs = [(e, "") if isinstance(e, str) else (str(e[0]), str(e[1])) for e in expected]
    clean, events = _strip_markers(text, style)
    words = tokenize_with_offsets(clean, lang)
    tokens = [w for w, _, _ in words]

    # pair open/close markers
    broken = 0
    raw_pieces: list[tuple[int, int, str | None, str | None]] = []  # (char start, char end, label, id)
    open_ev: tuple[int, str | None, str | None] | None = None
    for kind, pos, label, ident in events:
        if kind == "open":
            if open_ev is not None:
                broken += 1  # nested or unclosed: the outer marker is dropped
            open_ev = (pos, label, ident)
        else:
            if open_ev is None:
                broken += 1
                continue
            raw_pieces.append((open_ev[0], pos, open_ev[1], open_ev[2]))
            open_ev = None
    if open_ev is not None:
        broken += 1

    # characters -> words (a word overlapping the marked characters belongs to the span)
    pieces: list[tuple[int, int, str | None, str | None]] = []
    for cs, ce, label, ident in raw_pieces:
        idx = [k for k, (_, ws, we) in enumerate(words) if ws < ce and we > cs]
        if not idx:
            broken += 1  # empty entity
            continue
        pieces.append((idx[0], idx[-1] + 1, label, ident))
    pieces.sort(key=lambda p: (p[0], p[1]))

    exp_count = Counter(lab for lab, _ in exp_pairs) if exp_pairs is not None else None
    n_expected = len(exp_pairs) if exp_pairs is not None else 0

    # merge pieces of a split entity: same id; or, without ids, adjacent pieces of one label
    # while there are more pieces of that label than source entities (all of them when unknown)
    merged = 0
    remaining = Counter(label for _, _, label, _ in pieces)
    out: list[list[Any]] = []
    for s, e, label, ident in pieces:
        if out:
            ps, pe, plabel, pident = out[-1]
            same_id = ident is not None and ident == pident
            adjacent = s <= pe and plabel == label and ident is None and pident is None
            if label is None:
                too_many = exp_pairs is None or sum(remaining.values()) > n_expected
            else:
                too_many = exp_count is None or remaining[label] > exp_count.get(label, 0)
            if same_id or (adjacent and too_many):
                out[-1] = [ps, max(pe, e), plabel, pident]
                remaining[label] -= 1
                merged += 1
                continue
        out.append([s, e, label, ident])

    # pieces of the same id that were not adjacent: keep one span covering them if nothing else is inside
    by_id: dict[str, list[int]] = {}
    for k, p in enumerate(out):
        if p[3] is not None:
            by_id.setdefault(p[3], []).append(k)
    drop: set[int] = set()
    for ident, ks in by_id.items():
        if len(ks) < 2:
            continue
        first, last = ks[0], ks[-1]
        between = [k for k in range(first + 1, last) if k not in ks]
        if between:
            # interleaved with another entity ("Daniel keniano Kiprono"): one span per entity,
            # the longest piece; the others are counted as broken
            best = max(ks, key=lambda k: (out[k][1] - out[k][0], -k))
            drop.update(k for k in ks if k != best)
            broken += len(ks) - 1
            continue
        out[first] = [out[first][0], out[last][1], out[first][2], ident]
        drop.update(ks[1:])
        merged += len(ks) - 1
    out = [p for k, p in enumerate(out) if k not in drop]

    # labels for brackets
    if style == "brackets":
        if exp_pairs is not None and len(out) == len(exp_pairs):
            for p, (lab, _) in zip(out, exp_pairs):
                p[2] = lab
        elif exp_pairs is not None and any(t for _, t in exp_pairs):
            for p, lab in zip(out, _assign_by_text([(p[0], p[1]) for p in out], tokens, exp_pairs)):
                p[2] = lab
        elif exp_pairs is not None and len(set(lab for lab, _ in exp_pairs)) == 1:
            for p in out[: len(exp_pairs)]:
                p[2] = exp_pairs[0][0]
        elif exp_pairs is None:
            for p in out:
                p[2] = ""

    # resolve overlaps and duplicates; count what could not be kept
    spans: list[Span] = []
    last_end = -1
    for s, e, label, _ in out:
        if label is None or s < last_end:
            broken += 1
            continue
        spans.append(Span(s, e, label))
        last_end = e
    if exp_count is not None:
        found = Counter(sp.label for sp in spans)
        extra = sum(max(0, found[lab] - exp_count.get(lab, 0)) for lab in found)
        if extra:  # more target entities of a label than the source had: keep the first ones
            keep: list[Span] = []
            seen: Counter[str] = Counter()
            for sp in spans:
                if seen[sp.label] < exp_count.get(sp.label, 0):
                    keep.append(sp)
                    seen[sp.label] += 1
            broken += len(spans) - len(keep)
            spans = keep
            found = Counter(sp.label for sp in spans)
        lost = sum(max(0, n - found.get(lab, 0)) for lab, n in exp_count.items())
    else:
        lost = 0
    return MarkedTranslation(clean, tokens, spans, lost=lost, broken=broken, merged=merged, expected=n_expected)


def marked_sources(sentences: Sequence[Sentence], style: str, lang: str = "en") -> list[str]:
    """:func:`mark` for each sentence with its own entity spans."""
    return [mark(s.tokens, s.spans, style, lang) for s in sentences]


def translate_marked(translator: Any, sentences: Sequence[Sentence]) -> list[MarkedTranslation]:
    """Mark each sentence's entities, translate, and parse the target spans back.

    The marker style is the translator's (``marker_style``); Apertium must have been
    created with ``markers=True``. Works with a cached translator.
    """
    style = translator.marker_style
    if style == "html" and not getattr(translator, "markers", False):
        raise ProjectionError(f"{translator.name}: create the translator with markers=True for marked input")
    src_lang, tgt_lang = translator.src_lang, translator.tgt_lang
    marked = marked_sources(sentences, style, src_lang)
    outputs = translator.translate(marked)
    results = []
    for s, out in zip(sentences, outputs):
        expected = [(sp.label, detokenize(s.tokens[sp.start : sp.end], src_lang)) for sp in s.spans]
        res = parse_marked(out, style, tgt_lang, expected)
        res.meta = {"source_id": s.id, "marked_source": None, "marked_translation": out}
        results.append(res)
    for res, m in zip(results, marked):
        res.meta["marked_source"] = m
    return results


def marker_stats(results: Sequence[MarkedTranslation]) -> dict[str, int]:
    """Totals over a corpus: entities expected / found / lost, markers broken, pieces merged."""
    return {
        "entities": sum(r.expected for r in results),
        "found": sum(len(r.spans) for r in results),
        "lost": sum(r.lost for r in results),
        "broken": sum(r.broken for r in results),
        "merged": sum(r.merged for r in results),
        "complete_sentences": sum(1 for r in results if r.lost == 0 and r.broken == 0),
    }
