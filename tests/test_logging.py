"""Messages go through stdlib logging: every module logs to ``logging.getLogger(__name__)``, no
function takes a ``log`` callback, and only the command line prints the records (one plain line
each on stderr; the lines standing in for progress bars only where no bar shows)."""

from __future__ import annotations

import ast
import logging
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, run_cli

PKG = REPO / "projection"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PKG.rglob("*.py"))]


def test_no_function_takes_a_log_callback():
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                args = node.args
                for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    if a.arg in ("log", "logger") or "Callable[[str], None]" in ast.unparse(a.annotation or ast.Constant(0)):
                        found.append(f"{path.relative_to(REPO)}:{node.lineno} {a.arg}")
    assert not found, f"log callbacks: {found}"


def test_modules_log_to_their_own_logger_and_only_the_cli_and_the_bars_write_to_stderr():
    stderr_writes, other_loggers = [], []
    for path, tree in _modules():
        text = path.read_text(encoding="utf-8")
        if path.name not in ("cli.py", "progress.py") and re.search(r"sys\.stderr\.write|file=sys\.stderr", text):
            stderr_writes.append(str(path.relative_to(REPO)))
        for node in tree.body:
            if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "logger" for t in node.targets)
                    and ast.unparse(node.value) != "logging.getLogger(__name__)"):
                other_loggers.append(str(path.relative_to(REPO)))
        if re.search(r"(?<![\w.])logger\.(info|warning|error|debug)\(", text):
            assert "logger = logging.getLogger(__name__)" in text, path
    assert not stderr_writes, f"modules printing on stderr themselves: {stderr_writes}"
    assert not other_loggers, other_loggers


def _emit(name: str, message: str, level: int = logging.INFO, batch: bool = False) -> None:
    from projection.progress import BATCH_LINE

    logging.getLogger(name).log(level, message, extra=BATCH_LINE if batch else None)


def test_the_cli_handler_prints_one_line_per_record(capsys, monkeypatch):
    from projection.cli import package_logging

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with package_logging():
        _emit("projection.pipeline", "projection run en->es: pipeline given, source sample:train, out runs/x")
        _emit("projection.store", "note: x.npz: damaged stage file (3 rows); discarded", logging.WARNING)
        _emit("projection.train.transformer", "token: epoch 1/3 loss 0.4123", batch=True)
        _emit("projection.pipeline", "not shown", logging.DEBUG)
        _emit("ray.data", "another library's record")
    err = capsys.readouterr()
    lines = err.err.splitlines()
    assert err.out == ""
    assert lines[:2] == ["projection run en->es: pipeline given, source sample:train, out runs/x",
                         "note: x.npz: damaged stage file (3 rows); discarded"]
    assert re.fullmatch(r"\[train \d\d:\d\d:\d\d\] token: epoch 1/3 loss 0\.4123", lines[2]), lines[2]
    assert len(lines) == 3
    # afterwards the package's logger is as the API's callers left it
    assert not logging.getLogger("projection").handlers and logging.getLogger("projection").level == logging.NOTSET


def test_lines_standing_in_for_progress_bars_stay_off_a_terminal(capsys, monkeypatch):
    from projection.cli import package_logging

    with package_logging():
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
        _emit("projection.train.transformer", "token: epoch 1/3 loss 0.4123", batch=True)
        _emit("projection.train.compare", "compare: 4 evaluations, 0 done before, 4 to do")
    assert capsys.readouterr().err.splitlines() == ["compare: 4 evaluations, 0 done before, 4 to do"]


def test_run_prints_its_progress_lines_on_stderr(tmp_path, monkeypatch, capsys, sample_path):
    from projection.corpus import read_conll, write_conll

    sents = read_conll(sample_path)[:12]
    src, trans, pfile = tmp_path / "src.conll", tmp_path / "t.txt", tmp_path / "p.toml"
    write_conll(sents, src)
    trans.write_text("".join(" ".join(s.tokens) + "\n" for s in sents), encoding="utf-8")
    pfile.write_text(f'[translate]\nengine = "given"\npath = "{trans}"\n\n[align]\nengine = "eflomal"\n'
                     '\n[project]\nmethod = "heuristic"\n', encoding="utf-8")
    code, out, err = run_cli(monkeypatch, capsys, "run", "--lang", "es", "--pipeline", pfile, "--source", src,
                             "--out", tmp_path / "run")
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0].startswith("projection run en->es: pipeline p, source ")
    assert "translate: given (12 sentences)" in lines and "project: heuristic" in lines
    assert "projection run" not in out and "wrote" in out  # stdout: the tables and what was written


def test_library_notes_reach_stderr_without_any_logging_setup(tmp_path):
    """An API user who configured nothing still sees the warnings (Python's last-resort handler),
    as the stage store printed its notes before; INFO progress lines stay quiet."""
    code = ("import sys; from projection.store import StageStore, StageFileError\n"
            f"StageStore({str(tmp_path)!r}).discard('align-x/0.npz', StageFileError('3 rows, 4 expected'))\n"
            "import logging; logging.getLogger('projection.pipeline').info('quiet')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert res.stderr.splitlines() == [f"note: {tmp_path}/align-x/0.npz: damaged stage file (3 rows, 4 expected); "
                                       "discarded, the stage is recomputed"]
