"""Package data: the files the code reads at run time live inside the package and are matched by
pyproject's ``package-data`` globs, so that a non-editable install (a wheel) has them too."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import projection
from projection import pipeline as pl
from projection.corpora import SAMPLE_PATH

PACKAGE = Path(projection.__file__).resolve().parent
REPO = PACKAGE.parent


def _shipped(path: Path) -> bool:
    """Whether pyproject's package-data ships ``path`` (a file under the package)."""
    globs = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    for package, patterns in globs.items():
        root = REPO / package.replace(".", "/")
        if root in path.parents and any(fnmatch.fnmatch(path.relative_to(root).as_posix(), p) for p in patterns):
            return True
    return False


def test_runtime_files_are_package_data():
    from projection.inspect import html

    files = [SAMPLE_PATH, *pl.PIPELINES_DIR.glob("*.toml")]
    files += [PACKAGE / "inspect" / "templates" / t for t in html._environment().list_templates()]
    files += [PACKAGE / "inspect" / "static" / s for s in ("report.css", "report.js")]
    files += list((PACKAGE / "export" / "templates").glob("*.j2"))
    assert {"given", "nllb", "nllb-given", "offline"} <= {p.stem for p in pl.PIPELINES_DIR.glob("*.toml")}
    for f in files:
        assert f.is_file(), f
        assert PACKAGE in f.parents and f.resolve().is_file(), f"{f} is outside the package"
        assert _shipped(f), f"{f} is not matched by pyproject's package-data"


def test_shipped_pipelines_resolve_by_name():
    for name in ("offline", "given", "nllb", "nllb-given"):
        assert pl.pipeline_path(name) == pl.PIPELINES_DIR / f"{name}.toml"
    assert "offline" in pl.pipeline_names()
