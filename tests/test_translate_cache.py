"""The content-addressed translation cache: hits, misses, stats, and SIGKILL-and-resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from projection.translate import cached
from projection.translate.cache import TranslationCache

REPO = Path(__file__).resolve().parent.parent


class Upper:
    """A deterministic toy engine that counts the sentences it is asked to translate."""

    name = "upper"
    marker_style = "brackets"
    cacheable = True
    chunk_size = 3

    def __init__(self, src_lang="en", tgt_lang="es", suffix=""):
        self.src_lang, self.tgt_lang, self.suffix = src_lang, tgt_lang, suffix
        self.seen: list[str] = []

    def signature(self):
        return {"engine": self.name, "suffix": self.suffix}

    def translate(self, texts):
        self.seen.extend(texts)
        return [t.upper() + self.suffix for t in texts]


def test_second_call_is_served_from_the_cache(tmp_path):
    texts = ["a b", "c", "", "a b", "d", "e f g", "  c  "]
    first = cached(Upper(), cache_dir=tmp_path)
    out = first.translate(texts)
    assert out == ["A B", "C", "", "A B", "D", "E F G", "C"]
    assert first.last_stats["translated"] == 6 and first.last_stats["cached"] == 0 and first.last_stats["empty"] == 1
    assert sorted(first.inner.seen) == ["a b", "c", "d", "e f g"]  # duplicates translated once, blanks never
    again = cached(Upper(), cache_dir=tmp_path)
    assert again.translate(texts) == out
    assert again.last_stats["cached"] == 6 and again.last_stats["translated"] == 0 and again.inner.seen == []
    # a different signature (model, options) or language pair never reuses a translation
    other = cached(Upper(suffix="!"), cache_dir=tmp_path)
    assert other.translate(["c"]) == ["C!"]
    swapped = cached(Upper("es", "en"), cache_dir=tmp_path)
    swapped.translate(["c"])
    assert swapped.last_stats["translated"] == 1


def test_only_missing_sentences_are_translated(tmp_path):
    cached(Upper(), cache_dir=tmp_path).translate(["a", "b"])
    t = cached(Upper(), cache_dir=tmp_path)
    assert t.translate(["a", "x", "b", "y"]) == ["A", "X", "B", "Y"]
    assert sorted(t.inner.seen) == ["x", "y"]
    assert t.last_stats["cached"] == 2 and t.last_stats["translated"] == 2


def test_cache_can_be_turned_off(tmp_path):
    t = cached(Upper(), cache_dir=False)
    t.translate(["a"])
    t.translate(["a"])
    assert t.inner.seen == ["a", "a"] and t.last_stats["cached"] == 0


def test_default_location_is_projection_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PROJECTION_CACHE", str(tmp_path / "pc"))
    cached(Upper()).translate(["a"])
    db = tmp_path / "pc" / "translations.sqlite"
    assert db.exists()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert len(TranslationCache(tmp_path / "pc")) == 1


def _cli(args, env):
    return [sys.executable, "-m", "projection", "translate", *args]


def test_sigkill_and_resume_translates_only_the_missing(tmp_path, tmp_path_factory):
    """A run killed with SIGKILL mid-way resumes: only missing sentences are translated, output byte-identical."""
    from tests.tiny_nllb import shared_tiny_nllb

    hf, ct2 = shared_tiny_nllb(tmp_path_factory)

    from projection.corpora import load_corpus
    from projection.translate.text import detokenize

    base = [detokenize(s.tokens) for s in load_corpus("sample:train")]
    lines = [f"{s} {i}" for i in range(6) for s in base]  # 1,200 distinct sentences
    lines[5] = ""
    lines[7] = lines[8]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cache = tmp_path / "cache"
    env = dict(os.environ, PROJECTION_CACHE=str(cache), PROJECTION_PROGRESS="0", OMP_NUM_THREADS="1")
    args = ["--engine", "nllb", "--model", ct2, "--option", f"tokenizer={hf}", "--option", "compute_type=float32",
            "--option", "threads=1", "--beam-size", "1", "--max-length", "12", "--input", str(src)]

    killed = tmp_path / "killed.txt"
    proc = subprocess.Popen(_cli([*args, "--output", str(killed)], env), env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = cache / "translations.sqlite"
    deadline = time.time() + 120
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                stored = sqlite3.connect(db, timeout=1).execute("SELECT COUNT(*) FROM translations").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
            if stored > 0:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make the input longer"
    assert stored > 0, "nothing was cached within two minutes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not killed.exists()  # the output is written atomically, never half
    stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM translations").fetchone()[0]
    unique = len(set(lines) - {""})
    assert 0 < stored < unique

    resumed = tmp_path / "resumed.txt"
    res = subprocess.run(_cli([*args, "--output", str(resumed), "--json"], env), env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["unique_translated"] == unique - stored
    assert summary["cached"] + summary["translated"] + summary["empty"] == len(lines)
    assert summary["cached"] >= stored

    # an uninterrupted run without the cache gives the same bytes
    from projection.translate.run import translate_to_file

    fresh = tmp_path / "fresh.txt"
    opts = {"model": ct2, "tokenizer": hf, "compute_type": "float32", "threads": 1, "beam_size": 1, "max_length": 12}
    assert translate_to_file("nllb", str(src), fresh, cache=False, options=opts)["cached"] == 0
    assert resumed.read_bytes() == fresh.read_bytes()
    assert len(resumed.read_text(encoding="utf-8").split("\n")) == len(lines) + 1


def test_one_model_identity(tmp_path):
    """The translators and the encoder conversion give one folder one fingerprint, which follows its content."""
    from projection import ct2
    from projection.fingerprint import model_fingerprint
    from projection.translate.base import model_fingerprint as translate_fingerprint

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text('{"a": 1}', encoding="utf-8")
    fp = model_fingerprint(folder)
    assert len(fp) == 16 and fp == translate_fingerprint(str(folder)) == ct2.model_fingerprint(folder)
    (folder / "config.json").write_text('{"a": 22}', encoding="utf-8")
    assert model_fingerprint(folder) != fp
