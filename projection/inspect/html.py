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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.inspect import plots
from projection.inspect.colors import DEFAULT_COLOR, STATUS_COLORS, label_colors
from projection.inspect.results import METRICS, Results, aggregate, fmt_metric
from projection.inspect.run import Run, drop_reason, is_kept
from projection.inspect.select import ENTITY_STATUSES, SENTENCE_STATUSES, Filter
from projection.inspect.stats import kept_projections, labels_of
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


CARD = """\
<article class="card" id="{{ anchor }}" data-kept="{{ kept|int }}" data-ents="{{ ents_json }}" data-text="{{ search }}">\
<header><a class="sid" href="#{{ anchor }}">{{ ps.id }}</a> \
{% if kept %}<span class="badge kept">kept</span>{% else %}<span class="badge dropped">dropped · {{ reason }}</span>{% endif %} \
<span class="muted">{{ n }} entit{{ "y" if n == 1 else "ies" }}</span></header>\
<div class="pair"><div class="side"><span class="lang">{{ langs[0] }}</span>{{ source_html }}</div>\
<div class="side"><span class="lang">{{ langs[1] }}</span>{{ target_html }}</div></div>\
{% if rows %}<table class="ents"><thead><tr><th></th><th>{{ langs[0] }}</th><th></th><th>{{ langs[1] }}</th>\
<th class="num">score</th><th>status</th><th>method</th><th>word alignment</th></tr></thead><tbody>\
{% for r in rows %}<tr data-ref="{{ r.k }}"><td><span class="tag" style="background:{{ r.color }}">\
{{ r.label }}<sup>{{ r.k }}</sup></span></td><td>{{ r.src }}</td><td class="arrow">→</td>\
<td>{% if r.tgt is not none %}{{ r.tgt }}{% else %}<span class=none>—</span>{% endif %}</td>\
<td class="num">{{ r.score }}</td><td><span class="st" style="--st:{{ r.status_color }}">\
{{ r.status }}</span></td><td class="muted">{{ r.method }}</td><td class="links">{{ r.links }}</td></tr>{% endfor %}\
</tbody></table>{% endif %}</article>"""


@functools.lru_cache(maxsize=None)
def _template(source: str) -> Any:
    """A Jinja2 template with autoescaping: every value is escaped unless it is :class:`Markup`
    (HTML this module built, from escaped parts)."""
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True).from_string(source)


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
    return _template(CARD).render(
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


# --------------------------------------------------------------------------- tables


def _flat_items(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}, "c": 2}`` -> ``[("a.b", 1), ("c", 2)]``."""
    if isinstance(value, dict) and value:
        return [item for k, v in value.items() for item in _flat_items(v, f"{prefix}{k}.")]
    return [(prefix[:-1], value)]


def _value_html(value: Any) -> str:
    if isinstance(value, list):
        if not value:
            return '<code>[]</code>'
        more = f' <span class="muted">… {len(value) - MAX_LIST_ITEMS:,} more</span>' if len(value) > MAX_LIST_ITEMS else ""
        return ", ".join(_value_html(x) for x in value[:MAX_LIST_ITEMS]) + more
    if isinstance(value, dict):  # only an empty one gets here
        return "<code>{}</code>"
    if isinstance(value, bool) or value is None:
        return f"<code>{esc(json.dumps(value))}</code>"
    if isinstance(value, float):
        return f"<code>{value:,.6g}</code>"
    if isinstance(value, int):
        return f"<code>{value:,}</code>"
    return f"<code>{esc(str(value))}</code>"


def _chips(items: list[tuple[str, Any]]) -> str:
    return " ".join(f'<span class="kvi"><i>{esc(k)}</i>{_value_html(v)}</span>' for k, v in items)


def _manifest_html(manifest: dict[str, Any]) -> str:
    """The manifest as one row per top-level key; nested entries as ``key value`` chips, one line per
    second-level group (``engines`` -> one line per engine), then the full JSON on request."""
    rows = []
    for key, value in manifest.items():
        if isinstance(value, dict) and value:
            plain = [(k, v) for k, v in value.items() if not (isinstance(v, dict) and v)]
            lines = [f'<div class="ml">{_chips(plain)}</div>'] if plain else []
            for sub, subval in value.items():
                if isinstance(subval, dict) and subval:
                    lines.append(f'<div class="ml"><b>{esc(str(sub))}</b> {_chips(_flat_items(subval))}</div>')
            cell = "".join(lines)
        else:
            cell = _value_html(value)
        rows.append(f"<tr><th>{esc(str(key))}</th><td>{cell}</td></tr>")
    full = json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
    return (f'<table class="kv">{"".join(rows)}</table>'
            f"<details><summary>manifest.json</summary><pre>{esc(full)}</pre></details>")


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], foot: Sequence[str] | None = None,
           num_from: int = 1) -> str:
    """An HTML table; cells are trusted HTML (escape before), columns from ``num_from`` right-aligned."""
    def cells(row: Sequence[str], tag: str) -> str:
        return "".join(f'<{tag}{" class=num" if i >= num_from else ""}>{c}</{tag}>' for i, c in enumerate(row))

    body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    tfoot = f"<tfoot><tr>{cells(foot, 'td')}</tr></tfoot>" if foot else ""
    return f'<table class="grid"><thead><tr>{cells(head, "th")}</tr></thead><tbody>{body}</tbody>{tfoot}</table>'


def _label_tag(label: str, colors: dict[str, str]) -> str:
    return f'<span class="tag" style="background:{colors.get(label, DEFAULT_COLOR)}">{esc(label)}</span>'


def _stats_html(stats: dict[str, Any], colors: dict[str, str]) -> str:
    e, s = stats["entities"], stats["sentences"]
    head = ["label", "source", "projected", "rate", "unaligned", "conflict", "below-threshold", "in kept sentences",
            "mean score"]
    rows = [[_label_tag(label, colors), f"{r['source']:,}", f"{r['projected']:,}", _rate(r["rate"]),
             f"{r['unaligned']:,}", f"{r['conflict']:,}", f"{r['below-threshold']:,}", f"{r['in_kept_sentences']:,}",
             _score(r["mean_score"])]
            for label, r in stats["per_label"].items()]
    foot = ["all", f"{e['source']:,}", f"{e['projected']:,}", _rate(e["rate"]), f"{e['by_status']['unaligned']:,}",
            f"{e['by_status']['conflict']:,}", f"{e['by_status']['below-threshold']:,}", f"{e['in_kept_sentences']:,}", ""]
    per_label = _table(head, rows, foot)
    drops = _table(["drop reason", "sentences"], [[esc(k), f"{v:,}"] for k, v in s["drop_reasons"].items()]) \
        if s["drop_reasons"] else '<p class="muted">No sentence was dropped.</p>'
    methods = _table(["method", "entities"], [[esc(k), f"{v:,}"] for k, v in e["by_method"].items()]) \
        if e["by_method"] else ""
    ln = stats["length"]
    length = ""
    if ln["pairs"]:
        length = (f'<p class="muted">Entity length over the {ln["pairs"]:,} entities with a target span: '
                  f'{ln["source_mean"]:.2f} source tokens, {ln["target_mean"]:.2f} target tokens on average; '
                  f'{ln["same_length"]:.1%} keep their length.</p>')
    return (f'<h3>Entities per label</h3>{per_label}{length}'
            f'<div class="row"><div><h3>Dropped sentences</h3>{drops}</div>'
            f'<div><h3>Projection methods</h3>{methods}</div></div>')


def _results_html(results: Results) -> str:
    agg = aggregate(results)
    rows = [[esc(str(r["system"])), esc(str(r["train"])), esc(str(r["test"])), f"{r['seeds']}",
             *(fmt_metric(r[f"{m}_mean"], r[f"{m}_std"], results.scale) for m in METRICS)]
            for r in agg.to_dict("records")]
    table = _table(["system", "train", "test", "seeds", "F1", "precision", "recall"], rows, num_from=3)
    charts = "".join(f'<figure><img alt="{esc(p.name)}" src="{_png_uri(p.read_bytes())}"><figcaption>{esc(p.name)}'
                     f"</figcaption></figure>" for p in results.charts)
    raw_rows = [[esc(str(v)) for v in r] for r in results.rows.astype(str).itertuples(index=False)]
    raw = _table(list(map(esc, results.rows.columns)), raw_rows, num_from=len(results.rows.columns))
    md = (f"<details><summary>results.md</summary><pre>{esc(results.markdown)}</pre></details>"
          if results.markdown else "")
    skipped = len(results.rows) - (int(agg["seeds"].sum()) if len(agg) else 0)
    skipped_note = (f" {skipped:,} variant(s) not selected on the dev set are left out (see all rows)."
                    if skipped else "")
    return (f'<p class="muted">From <code>{esc(str(results.path))}</code>; F1, precision and recall in %, '
            f"mean ± standard deviation over seeds.{skipped_note}</p>{table}<div class=\"plots\">{charts}</div>"
            f"<details><summary>all {len(results.rows):,} rows (one per trained model)</summary>"
            f'<div class="scroll">{raw}</div></details>{md}')


# --------------------------------------------------------------------------- page

CSS = """
:root { --fg:#1d2329; --muted:#6b7580; --line:#e3e7ec; --bg:#f6f7f9; --card:#fff; --accent:#3867d6; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans",
       Helvetica, Arial, sans-serif; color:var(--fg); background:var(--bg); }
main { max-width:1220px; margin:0 auto; padding:0 24px 48px; }
nav { position:sticky; top:0; z-index:5; background:rgba(255,255,255,.96); border-bottom:1px solid var(--line); }
nav .in { max-width:1220px; margin:0 auto; padding:8px 24px; display:flex; gap:18px; align-items:baseline; flex-wrap:wrap; }
nav b { font-size:15px; margin-right:8px; } nav a { color:var(--accent); text-decoration:none; font-size:14px; }
h1 { font-size:26px; margin:26px 0 2px; } h2 { font-size:20px; margin:34px 0 10px; padding-bottom:4px;
     border-bottom:2px solid var(--line); } h3 { font-size:15px; margin:18px 0 6px; }
.muted { color:var(--muted); } .none { color:#b3b9c0; }
code { font:12.5px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; background:#eef1f4;
       padding:1px 4px; border-radius:3px; overflow-wrap:anywhere; }
.figures { display:grid; grid-template-columns:repeat(auto-fit, minmax(150px, 1fr)); gap:12px; margin:18px 0; }
.figure { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.figure .v { font-size:24px; font-weight:650; } .figure .k { color:var(--muted); font-size:13px; }
.warn { background:#fff7e0; border:1px solid #f1d48a; border-radius:8px; padding:8px 12px; margin:12px 0; }
.manifest { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:8px 12px;
            max-height:640px; overflow:auto; }
table.kv { border-collapse:collapse; width:100%; } table.kv th { text-align:left; vertical-align:top;
  padding:3px 12px 3px 0; font-weight:600; white-space:nowrap; width:1%; color:#39424b; font-size:13.5px; }
table.kv td { padding:3px 0; vertical-align:top; font-size:13.5px; }
table.kv tr + tr > * { border-top:1px solid #f0f2f4; }
.ml { margin:1px 0; } .ml b { font-weight:600; margin-right:4px; color:#39424b; }
.kvi { display:inline-block; margin:1px 10px 1px 0; white-space:nowrap; }
.kvi i { font-style:normal; color:var(--muted); margin-right:4px; }
table.grid { border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:8px;
  font-size:14px; min-width:320px; }
table.grid th, table.grid td { padding:5px 12px; border-bottom:1px solid var(--line); text-align:left; }
table.grid th { background:#f0f3f6; font-weight:600; font-size:13px; } .num { text-align:right !important;
  font-variant-numeric:tabular-nums; } table.grid tfoot td { font-weight:650; border-bottom:0; }
.row { display:flex; gap:36px; flex-wrap:wrap; align-items:flex-start; }
.tag { display:inline-block; white-space:nowrap; padding:1px 7px; border-radius:5px; font-weight:650; font-size:12.5px; color:#1d2329; }
.plots { display:grid; grid-template-columns:repeat(auto-fit, minmax(480px, 1fr)); gap:16px; }
.plots figure { margin:0; background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px;
  display:flex; flex-direction:column; align-items:center; justify-content:center; }
.plots img { max-width:100%; height:auto; } figcaption { color:var(--muted); font-size:13px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px 16px 8px;
  margin:12px 0; }
.card header { display:flex; gap:10px; align-items:center; font-size:13px; }
.sid { font-weight:650; color:var(--fg); text-decoration:none; font-size:14px; }
.badge { font-size:12px; padding:1px 8px; border-radius:10px; }
.badge.kept { background:#e3f4e8; color:#1f7a40; } .badge.dropped { background:#fde7e6; color:#b3261e; }
.pair { display:grid; grid-template-columns:34px 1fr; row-gap:0; }
.side { display:contents; }
.lang { grid-column:1; font:600 11px/1 ui-monospace, monospace; color:var(--muted); text-transform:uppercase;
  padding-top:14px; }
.entities { grid-column:2; font-size:16px; line-height:2.3 !important; }
.entities.empty { color:var(--muted); font-style:italic; }
mark.entity { color:#1d2329; transition:box-shadow .1s; }
mark.entity .ent-label { font-size:0.68em; font-weight:700; margin-left:0.35em; vertical-align:middle;
  text-transform:uppercase; opacity:.85; }
mark.entity sup { font-size:0.85em; margin-left:1px; }
mark.entity[data-kept="0"] { background:transparent !important; outline:2px dashed var(--bad, #c2559a);
  outline-offset:-2px; }
mark.entity[data-status="below-threshold"] { --bad:#d9a300; }
mark.entity[data-status]::after { content:""; display:inline-block; width:.5em; height:.5em; border-radius:50%;
  margin-left:.3em; vertical-align:.15em; background:var(--dot, #2e9d57); }
mark.entity[data-status="unaligned"] { --dot:#d8413a; } mark.entity[data-status="conflict"] { --dot:#c2559a; }
mark.entity[data-status="below-threshold"] { --dot:#d9a300; }
.hl { box-shadow:0 0 0 3px #1d2329 !important; } tr.hl { box-shadow:none !important; background:#fff6c8; }
table.ents { border-collapse:collapse; width:100%; font-size:13px; margin:4px 0 2px; table-layout:fixed; }
table.ents th:nth-child(1) { width:76px; } table.ents th:nth-child(2), table.ents th:nth-child(4) { width:19%; }
table.ents th:nth-child(3) { width:22px; } table.ents th:nth-child(5) { width:48px; }
table.ents th:nth-child(6) { width:132px; } table.ents th:nth-child(7) { width:88px; }
table.ents td { overflow-wrap:anywhere; }
table.ents th { text-align:left; color:var(--muted); font-weight:500; font-size:12px; padding:2px 8px 2px 0;
  border-bottom:1px solid var(--line); }
table.ents td { padding:3px 8px 3px 0; border-bottom:1px solid #f2f4f6; vertical-align:top; }
table.ents td.links { color:#4b555f; font-size:12.5px; } td.arrow { color:var(--muted); }
.st { color:var(--st); font-weight:600; white-space:nowrap; }
.filters { position:sticky; top:41px; z-index:4; background:var(--bg); padding:10px 0; display:flex; gap:14px;
  flex-wrap:wrap; align-items:center; border-bottom:1px solid var(--line); }
.filters label { font-size:13px; color:var(--muted); display:flex; gap:6px; align-items:center; }
.filters input, .filters select { font:inherit; font-size:14px; padding:4px 8px; border:1px solid #cfd5db;
  border-radius:6px; background:#fff; } .filters input[type=number] { width:78px; }
#count { font-weight:600; margin-left:auto; font-size:14px; }
button { font:inherit; font-size:14px; padding:6px 14px; border-radius:6px; border:1px solid #cfd5db;
  background:#fff; cursor:pointer; }
.scroll { overflow:auto; max-height:400px; }
pre { background:var(--card); border:1px solid var(--line); padding:10px; overflow:auto; font-size:13px; }
details { margin:10px 0; } summary { cursor:pointer; color:var(--accent); }
.legend { display:flex; gap:16px; flex-wrap:wrap; font-size:13px; color:var(--muted); margin:6px 0; }
.legend i { display:inline-block; width:.65em; height:.65em; border-radius:50%; margin-right:5px; }
"""

JS = """
(function () {
  var PAGE = %(page)d;
  var list = document.getElementById('list');
  if (!list) return;
  var cards = Array.prototype.slice.call(list.querySelectorAll('.card'));
  var data = cards.map(function (c) {
    return {el: c, ents: JSON.parse(c.getAttribute('data-ents')), kept: c.getAttribute('data-kept') === '1',
            text: c.getAttribute('data-text')};
  });
  var $ = function (id) { return document.getElementById(id); };
  var limit = PAGE;
  function num(id) { var v = $(id).value; return v === '' ? null : parseFloat(v); }
  function update() {
    var label = $('f-label').value, status = $('f-status').value, lo = num('f-min'), hi = num('f-max');
    var q = $('f-text').value.trim().toLowerCase();
    var entityCriteria = label || (status && status !== 'kept' && status !== 'dropped') || lo !== null || hi !== null;
    var shown = 0, matching = 0;
    data.forEach(function (d) {
      var ok = true;
      if (status === 'kept' && !d.kept) ok = false;
      if (status === 'dropped' && d.kept) ok = false;
      if (ok && entityCriteria) {
        ok = d.ents.some(function (e) {
          if (label && e[0] !== label) return false;
          if (status && status !== 'kept' && status !== 'dropped' && e[1] !== status) return false;
          if (lo !== null && !(e[2] !== null && e[2] >= lo)) return false;
          if (hi !== null && !(e[2] !== null && e[2] <= hi)) return false;
          return true;
        });
      }
      if (ok && q && d.text.indexOf(q) < 0) ok = false;
      if (ok) matching++;
      var visible = ok && matching <= limit;
      if (visible) shown++;
      d.el.style.display = visible ? '' : 'none';
    });
    $('count').textContent = matching.toLocaleString('en') + ' of ' + data.length.toLocaleString('en') +
      ' sentences' + (shown < matching ? ' (showing ' + shown.toLocaleString('en') + ')' : '');
    $('more').style.display = shown < matching ? '' : 'none';
  }
  // Filters live in the URL too (report.html#label=ORG&status=unaligned), so a view can be shared.
  var FIELDS = {label: 'f-label', status: 'f-status', min: 'f-min', max: 'f-max', text: 'f-text'};
  function fromHash() {
    var h = location.hash.slice(1);
    if (h.indexOf('=') < 0) return;
    h.split('&').forEach(function (kv) {
      var i = kv.indexOf('='), k = decodeURIComponent(kv.slice(0, i)), v = decodeURIComponent(kv.slice(i + 1));
      if (FIELDS[k]) $(FIELDS[k]).value = v;
    });
  }
  function toHash() {
    var parts = [];
    Object.keys(FIELDS).forEach(function (k) {
      var v = $(FIELDS[k]).value;
      if (v !== '') parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
    });
    history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname);
  }
  Object.keys(FIELDS).forEach(function (k) {
    $(FIELDS[k]).addEventListener('input', function () { limit = PAGE; update(); toHash(); });
  });
  fromHash();
  $('more').addEventListener('click', function () { limit += PAGE; update(); });
  function mark(ev, on) {
    var el = ev.target.closest && ev.target.closest('[data-ref]');
    if (!el) return;
    var card = el.closest('.card');
    if (!card) return;
    card.querySelectorAll('[data-ref="' + el.getAttribute('data-ref') + '"]').forEach(function (x) {
      x.classList.toggle('hl', on);
    });
  }
  document.addEventListener('mouseover', function (ev) { mark(ev, true); });
  document.addEventListener('mouseout', function (ev) { mark(ev, false); });
  update();
})();
"""


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

    The page and the sentence cards are Jinja2 templates with autoescaping: labels, tokens, ids,
    paths and every other string from the run are escaped where they are placed."""
    from markupsafe import Markup

    filt = filt or Filter()
    labels = labels_of(run)
    colors = label_colors(labels)
    langs = run.languages
    note = ""
    if len(selection) > max_sentences:
        keep = sorted(random.Random(seed).sample(range(len(selection)), max_sentences))
        note = (f" A random sample (seed {seed}) of {max_sentences:,} of the {len(selection):,} selected sentences is "
                f"listed; choose others with <code>--grep</code>, <code>--label</code>, <code>--status</code> or "
                f"<code>--max-sentences</code>.")
        selection = [selection[i] for i in keep]

    s, e = stats["sentences"], stats["entities"]
    figures = [
        (f"{s['in']:,}", "source sentences"),
        (f"{s['kept']:,}", "kept (in projected.conll)"),
        (f"{s['dropped']:,}", "dropped"),
        (f"{e['source']:,}", "source entities"),
        (_rate(e["rate"]), "projection rate"),
        (f"{e['in_kept_sentences']:,}", "entities in projected.conll"),
    ]
    figures_html = "".join(f'<div class="figure"><div class="v">{v}</div><div class="k">{k}</div></div>'
                           for v, k in figures)
    warnings = "".join(f'<div class="warn">⚠ {esc(w)}</div>' for w in run.warnings)

    edges = stats["score_histogram"]["edges"]
    plot_imgs = [
        ("Projection rate per label", plots.rate_per_label(stats)),
        ("Entity length, source vs target", plots.length_source_target(run.entities)),
        ("Score distribution", plots.score_distribution(run.entities, edges)),
        ("Lowest-scoring projections in projected.conll", plots.lowest_scoring(kept_projections(run), colors)),
    ]
    plots_html = "".join(f'<figure><img alt="{esc(t)}" src="{_png_uri(p)}"></figure>' for t, p in plot_imgs)

    lowest = lowest_scoring_sentences(run)
    lowest_html = "".join(sentence_card(ps, colors, langs, f"low-{i}") for i, ps in enumerate(lowest)) or \
        '<p class="muted">No entity was projected into a kept sentence.</p>'
    cards = "".join(sentence_card(ps, colors, langs, f"s-{i}") for i, ps in enumerate(selection))

    label_opts = "".join(f'<option value="{esc(l)}">{esc(l)}</option>' for l in labels)
    status_opts = "".join(f'<option value="{esc(x)}">{esc(x)}</option>'
                          for x in (*ENTITY_STATUSES, *SENTENCE_STATUSES))
    legend = "".join(f'<span><i style="background:{STATUS_COLORS[st]}"></i>{st}</span>' for st in ENTITY_STATUSES)
    nav = [("summary", "Summary"), ("manifest", "Manifest"), ("statistics", "Statistics"), ("plots", "Plots")]
    if results is not None:
        nav.append(("comparison", "Comparison"))
    nav += [("lowest", "Lowest scores"), ("sentences", "Sentences")]
    nav_html = "".join(f'<a href="#{a}">{t}</a>' for a, t in nav)
    comparison = f'<h2 id="comparison">Comparison</h2>{_results_html(results)}' if results is not None else ""
    title = f"Projection report · {run.name}"
    trusted = {k: Markup(v) for k, v in {
        "nav_html": nav_html, "warnings": warnings, "figures_html": figures_html, "plots_html": plots_html,
        "manifest_html": _manifest_html(run.manifest), "stats_html": _stats_html(stats, colors),
        "comparison": comparison, "legend": legend, "lowest_html": lowest_html, "note": note,
        "label_opts": label_opts, "status_opts": status_opts, "cards": cards, "css": CSS,
        "js": JS % {"page": PAGE_SIZE}}.items()}
    return _template(PAGE).render(title=title, run_name=run.name, langs=langs, run_path=str(run.path),
                                  selection=filt.describe(), page_size=PAGE_SIZE, **trusted)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ css }}</style></head>
<body><nav><div class="in"><b>{{ run_name }}</b>{{ nav_html }}</div></nav><main>
<h1 id="summary">{{ title }}</h1>
<div class="muted">{{ langs[0] }} → {{ langs[1] }} · <code>{{ run_path }}</code></div>
{{ warnings }}<div class="figures">{{ figures_html }}</div>
<h2 id="manifest">How this data was made</h2>
<div class="manifest">{{ manifest_html }}</div>
<h2 id="statistics">Statistics</h2>{{ stats_html }}
<h2 id="plots">Plots</h2><div class="plots">{{ plots_html }}</div>
{{ comparison }}
<h2 id="lowest">Lowest-scoring examples</h2>
<p class="muted">The kept sentences holding the projected entities with the lowest scores: the training data
the projection was least sure of. Hover an entity to see its counterpart; the dot gives its status:</p><div class="legend">{{ legend }}</div>
{{ lowest_html }}
<h2 id="sentences">Sentences</h2>
<p class="muted">Selection: {{ selection }}.{{ note }}
Dashed target spans were found but not kept (conflict, below threshold).</p>
<div class="filters">
<label>label <select id="f-label"><option value="">any</option>{{ label_opts }}</select></label>
<label>status <select id="f-status"><option value="">any</option>{{ status_opts }}</select></label>
<label>score ≥ <input id="f-min" type="number" step="0.05"></label>
<label>score ≤ <input id="f-max" type="number" step="0.05"></label>
<label>text <input id="f-text" type="search" placeholder="contains…"></label>
<span id="count"></span></div>
<div id="list">{{ cards }}</div>
<p><button id="more" type="button">show {{ page_size }} more</button></p>
</main><script>{{ js }}</script></body></html>
"""


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
