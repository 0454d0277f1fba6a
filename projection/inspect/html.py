"""The self-contained HTML report of a run: manifest, statistics, plots, sentences.

One file, no network: the CSS and JavaScript are inline and the matplotlib figures are
PNG ``data:`` URIs, so the report can be mailed, attached to a paper's supplementary
material or opened on an air-gapped machine and look the same.

Sentences are rendered with spaCy's displaCy (entity style, ``manual=True``) with a small
template that adds the entity's number and status: the source line shows every source
entity, the target line the projected spans, and hovering an entity (or its row in the
table under the pair) highlights its counterpart on the other side. The table lists the
word-alignment links inside each entity, so a wrong projection can be traced to the
links that caused it.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import math
import random
from importlib import resources
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.inspect import plots
from projection.inspect.colors import DEFAULT_COLOR, STATUS_COLORS, label_colors
from projection.inspect.results import METRICS, Results, aggregate, fmt_metric
from projection.inspect.run import Run, drop_reason, is_kept
from projection.inspect.select import ENTITY_STATUSES, SENTENCE_STATUSES, Filter
from projection.inspect.stats import SHOWN_STATUSES, drop_reasons, kept_projections, labels_of, status_count, status_totals
from projection.records import EntityStatus, ProjectedEntity, ProjectedSentence
from projection.store import atomic_write_text

esc = html.escape

#: displaCy's entity template with the entity number, status and a tooltip added.
ENT_TEMPLATE = (
    '<mark class="entity" data-ref="{ref}" data-status="{status}" data-kept="{kept}" title="{tip}" '
    'style="background: {bg}; padding: 0.2em 0.4em; margin: 0 0.15em; line-height: 1; border-radius: 0.35em;">'
    '{text}<span class="ent-label">{label_html}<sup>{num}</sup></span></mark>'
)
PAGE_SIZE = 50  # cards shown at once in the filterable list
LOWEST = 8  # sentences in the "lowest-scoring examples" section
MAX_LIST_ITEMS = 24  # manifest lists longer than this are cut


def _score(x: float) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.2f}"


def _rate(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --------------------------------------------------------------------------- sentences


def _painted(entities: Sequence[ProjectedEntity], side: str, n_tokens: int) -> list[int]:
    """Indices of the entities drawn on one side: no overlaps (displaCy's entity style needs
    disjoint spans), kept projections first, then the others where they still fit."""
    taken = [False] * n_tokens
    chosen = []
    order = sorted(range(len(entities)), key=lambda k: entities[k].status != EntityStatus.PROJECTED)
    for k in order:
        span = entities[k].source if side == "source" else entities[k].target
        if span is None or span.end > n_tokens or any(taken[span.start : span.end]):
            continue
        for i in range(span.start, span.end):
            taken[i] = True
        chosen.append(k)
    return chosen


@functools.lru_cache(maxsize=8)
def _renderer(colors: tuple[tuple[str, str], ...]) -> Any:
    """displaCy's entity renderer, built once: ``displacy.render`` builds a new one per call and
    each one scans the colour registry's entry points (~2 ms, a third of a large report's time)."""
    from spacy.displacy.render import EntityRenderer

    return EntityRenderer({"colors": dict(colors), "template": ENT_TEMPLATE})


def displacy_side(tokens: Sequence[str], entities: Sequence[ProjectedEntity], side: str,
                  colors: dict[str, str], lang: str) -> str:
    """One sentence side as displaCy entity markup; entities numbered as in the table below it."""
    if not tokens:
        return '<div class="entities empty">(empty translation)</div>'
    text = " ".join(tokens)
    starts, pos = [], 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + 1
    ents = []
    for k in _painted(entities, side, len(tokens)):
        e = entities[k]
        span = e.source if side == "source" else e.target
        assert span is not None
        status = str(e.status)
        kept = side == "source" or e.status == EntityStatus.PROJECTED
        tip = f"{e.source.label} {k + 1}: {status}, score {_score(e.score)}, {e.method}"
        ents.append({
            "start": starts[span.start],
            "end": starts[span.end - 1] + len(tokens[span.end - 1]),
            "label": e.source.label,
            "params": {"ref": k + 1, "num": k + 1, "status": esc(status), "kept": int(kept), "tip": esc(tip),
                       "label_html": esc(e.source.label)},
        })
    ents.sort(key=lambda d: d["start"])
    markup = _renderer(tuple(sorted(colors.items()))).render([{"text": text, "ents": ents, "title": None}]).strip()
    return markup.replace('<div class="entities"', f'<div lang="{esc(lang)}" class="entities"', 1)


def _word_links(ps: ProjectedSentence, e: ProjectedEntity) -> str:
    if not len(ps.alignment):
        return '<span class="muted">no word alignment stored</span>'
    by_src: dict[int, list[int]] = {}
    for i, j in ps.alignment:
        by_src.setdefault(i, []).append(j)
    parts = []
    for i in range(e.source.start, e.source.end):
        tgt = [ps.target_tokens[j] for j in by_src.get(i, []) if 0 <= j < len(ps.target_tokens)]
        right = " + ".join(esc(t) for t in tgt) if tgt else '<span class="none">∅</span>'
        parts.append(f"{esc(ps.source.tokens[i])}&nbsp;→&nbsp;{right}")
    return " · ".join(parts)




@functools.lru_cache(maxsize=None)
def _environment() -> Any:
    """The Jinja2 environment of the package's ``templates/`` folder, with autoescaping: every value
    is escaped unless it is :class:`Markup` (HTML this module built, from escaped parts)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("projection.inspect", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(flat_items=_flat_items, plain_items=_plain_items)
    env.globals["max_items"] = MAX_LIST_ITEMS
    return env


def _template(name: str) -> Any:
    return _environment().get_template(name)


@functools.lru_cache(maxsize=None)
def static_file(name: str) -> str:
    """A file of the package's ``static/`` folder (the report's CSS and JavaScript), as text."""
    return resources.files("projection.inspect").joinpath("static", name).read_text(encoding="utf-8")


def sentence_card(ps: ProjectedSentence, colors: dict[str, str], langs: tuple[str, str], anchor: str) -> str:
    from markupsafe import Markup

    rows = []
    for k, e in enumerate(ps.entities, start=1):
        status = str(e.status)
        rows.append({
            "k": k, "label": e.source.label, "color": colors.get(e.source.label, DEFAULT_COLOR),
            "src": " ".join(ps.source.tokens[e.source.start : e.source.end]),
            "tgt": " ".join(ps.target_tokens[e.target.start : e.target.end]) if e.target else None,
            "score": _score(e.score), "status": status, "status_color": STATUS_COLORS.get(status, "#888"),
            "method": e.method, "links": Markup(_word_links(ps, e)),
        })
    ents_json = json.dumps([[e.source.label, str(e.status), None if math.isnan(e.score) else round(e.score, 4)]
                            for e in ps.entities], ensure_ascii=False)
    search = (" ".join(ps.source.tokens) + " \n " + " ".join(ps.target_tokens)).lower()
    return _template("card.html.j2").render(
        ps=ps, anchor=anchor, kept=is_kept(ps), reason=drop_reason(ps) or "", n=len(ps.entities), langs=langs,
        ents_json=ents_json, search=search, rows=rows,
        source_html=Markup(displacy_side(ps.source.tokens, ps.entities, "source", colors, langs[0])),
        target_html=Markup(displacy_side(ps.target_tokens, ps.entities, "target", colors, langs[1])))


def lowest_scoring_sentences(run: Run, n: int = LOWEST) -> list[ProjectedSentence]:
    """The sentences holding the lowest-scoring projections that went into ``projected.conll``, lowest first."""
    by_id = {ps.id: ps for ps in run.sentences}
    ents = kept_projections(run)
    ents = ents[ents["score"].notna()].sort_values("score", kind="stable")
    out, seen = [], set()
    for sid in ents["id"].astype(str):
        if sid not in seen and sid in by_id:
            seen.add(sid)
            out.append(by_id[sid])
            if len(out) == n:
                break
    return out


# --------------------------------------------------------------------------- tables (data for the templates)


def _flat_items(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}, "c": 2}`` -> ``[("a.b", 1), ("c", 2)]``."""
    if isinstance(value, dict) and value:
        return [item for k, v in value.items() for item in _flat_items(v, f"{prefix}{k}.")]
    return [(prefix[:-1], value)]


def _plain_items(value: dict[str, Any]) -> list[tuple[str, Any]]:
    """The entries of ``value`` that are not themselves non-empty mappings."""
    return [(k, v) for k, v in value.items() if not (isinstance(v, dict) and v)]


def _statistics(stats: dict[str, Any], colors: dict[str, str]) -> dict[str, Any]:
    """What ``templates/statistics.html.j2`` lays out: the per-label table (formatted figures of
    ``stats["counts"]``), entity lengths, drop reasons and methods."""
    c = stats["counts"]
    totals = status_totals(c)
    rows = []
    for label, more in stats["labels"].items():
        r = c["per_label"].get(label, {})
        rows.append({"label": label, "color": colors.get(label, DEFAULT_COLOR), "cells": [
            f"{r.get('entities', 0):,}", f"{r.get('projected', 0):,}", _rate(r.get("rate")),
            *(f"{status_count(r, st):,}" for st in SHOWN_STATUSES), f"{more['in_kept_sentences']:,}",
            _score(more["mean_score"])]})
    table = {"head": ["label", "source", "projected", "rate", *SHOWN_STATUSES, "in kept sentences", "mean score"],
             "rows": rows,
             "foot": ["all", f"{c['entities']:,}", f"{c['projected']:,}", _rate(c["rate"]),
                      *(f"{totals[st]:,}" for st in SHOWN_STATUSES), f"{c['entities_in_output']:,}", ""]}
    return {"table": table, "length": stats["length"],
            "drop_reasons": [[k, f"{v:,}"] for k, v in drop_reasons(c).items()],
            "methods": [[k, f"{v:,}"] for k, v in stats["methods"].items()]}


def _comparison(results: Results) -> dict[str, Any]:
    """What ``templates/comparison.html.j2`` lays out: mean ± sd per system, the charts, every row."""
    agg = aggregate(results)
    rows = [[str(r["system"]), str(r["train"]), str(r["test"]), f"{r['seeds']}",
             *(fmt_metric(r[f"{m}_mean"], r[f"{m}_std"]) for m in METRICS)]
            for r in agg.to_dict("records")]
    return {"path": str(results.path), "rows": rows,
            "skipped": len(results.rows) - (int(agg["seeds"].sum()) if len(agg) else 0),
            "charts": [(p.name, _png_uri(p.read_bytes())) for p in results.charts],
            "raw_head": [str(col) for col in results.rows.columns],
            "raw_rows": [[str(v) for v in r] for r in results.rows.astype(str).itertuples(index=False)],
            "markdown": results.markdown}


# --------------------------------------------------------------------------- page




def render_html(
    run: Run,
    stats: dict[str, Any],
    selection: list[ProjectedSentence],
    filt: Filter | None = None,
    results: Results | None = None,
    max_sentences: int = 1000,
    seed: int = 0,
) -> str:
    """The report as one HTML string (``selection``: the sentences for the filterable list).

    The page and the sentence cards are the Jinja2 templates ``templates/report.html.j2`` and
    ``templates/card.html.j2`` with autoescaping: labels, tokens, ids, paths and every other string
    from the run are escaped where they are placed. The CSS and JavaScript are the package's
    ``static/`` files, inlined."""
    from markupsafe import Markup

    filt = filt or Filter()
    labels = labels_of(run)
    colors = label_colors(labels)
    langs = run.languages
    sample = None
    if len(selection) > max_sentences:
        keep = sorted(random.Random(seed).sample(range(len(selection)), max_sentences))
        sample = {"seed": seed, "shown": max_sentences, "total": len(selection)}
        selection = [selection[i] for i in keep]

    c = stats["counts"]
    figures = [
        (f"{c['sentences_in']:,}", "source sentences"),
        (f"{c['sentences_out']:,}", "kept (in projected.conll)"),
        (f"{c['sentences_in'] - c['sentences_out']:,}", "dropped"),
        (f"{c['entities']:,}", "source entities"),
        (_rate(c["rate"]), "projection rate"),
        (f"{c['entities_in_output']:,}", "entities in projected.conll"),
    ]
    edges = stats["score_histogram"]["edges"]
    plot_imgs = [
        ("Projection rate per label", plots.rate_per_label(stats)),
        ("Entity length, source vs target", plots.length_source_target(run.entities)),
        ("Score distribution", plots.score_distribution(run.entities, edges)),
        ("Lowest-scoring projections in projected.conll", plots.lowest_scoring(kept_projections(run), colors)),
    ]
    nav = [("summary", "Summary"), ("manifest", "Manifest"), ("statistics", "Statistics"), ("plots", "Plots")]
    if results is not None:
        nav.append(("comparison", "Comparison"))
    nav += [("lowest", "Lowest scores"), ("sentences", "Sentences")]
    title = f"Projection report · {run.name}"
    return _template("report.html.j2").render(
        title=title, run_name=run.name, langs=langs, run_path=str(run.path), nav=nav, warnings=run.warnings,
        figures=figures, plots=[(t, _png_uri(p)) for t, p in plot_imgs],
        manifest=run.manifest, manifest_json=json.dumps(run.manifest, indent=2, ensure_ascii=False, default=str),
        statistics=_statistics(stats, colors), comparison=_comparison(results) if results is not None else None,
        legend=[(st, STATUS_COLORS[st]) for st in ENTITY_STATUSES],
        lowest=[Markup(sentence_card(ps, colors, langs, f"low-{i}"))
                for i, ps in enumerate(lowest_scoring_sentences(run))],
        selection=filt.describe(), sample=sample, labels=labels, statuses=(*ENTITY_STATUSES, *SENTENCE_STATUSES),
        cards=[Markup(sentence_card(ps, colors, langs, f"s-{i}")) for i, ps in enumerate(selection)],
        page_size=PAGE_SIZE, css=Markup(static_file("report.css")), js=Markup(static_file("report.js")))


class HtmlReport:
    """Writes the self-contained HTML report (``projection inspect RUN --html FILE``)."""

    name = "html"

    def __init__(self, path: str | Path, *, max_sentences: int = 1000, seed: int = 0) -> None:
        self.path = Path(path)
        self.max_sentences = max_sentences
        self.seed = seed

    def signature(self) -> dict[str, Any]:
        return {"view": self.name, "max_sentences": self.max_sentences, "seed": self.seed}

    def render(self, run: Run, stats: dict[str, Any], selection: list[ProjectedSentence], filt: Filter,
               results: Results | None = None) -> Path:
        atomic_write_text(self.path, render_html(run, stats, selection, filt, results, self.max_sentences, self.seed))
        return self.path
