"""Pipeline files: finding, reading and validating ``pipelines/*.toml`` and ``--set`` overrides.

A pipeline is a declarative TOML file with one table per stage (see :mod:`projection.pipeline`).
:func:`load_pipeline` returns a validated :class:`PipelineConfig`; errors name the file, the
section and the key, or the ``--set`` option a value came from. :func:`stage_options` gives an
engine's options for one target language (``{lang}``/``{data}`` filled in, model paths found).
"""

from __future__ import annotations

import inspect
import os
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from projection.corpora import data_dir
from projection.errors import ProjectionError

REPO = Path(__file__).resolve().parent.parent
PIPELINES_DIR = REPO / "pipelines"
EXECUTOR_NAMES = ("local", "ray")  # the executors of projection.executors (checked by a test)


_SECTIONS: dict[str, tuple[str | None, frozenset[str]]] = {
    # section: (engine key, keys the pipeline itself reads)
    "pipeline": (None, frozenset({"name", "description", "source", "executor"})),
    "translate": ("engine", frozenset({"engine"})),
    "align": ("engine", frozenset({"engine", "extra_parallel", "similarity"})),
    "project": ("method", frozenset({"method"})),
    "filter": (None, frozenset({"policy", "min_score"})),
}
_REQUIRED = ("translate", "align", "project")
# option values that name files or models: a relative path is looked up in the working
# directory, then in the project folder (so `models/e5-small` works from anywhere)
_PATH_KEYS = frozenset({"path", "model", "tokenizer", "source"})


# --------------------------------------------------------------------------- pipeline files


@dataclass
class PipelineConfig:
    """A validated pipeline file: one table per stage."""

    name: str
    file: Path | None
    description: str = ""
    source: str | None = None
    executor: str | None = None  # local | ray (projection.executors); --executor overrides
    translate: dict[str, Any] = field(default_factory=dict)
    align: dict[str, Any] = field(default_factory=dict)
    project: dict[str, Any] = field(default_factory=dict)
    filter: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "file": str(self.file) if self.file else None, "description": self.description,
                "source": self.source, "executor": self.executor, "translate": self.translate, "align": self.align,
                "project": self.project, "filter": self.filter}


def pipeline_names() -> list[str]:
    """The shipped pipelines (``pipelines/*.toml``) plus ``auto``."""
    return sorted(["auto", *(p.stem for p in PIPELINES_DIR.glob("*.toml"))])


def pipeline_path(ref: str | Path) -> Path:
    """The file behind a pipeline name (``offline``) or path (``my.toml``)."""
    ref_s = str(ref)
    path = Path(ref_s)
    if path.suffix == ".toml" or os.sep in ref_s:
        if not path.is_file():
            raise ProjectionError(f"{ref_s}: no such pipeline file")
        return path
    path = PIPELINES_DIR / f"{ref_s}.toml"
    if not path.is_file():
        raise ProjectionError(f"unknown pipeline {ref_s!r}; choose one of: {', '.join(pipeline_names())}, or give a .toml file")
    return path


def engine_class(section: str, name: str) -> Any:
    if section == "translate":
        from projection.translate import translators as reg
    elif section == "align":
        from projection.align import aligners as reg
    else:
        from projection.project import projectors as reg
    return reg.get(name)


def engine_names(section: str) -> list[str]:
    if section == "translate":
        from projection.translate import translators as reg
    elif section == "align":
        from projection.align import aligners as reg
    else:
        from projection.project import projectors as reg
    return reg.names()


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _check_options(where: str, section: str, engine: str, options: dict[str, Any],
                   origin: Callable[[str, str], str] | None = None) -> None:
    """Each option must be a parameter of the engine, of the type of its default; errors name
    ``origin(section, key)`` (the file, or the ``--set`` option the value came from)."""
    origin = origin or (lambda _s, _k: where)
    cls = engine_class(section, engine)
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # the engine validates its own options
    fixed = {"self", "src_lang", "tgt_lang"}
    known = {n: p for n, p in params.items() if n not in fixed and p.kind is not inspect.Parameter.VAR_POSITIONAL}
    for key, value in options.items():
        if key not in known:
            raise ProjectionError(f"{origin(section, key)}: [{section}] unknown key {key!r} for {engine}; "
                                  f"options: {', '.join(sorted(known)) or '(none)'}")
        default = known[key].default
        if default is inspect.Parameter.empty or default is None:
            continue
        ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int)
                                                   and not isinstance(value, bool))
        if isinstance(default, bool) != isinstance(value, bool):
            ok = False
        if not ok:
            raise ProjectionError(f"{origin(section, key)}: [{section}] {key} must be {_type_name(default)}, not {value!r}")


def parse_override(text: str) -> tuple[str, str, Any]:
    """``section.key=value`` (value parsed as TOML, else taken as a string)."""
    m = re.match(r"^\s*([A-Za-z_]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", text)
    if not m:
        raise ProjectionError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. align.model=bert-base-multilingual-cased")
    section, key, raw = m.group(1), m.group(2), m.group(3).strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section, key, value


def load_pipeline(ref: str | Path, overrides: Sequence[str] = ()) -> PipelineConfig:
    """Read and validate a pipeline file (name or path); ``overrides`` are ``section.key=value``."""
    path = pipeline_path(ref)
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ProjectionError(f"{where}: invalid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ProjectionError(f"{where}: not UTF-8 text") from None
    origins: dict[tuple[str, str], str] = {}
    for text in overrides:
        section, key, value = parse_override(text)
        if section not in raw and section not in _SECTIONS:
            raise ProjectionError(f"--set {text!r}: unknown section [{section}]; sections: {', '.join(_SECTIONS)}")
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ProjectionError(f"--set {text!r}: [{section}] is not a table in {where}")
        raw[section][key] = value
        origins[(section, key)] = f"--set {text.strip()}"
    return validate_pipeline(raw, where, name=path.stem, file=path, origins=origins)


def validate_pipeline(raw: dict[str, Any], where: str = "<pipeline>", name: str = "custom",
                      file: Path | None = None, origins: dict[tuple[str, str], str] | None = None) -> PipelineConfig:
    """Check sections, engines, keys and value types; errors name the file and the key, or the
    ``--set`` option a value came from (``origins``: (section, key) -> option text)."""
    origins = origins or {}

    def at(section: str, key: str) -> str:
        return origins.get((section, key), where)

    for section, value in raw.items():
        if section not in _SECTIONS:
            raise ProjectionError(f"{where}: unknown section [{section}]; sections: {', '.join(_SECTIONS)}")
        if not isinstance(value, dict):
            raise ProjectionError(f"{where}: {section} must be a table ([{section}]), not {_type_name(value)}")
    for section in _REQUIRED:
        if section not in raw:
            raise ProjectionError(f"{where}: missing section [{section}]")
    meta = raw.get("pipeline", {})
    for key, value in meta.items():
        if key not in _SECTIONS["pipeline"][1]:
            raise ProjectionError(f"{at('pipeline', key)}: [pipeline] unknown key {key!r}; keys: name, description, source, executor")
        if not isinstance(value, str):
            raise ProjectionError(f"{at('pipeline', key)}: [pipeline] {key} must be a string, not {value!r}")
    if "executor" in meta and meta["executor"] not in EXECUTOR_NAMES:
        raise ProjectionError(f"{at('pipeline', 'executor')}: [pipeline] executor = {meta['executor']!r} is not one of: "
                              f"{', '.join(EXECUTOR_NAMES)}")
    tables: dict[str, dict[str, Any]] = {}
    for section in ("translate", "align", "project"):
        table = dict(raw[section])
        engine_key = _SECTIONS[section][0]
        engine = table.get(engine_key)
        if engine is None:
            raise ProjectionError(f"{where}: [{section}] missing key {engine_key!r} "
                                  f"(one of: {', '.join(engine_names(section))})")
        if not isinstance(engine, str) or engine not in engine_names(section):
            raise ProjectionError(f"{at(section, engine_key)}: [{section}] {engine_key} = {engine!r} is not one of: "
                                  f"{', '.join(engine_names(section))}")
        options = {k: v for k, v in table.items() if k not in _SECTIONS[section][1]}
        _check_options(where, section, engine, options, at)
        tables[section] = table
    extra = tables["align"].get("extra_parallel", [])
    if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
        raise ProjectionError(f"{at('align', 'extra_parallel')}: [align] extra_parallel must be a list of strings "
                              f"(names or files), not {extra!r}")
    if "similarity" in tables["align"] and not isinstance(tables["align"]["similarity"], bool):
        raise ProjectionError(f"{at('align', 'similarity')}: [align] similarity must be true or false")
    filt = dict(raw.get("filter", {}))
    for key, value in filt.items():
        if key not in _SECTIONS["filter"][1]:
            raise ProjectionError(f"{at('filter', key)}: [filter] unknown key {key!r}; keys: policy, min_score")
    from projection.project import POLICIES

    policy = filt.setdefault("policy", "drop-sentence")
    if policy not in POLICIES:
        raise ProjectionError(f"{at('filter', 'policy')}: [filter] policy = {policy!r} is not one of: {', '.join(POLICIES)}")
    min_score = filt.setdefault("min_score", 0.0)
    if isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not 0 <= min_score <= 1:
        raise ProjectionError(f"{at('filter', 'min_score')}: [filter] min_score must be a number between 0 and 1, not {min_score!r}")
    return PipelineConfig(name=meta.get("name", name), file=file, description=meta.get("description", ""),
                          source=meta.get("source"), executor=meta.get("executor"), translate=tables["translate"],
                          align=tables["align"], project=tables["project"], filter=filt)


def resolve_value(key: str, value: Any, lang: str) -> Any:
    if isinstance(value, list):
        return [resolve_value(key, v, lang) for v in value]
    if not isinstance(value, str):
        return value
    value = value.replace("{lang}", lang).replace("{data}", str(data_dir()))
    if key in _PATH_KEYS and not Path(value).is_absolute() and not Path(value).exists() and (REPO / value).exists():
        value = str(REPO / value)
    return value


def stage_options(table: dict[str, Any], section: str, lang: str) -> dict[str, Any]:
    skip = _SECTIONS[section][1]
    return {k: resolve_value(k, v, lang) for k, v in table.items() if k not in skip}


