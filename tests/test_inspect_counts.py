"""The inspectors read the one key set of the run's counts (projection.runstats), run folders of older
versions read the same, and the report's tables come from the Jinja2 templates."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from rich.console import Console

from inspect_runs import make_run, sentences
from projection import inspect as pi
from projection.inspect.html import render_html
from projection.inspect.select import Filter, paginate
from projection.inspect.terminal import TerminalView
from projection.runstats import projection_stats


def _terminal(run, stats) -> str:
    console = Console(record=True, width=140, color_system=None, file=open("/dev/null", "w"))
    TerminalView(console, sentences=False).render(run, stats, paginate([], 1, 10), Filter())
    return console.export_text()


def _tables(text: str) -> list[str]:
    """The summary's lines from the sentence table on (the manifest panel before it names the folder)."""
    lines = text.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.strip().startswith("sentences")):]


def test_both_views_show_the_counts_of_the_summary(tmp_path):
    run = pi.load_run(make_run(tmp_path))
    stats = copy.deepcopy(pi.summarize(run))
    org = stats["counts"]["per_label"]["ORG"]
    org.update(projected=4, conflict=0, rate=0.6667)  # what the views show is what `counts` says
    stats["counts"]["sentences_out"] = 5
    row = next(line for line in _terminal(run, stats).splitlines() if line.strip().startswith("ORG"))
    assert row.split()[:7] == ["ORG", "6", "4", "66.7%", "1", "0", "1"]
    page = render_html(run, stats, [])
    assert '<div class="v">5</div><div class="k">kept (in projected.conll)</div>' in page
    assert '<div class="v">3</div><div class="k">dropped</div>' in page
    assert re.search(r">ORG</span></td><td class=num>6</td><td class=num>4</td><td class=num>66\.7%</td>"
                     r"<td class=num>1</td><td class=num>0</td>", page)


def test_entities_of_untranslated_sentences_show_as_unaligned_and_leave_the_rate(tmp_path):
    items = sentences()
    ps = items[1]  # s2: dropped, one projected ORG
    ps.meta["untranslated"] = True
    run = pi.load_run(make_run(tmp_path, items=items))
    st = pi.summarize(run)
    org = st["counts"]["per_label"]["ORG"]
    assert org.get("untranslated") == 1 and org["entities"] == 6
    text = _terminal(run, st)
    row = next(line for line in text.splitlines() if line.strip().startswith("ORG"))
    # s2's ORG counts under unaligned in the tables; the rate is over the five translated ones
    assert row.split()[:5] == ["ORG", "6", "2", "40.0%", "2"]


def test_a_run_folder_of_an_older_version_reads_the_same(tmp_path):
    """Records with kept/drop_reason in meta, manifest counts without the keys added since: the counts
    come from projections.jsonl through today's runstats, and both views render."""
    new = make_run(tmp_path, "new")
    old = make_run(tmp_path, "old", record_files=False)
    rows = []
    for line in (old / "projections.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        meta = dict(d.get("meta") or {}, kept=d.pop("kept"))
        if d.get("drop_reason") is not None:
            meta["drop_reason"] = d["drop_reason"]
        d.pop("drop_reason", None)
        rows.append(json.dumps({**d, "meta": meta}))
    (old / "projections.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    manifest["counts"] = {"sentences_in": 8, "sentences_out": 6, "dropped": {}, "entities": 15, "projected": 10,
                          "rate": 0.6667, "entities_in_output": 9, "per_label": {}}  # before removed_by_convention
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    run_old, run_new = pi.load_run(old), pi.load_run(new)
    st_old, st_new = pi.summarize(run_old), pi.summarize(run_new)
    assert st_old["counts"] == st_new["counts"] == projection_stats(run_new.sentences)
    assert "removed_by_convention" in st_old["counts"]
    assert _tables(_terminal(run_old, st_old)) == _tables(_terminal(run_new, st_new))
    assert 'id="s-7"' in render_html(run_old, st_old, run_old.sentences)


def test_the_report_tables_are_templates_not_python_strings():
    html_py = (Path(pi.__file__).parent / "html.py").read_text(encoding="utf-8")
    assert not re.search(r"<(table|tr|td|th|thead|tbody|tfoot|code|details)\b", html_py), \
        "the manifest, statistics and comparison tables belong in templates/"
    templates = Path(pi.__file__).parent / "templates"
    for name in ("manifest.html.j2", "statistics.html.j2", "comparison.html.j2", "macros.html.j2"):
        assert (templates / name).is_file(), name


def test_manifest_values_are_escaped_and_lists_cut(tmp_path):
    run = pi.load_run(make_run(tmp_path))
    run.manifest["notes"] = ["<b>bold</b>"] + [f"n{i}" for i in range(30)]
    run.manifest["engines"]["align"]["model"] = 'a"b<c>'
    run.manifest["threshold"] = 0.123456789
    run.manifest["sentences"] = 14041
    run.manifest["flag"] = None
    page = render_html(run, pi.summarize(run), [])
    assert "<code>&lt;b&gt;bold&lt;/b&gt;</code>" in page and "<b>bold</b>" not in page
    assert '<span class="muted">… 7 more</span>' in page  # 31 notes, 24 shown
    assert "<code>a&#34;b&lt;c&gt;</code>" in page
    assert "<code>0.123457</code>" in page and "<code>14,041</code>" in page and "<code>null</code>" in page
