"""The HTML report: self-contained, displaCy marks, comparison folder, and a real headless Chromium
that runs its JavaScript, dumps the DOM and takes a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from inspect_runs import make_run, many_sentences
from projection import inspect as pi
from projection.errors import InputError, ProjectionError

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
EXTERNAL = re.compile(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""",
                      re.IGNORECASE)


def need_chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail("CI: chromium is missing (the Debian package `chromium`)")
    pytest.skip("needs a headless Chromium (Debian package `chromium`)")


def chromium(tmp_path: Path, *args: str, url: str) -> subprocess.CompletedProcess:
    exe = need_chromium()
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
           "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def make_results(folder: Path) -> Path:
    """A `projection compare` folder as the training stage writes it."""
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    rows = ["system,train,test,f1,precision,recall,seed,command"]
    for system, f1s in (("zero-shot", (0.712, 0.698)), ("projection", (0.785, 0.775))):
        for seed, f1 in zip((1, 2), f1s):
            rows.append(f'{system},conll2003-en:train,conll2002-es:test,{f1},{f1 + 0.01},{f1 - 0.01},{seed},'
                        f'"projection train --train x --seed {seed}"')
    (folder / "results.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "results.md").write_text("| system | F1 |\n|---|---|\n| projection | 77.9 |\n", encoding="utf-8")
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().bar(["zero-shot", "projection"], [70.5, 77.9], color=["#888", "#3867d6"])
    fig.savefig(folder / "f1.png", format="png")
    return folder


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    run_dir = make_run(root)
    out = pi.write_html(run_dir, root / "report.html", results=make_results(root / "results"))
    return out


def test_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.findall(html), EXTERNAL.findall(html)[:3]
    assert "<link" not in html and "<script src" not in html
    assert html.count("data:image/png;base64,") == 5  # 4 plots + the comparison chart
    # displaCy entity marks: every source entity of the 8 listed sentences, plus the lowest-scoring section
    list_part = html[html.index('<div id="list">'):]
    # 15 source entities; 12 target spans, less the conflicting IBM that overlaps the kept Microsoft
    assert list_part.count('<mark class="entity"') == 15 + 11
    # tokens that look like markup are escaped, never injected
    assert "<b>Acme</b>" not in html and "&lt;b&gt;Acme&lt;/b&gt;" in html
    assert "Zúrich" in html and "北京" in html
    for section in ('id="manifest"', 'id="statistics"', 'id="plots"', 'id="comparison"', 'id="lowest"',
                    'id="sentences"'):
        assert section in html
    assert "test-handmade" in html  # the manifest
    assert "zero-shot" in html and "78.0 ± 0.7" in html  # mean ± sd over seeds, in %


def test_cap_on_listed_sentences(tmp_path):
    run_dir = make_run(tmp_path, items=many_sentences(60))
    out = pi.write_html(run_dir, tmp_path / "r.html", max_sentences=20, labels="LOC")
    html = out.read_text(encoding="utf-8")
    assert html.count('<article class="card" id="s-') == 20
    assert "A random sample (seed 0) of 20 of the" in html and "label=LOC" in html


def test_results_errors(tmp_path):
    with pytest.raises(ProjectionError, match="no such results folder"):
        pi.read_results(tmp_path / "none")
    (tmp_path / "r").mkdir()
    with pytest.raises(ProjectionError, match="no results.csv"):
        pi.read_results(tmp_path / "r")
    (tmp_path / "r" / "results.csv").write_text("system,f1\nx,0.5\n", encoding="utf-8")
    with pytest.raises(InputError, match="results.csv:1: missing column"):
        pi.read_results(tmp_path / "r")
    (tmp_path / "r" / "results.csv").write_text(
        "system,train,test,f1,precision,recall,seed,command\na,b,c,0.5,0.5,0.5,1,x\na,b,c,high,0.5,0.5,2,x\n",
        encoding="utf-8")
    with pytest.raises(InputError, match="results.csv:3: f1 is not a number"):
        pi.read_results(tmp_path / "r")
    (tmp_path / "r" / "results.csv").write_text(
        "system,train,test,f1,precision,recall,seed,command\na,b,c,0.5,0.5,0.5,1,x\na,b,c,0.5,77.9,0.5,2,x\n",
        encoding="utf-8")
    with pytest.raises(InputError, match="results.csv:3: precision = 77.9: scores are fractions"):
        pi.read_results(tmp_path / "r")


def test_terminal_shows_results(tmp_path):
    from rich.console import Console

    console = Console(record=True, width=120, color_system=None, file=open(os.devnull, "w"))
    pi.show(make_run(tmp_path), console, sentences=False, results=make_results(tmp_path / "res"))
    text = console.export_text()
    line = next(l for l in text.splitlines() if "projection" in l and "conll2002-es:test" in l)
    assert "78.0 ± 0.7" in line and " 2 " in line


def _dom(tmp_path: Path, url: str) -> str:
    proc = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", url=url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_report_in_headless_chromium(report, tmp_path):
    dom = _dom(tmp_path, report.resolve().as_uri())
    assert dom.count('<mark class="entity"') >= 25
    assert '<span id="count">8 of 8 sentences</span>' in dom  # the inline script ran
    assert not EXTERNAL.findall(dom)
    # a filter given in the URL is applied by the script: only s2 and s4 have unaligned entities
    dom = _dom(tmp_path, report.resolve().as_uri() + "#status=unaligned")
    assert '<span id="count">2 of 8 sentences</span>' in dom
    listed = dom[dom.index('<div id="list">'):]
    tags = re.findall(r'<article class="card" id="(s-\d+)"([^>]*)>', listed)
    shown = [cid for cid, attrs in tags if "display: none" not in attrs]
    assert shown == ["s-1", "s-3"]
    dom = _dom(tmp_path, report.resolve().as_uri() + "#label=ORG&min=0.5&text=sons")
    assert '<span id="count">1 of 8 sentences</span>' in dom


def test_screenshot_is_not_blank(report, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    proc = chromium(tmp_path, "--virtual-time-budget=3000", f"--screenshot={shot}", "--window-size=1280,1600",
                    url=report.resolve().as_uri())
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[:2] == (1600, 1280)
    non_white = (img.min(axis=2) < 235).mean()
    colours = len(np.unique(img.reshape(-1, 3) // 8, axis=0))
    assert non_white > 0.05, f"only {non_white:.1%} of the screenshot is not white"
    assert colours > 200, f"only {colours} distinct colours: the page did not render"
    # the label colours of the summary table (displaCy's ORG cyan) are on screen
    assert (np.abs(img.astype(int) - [0x7A, 0xEC, 0xEC]).sum(axis=2) < 30).sum() > 50


def test_only_selected_variants_are_averaged(tmp_path):
    from projection.inspect.results import aggregate

    folder = tmp_path / "cmp"
    folder.mkdir()
    (folder / "results.csv").write_text(
        "system,train,test,f1,precision,recall,seed,command,selected\n"
        "dlfa,t,x,0.80,0.8,0.8,1,c,True\n"
        "dlfa,t,x,0.60,0.6,0.6,1,c,False\n"
        "dlfa,t,x,0.70,0.7,0.7,2,c,True\n", encoding="utf-8")
    res = pi.read_results(folder)
    agg = aggregate(res)
    assert len(agg) == 1 and agg["seeds"].iloc[0] == 2 and agg["f1_mean"].iloc[0] == pytest.approx(0.75)
    from projection.inspect.html import _comparison, _template

    page = _template("comparison.html.j2").render(comparison=_comparison(res))
    assert "1 variant(s) not selected on the dev set are left out" in page
