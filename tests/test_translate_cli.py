"""``projection translate`` on the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HAVE_APERTIUM = shutil.which("apertium") is not None


def run(*args: str, env=None):
    import os

    e = dict(os.environ, PROJECTION_PROGRESS="0", **(env or {}))
    return subprocess.run([sys.executable, "-m", "projection", "translate", *args], capture_output=True, text=True,
                          cwd=REPO, env=e, timeout=300)


def test_given_engine_json_summary_and_errors(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("one\n\ntwo\n", encoding="utf-8")
    given = tmp_path / "es.txt"
    given.write_text("uno\n\ndos\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    res = run("--engine", "given", "--model", str(given), "--input", str(src), "--output", str(out), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["translated"] == 2 and summary["cached"] == 0 and summary["empty"] == 1 and "seconds" in summary
    assert out.read_text(encoding="utf-8") == "uno\n\ndos\n"
    given.write_text("uno\n", encoding="utf-8")
    res = run("--engine", "given", "--model", str(given), "--input", str(src), "--output", str(out))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [f"error: {given}: sentence matching: 1 target sentences for 3 source "
                                               "sentences; too different for a translation of this source"]
    res = run("--engine", "given", "--model", str(given), "--input", str(src), "--output", str(out),
              "--option", "match=position")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [f"error: {given}: 1 translated lines for 3 input sentences; "
                                               "given translations must match the input one to one with match=position"]
    res = run("--engine", "deepl", "--input", str(src), "--output", str(out))
    assert res.returncode == 2 and "unknown translation engine 'deepl'" in res.stderr
    res = run("--engine", "given", "--model", str(given), "--input", "nosuch:train", "--output", str(out))
    assert res.returncode == 2 and "unknown corpus" in res.stderr


@pytest.mark.apertium
@pytest.mark.skipif(not HAVE_APERTIUM, reason="needs Apertium (apt-get install apertium apertium-eng-spa)")
def test_apertium_corpus_twice_second_run_all_cached(tmp_path):
    out = tmp_path / "sample.es.txt"
    env = {"PROJECTION_CACHE": str(tmp_path / "cache")}
    first = run("--engine", "apertium", "--input", "sample:train", "--output", str(out), "--json", env=env)
    assert first.returncode == 0, first.stderr
    a = json.loads(first.stdout)
    assert a["lines"] == 200 and a["translated"] == 200 and a["cached"] == 0
    text = out.read_bytes()
    assert len(text.decode().split("\n")) == 201
    second = run("--engine", "apertium", "--input", "sample:train", "--output", str(out), "--json", env=env)
    b = json.loads(second.stdout)
    assert b["cached"] == 200 and b["translated"] == 0
    assert out.read_bytes() == text


@pytest.mark.apertium
@pytest.mark.skipif(not HAVE_APERTIUM, reason="needs Apertium (apt-get install apertium apertium-eng-spa)")
def test_apertium_markers_write_a_projected_corpus(tmp_path):
    from projection.corpus import read_conll

    out = tmp_path / "sample.es.conll"
    res = run("--engine", "apertium", "--input", "sample:train", "--output", str(out), "--markers", "--json",
              env={"PROJECTION_CACHE": str(tmp_path / "cache")})
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)["markers"]
    assert m["entities"] > 400 and m["found"] + m["lost"] == m["entities"]
    sents = read_conll(out)
    assert len(sents) == 200
    assert sum(len(s.spans) for s in sents) == m["found"]
