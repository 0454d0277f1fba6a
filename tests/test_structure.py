"""The shape of the middle of the house: the pipeline's modules and the executors.

* the executors import the stage module (:mod:`projection.stages`), never the pipeline, never a
  stage package, and never a name starting with ``_`` from another module;
* no import cycle between the pipeline modules and the executors, counting imports inside
  functions (only ``if TYPE_CHECKING:`` blocks are left out);
* no module of the pipeline or the executors over 400 lines without a reason in its docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "projection"
PIPELINE_MODULES = ["pipeline", "pipeline_config", "pipeline_auto", "pipeline_engines", "pipeline_eval",
                    "pipeline_target", "stages",
                    "parallel", "store", "corpus", "corpora"]
EXECUTOR_MODULES = sorted(f"executors.{p.stem}" if p.stem != "__init__" else "executors"
                          for p in (PKG / "executors").glob("*.py"))
MAX_LINES = 400


def _path(module: str) -> Path:
    parts = module.split(".")
    folder = PKG.joinpath(*parts)
    return folder / "__init__.py" if folder.is_dir() else PKG.joinpath(*parts[:-1], parts[-1] + ".py")


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(module: str) -> list[tuple[str, list[str]]]:
    """(imported projection module, names) for every import of ``module``, at any depth."""
    tree = ast.parse(_path(module).read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if _type_checking(node) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name.removeprefix("projection.").removeprefix("projection"), []) for a in node.names
                    if a.name.startswith("projection")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("projection"):
            base = node.module.removeprefix("projection").removeprefix(".")
            names = [a.name for a in node.names]
            if not base:  # from projection import x, y: modules
                out += [(n, []) for n in names]
            else:
                out.append((base, names))
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    todo = PIPELINE_MODULES + EXECUTOR_MODULES
    while todo:
        m = todo.pop()
        if m in graph or not _path(m).exists():
            continue
        graph[m] = {dep for dep, _ in _imports(m) if _path(dep).exists() and dep.split(".")[0] not in
                    ("translate", "align", "project", "train", "inspect", "export")}
        todo += sorted(graph[m])
    return graph


def test_executors_import_the_stage_module_only_and_no_private_names():
    for m in EXECUTOR_MODULES:
        for dep, names in _imports(m):
            top = dep.split(".")[0]
            assert top not in ("pipeline", "translate", "align", "project", "train", "inspect", "export"), (m, dep)
            if dep != m and dep != "executors":
                private = [n for n in names if n.startswith("_")]
                assert not private, f"{m} imports {private} from {dep}"


def test_no_import_cycle_between_the_pipeline_and_the_executors():
    graph = _graph()
    assert "executors.local" in graph["executors"] or "executors" in graph["pipeline"]  # the graph is real

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            m = todo.pop()
            for dep in graph.get(m, ()):
                if dep == goal:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return False

    cycles = [m for m in PIPELINE_MODULES + EXECUTOR_MODULES if reaches(m, m)]
    assert not cycles, f"modules on an import cycle: {sorted(cycles)}"
    assert reaches("pipeline", "executors.local") or reaches("pipeline", "executors")
    assert not any(reaches(m, "pipeline") for m in EXECUTOR_MODULES)


@pytest.mark.parametrize("module", PIPELINE_MODULES + EXECUTOR_MODULES)
def test_modules_stay_small_or_say_why(module):
    text = _path(module).read_text(encoding="utf-8")
    lines = text.count("\n")
    if lines > MAX_LINES:
        doc = ast.get_docstring(ast.parse(text)) or ""
        assert f"Over {MAX_LINES} lines because" in doc, f"{module}: {lines} lines and no reason in its docstring"
