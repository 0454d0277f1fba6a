"""Hostile inputs and faults (issue 11): each test failed before its fix.

Grouped as in the issue: damaged stage caches (3), engine code hashes (4), escaping in the
report and the terminal (1), special files (2), one-line errors (5), silent wrong reads (7),
eval-align input checks (10), elisions in projectors (11), kill -9 leftovers (6), messages (9)
and bounded subprocesses (8).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from projection import pipeline as pl
from projection import rundir
from projection.corpus import read_conll, write_conll
from projection.records import Alignment
from projection.store import StageFileError, read_stage_jsonl, read_stage_npz, write_stage_jsonl, write_stage_npz
from tiny import tiny_encoder

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tiny_encoder(tmp_path_factory.getbasetemp() / "hostile-tiny-models", "xlmr")


@pytest.fixture
def given_run(tmp_path, sample_path, tiny_model):
    """A pipeline file (given translations = the sentences themselves, tiny encoder, ngram) and its source."""
    sents = read_conll(sample_path)[:30]
    src = tmp_path / "src.conll"
    write_conll(sents, src)
    trans = tmp_path / "translations.txt"
    trans.write_text("".join(" ".join(s.tokens) + "\n" for s in sents), encoding="utf-8")
    pfile = tmp_path / "p.toml"
    pfile.write_text(f"""
[translate]
engine = "given"
path = "{trans}"

[align]
engine = "embed"
model = "{tiny_model}"
layer = 2

[project]
method = "ngram"
""", encoding="utf-8")
    return pfile, src, sents


# --------------------------------------------------------------------------- 3. damaged stage caches


def test_stage_jsonl_carries_count_and_checksum(tmp_path):
    path = tmp_path / "s.jsonl"
    rows = [{"a": i, "t": "x\ny"} for i in range(5)]
    write_stage_jsonl(path, rows)
    assert read_stage_jsonl(path, expected=5) == rows
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:4]) + b"\n")  # truncated to 3 rows
    with pytest.raises(StageFileError, match="3 rows of the 5"):
        read_stage_jsonl(path)
    path.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:5])  # cut mid-line
    with pytest.raises(StageFileError):
        read_stage_jsonl(path)
    write_stage_jsonl(path, rows)
    path.write_bytes(path.read_bytes().replace(b'"a": 2', b'"a": 7'))
    with pytest.raises(StageFileError, match="checksum"):
        read_stage_jsonl(path)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # the old format: no header
    with pytest.raises(StageFileError, match="no stage header"):
        read_stage_jsonl(path)
    write_stage_jsonl(path, rows)
    with pytest.raises(StageFileError, match="5 rows, 6 expected"):
        read_stage_jsonl(path, expected=6)


def test_stage_npz_junk_and_truncated(tmp_path):
    path = tmp_path / "a.npz"
    write_stage_npz(path, {"x": np.arange(10)}, rows=10)
    assert read_stage_npz(path, expected=10)["x"].tolist() == list(range(10))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StageFileError, match="not a readable .npz"):
        read_stage_npz(path)
    path.write_bytes(b"junk" * 100)
    with pytest.raises(StageFileError):
        read_stage_npz(path)
    with open(path, "wb") as f:
        np.savez(f, x=np.arange(10))  # the old format
    with pytest.raises(StageFileError, match="no stage header"):
        read_stage_npz(path)


def test_stage_store_discards_and_names_damaged_files(tmp_path):
    notes: list[str] = []
    store = pl.StageStore(tmp_path, notes.append)
    store.write_alignments("align-x/0.npz", [Alignment(frozenset({(0, 0)}))] * 3, None)
    assert len(store.read_alignments("align-x/0.npz", expected=3)[0]) == 3
    assert store.read_alignments("align-x/0.npz", expected=4) is None
    assert "align-x/0.npz: damaged stage file (3 rows, 4 expected)" in notes[-1]
    assert not (tmp_path / "align-x/0.npz").exists()
    (tmp_path / "t.jsonl").write_text("{}\n")
    assert store.read_jsonl("t.jsonl") is None and not (tmp_path / "t.jsonl").exists()


@pytest.mark.parametrize("stage", ["translate", "project", "align"])
def test_truncated_stage_file_is_recomputed_not_lost(tmp_path, given_run, stage):
    pfile, src, sents = given_run
    out = tmp_path / "run"
    pl.run("es", pfile, str(src), out)
    before = (out / rundir.PROJECTIONS).read_bytes()
    if stage == "align":
        path = next((out / "stages").glob("align-*/*.npz"))
        path.write_bytes(path.read_bytes()[:200])
    else:
        path = next((out / "stages").glob(f"{stage}-*.jsonl"))
        path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:3]))
    lines: list[str] = []
    res = pl.run("es", pfile, str(src), out, log=lines.append)
    assert res.stats["sentences_in"] == 30
    assert (out / rundir.PROJECTIONS).read_bytes() == before
    assert any(path.name in line and "damaged stage file" in line for line in lines), lines
    assert not res.manifest["stages"][stage]["cached"]


# --------------------------------------------------------------------------- 4. code hashes in every signature


def test_code_hash_follows_code_not_comments(tmp_path, monkeypatch):
    import importlib
    import sys

    from projection.store import _module_code, code_hash

    mod = tmp_path / "hostile_mod.py"
    monkeypatch.syspath_prepend(str(tmp_path))

    def hash_of(text: str) -> str:
        mod.write_text(text)
        sys.modules.pop("hostile_mod", None)
        importlib.invalidate_caches()
        _module_code.cache_clear()
        return code_hash("hostile_mod")

    a = hash_of('"""Doc."""\ndef f(x):\n    return x + 1\n')
    assert hash_of('"""Other doc."""\n# a comment\ndef f(x):\n    """f."""\n    return x + 1\n') == a
    assert hash_of('"""Doc."""\ndef f(x):\n    return x + 2\n') != a
    sys.modules.pop("hostile_mod", None)


def test_every_engine_signature_has_its_code_hash(tmp_path, tiny_model, monkeypatch):
    from projection.align import aligners
    from projection.project import projectors
    from projection.translate import base as tbase
    from projection.translate import translators

    for name in aligners.names():
        options = {"model": tiny_model} if name == "embed" else {}
        assert len(aligners.create(name, **options).signature()["code"]) == 12, name
    for name in projectors.names():
        assert len(projectors.create(name).signature()["code"]) == 12, name
    trans = tmp_path / "t.txt"
    trans.write_text("hola\n")
    monkeypatch.setattr(tbase, "model_fingerprint", lambda m: "fp")
    import projection.translate.hf as hf
    import projection.translate.nllb as nllb

    monkeypatch.setattr(hf, "model_fingerprint", lambda m: "fp")
    monkeypatch.setattr(nllb, "model_fingerprint", lambda m: "fp")
    for name in translators.names():
        options = {"path": str(trans)} if name == "given" else {}
        if name == "apertium" and shutil.which("apertium") is None:
            continue
        sig = translators.create(name, src_lang="en", tgt_lang="es", **options).signature()
        assert len(sig["code"]) == 12, name
    assert "code" in pl.tokenizer_signature("es")


def test_a_changed_aligner_does_not_reuse_cached_alignments(tmp_path, given_run, monkeypatch):
    import projection.store as store

    pfile, src, _ = given_run
    out = tmp_path / "run"
    pl.run("es", pfile, str(src), out)
    real = store._module_code

    def edited(name: str) -> str:
        return real(name) + ("# changed" if name == "projection.align.embed" else "")

    monkeypatch.setattr(store, "_module_code", edited)
    res = pl.run("es", pfile, str(src), out)
    assert res.manifest["stages"]["translate"]["cached"] and not res.manifest["stages"]["align"]["cached"]


# --------------------------------------------------------------------------- 1. markup in labels

PAYLOAD = "<img/src/onerror=alert(1)>"


def _hostile_label_run(root: Path, label: str) -> Path:
    from inspect_runs import _ps, make_run

    items = [_ps("s1", "Barack Obama visited Paris .", "Barack Obama visitó París .",
                 [((0, 2, label), (0, 2), 0.97, "projected"), ((3, 4, "LOC"), (3, 4), 0.91, "projected")],
                 [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)])]
    return make_run(root, items=items)


def test_html_report_escapes_labels(tmp_path):
    from projection import inspect as pi

    run = _hostile_label_run(tmp_path, PAYLOAD)
    out = pi.write_html(run, tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    assert "<img/src" not in page and "onerror=alert(1)>" not in page
    assert "&lt;img/src/onerror=alert(1)&gt;" in page
    import html.parser

    class Tags(html.parser.HTMLParser):
        seen: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.seen.append(tag)
            assert not any(k.startswith("on") for k, _ in attrs), (tag, attrs)

    Tags().feed(page)
    assert Tags.seen.count("img") == 4  # the four plots, nothing else


def test_rich_markup_in_labels_is_quoted(tmp_path, monkeypatch, capsys):
    from conftest import run_cli

    bad = "B-[/]x"
    conll = tmp_path / "m.conll"
    conll.write_text(f"Paris {bad}\nvisited O\n\n", encoding="utf-8")
    code, out, err = run_cli(monkeypatch, capsys, "stats", conll)
    assert code == 0, err
    assert "[/]x" in out
    run = _hostile_label_run(tmp_path, "[/]")
    code, out, err = run_cli(monkeypatch, capsys, "inspect", run)
    assert code == 0, err
    assert "[/]" in out
    from rich.console import Console

    from projection import cli

    stats = pl.projection_stats(rundir.read_projections(run))
    Console(file=open(tmp_path / "t.txt", "w")).print(cli._stats_table(stats, "title"))
    assert "[/]" in (tmp_path / "t.txt").read_text()


# --------------------------------------------------------------------------- 2. special files and symlinks


def _convert(monkeypatch, capsys, src: Path, dst: Path | str, *extra: str) -> tuple[int, str, str]:
    from conftest import run_cli

    return run_cli(monkeypatch, capsys, "convert", src, dst, *extra)


def test_write_follows_symlinks(tmp_path, monkeypatch, capsys, sample_path):
    target = tmp_path / "real.conll"
    target.write_text("old\n")
    link = tmp_path / "link.conll"
    link.symlink_to(target)
    code, _, err = _convert(monkeypatch, capsys, sample_path, link)
    assert code == 0, err
    assert link.is_symlink() and link.resolve() == target
    assert [x.tokens for x in read_conll(target)] == [x.tokens for x in read_conll(sample_path)]


def test_write_to_a_fifo_and_a_device_in_place(tmp_path, monkeypatch, capsys, sample_path):
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    code, _, err = _convert(monkeypatch, capsys, sample_path, fifo)
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and got[0].startswith(sample_path.read_bytes().rstrip())
    from projection.store import write_target

    assert write_target("/dev/null") == (Path("/dev/null"), False)
    try:
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        return
    code, _, err = _convert(monkeypatch, capsys, sample_path, tmp_path / "null", "--to", "parquet")
    assert code == 0, err
    assert stat.S_ISCHR(os.stat(tmp_path / "null").st_mode)


def test_unwritable_outputs_are_one_line(tmp_path, monkeypatch, capsys, sample_path):
    (tmp_path / "d").mkdir()
    code, _, err = _convert(monkeypatch, capsys, sample_path, tmp_path / "d")
    assert code == 2 and "is a directory" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = _convert(monkeypatch, capsys, sample_path, "/proc/hostile/x.conll")
    assert code == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "f").write_text("x")
    code, _, err = _convert(monkeypatch, capsys, sample_path, tmp_path / "f" / "x.conll")
    assert code == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1
