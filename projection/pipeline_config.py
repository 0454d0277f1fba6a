"""Pipeline files: finding, reading and validating ``pipelines/*.toml`` and ``--set`` overrides.

A pipeline is a declarative TOML file with one table per stage (see :mod:`projection.pipeline`).
Its sections are pydantic models (:class:`PipelineSection`, :class:`StageSection` and its three
kinds, :class:`FilterSection`: ``Literal`` choices, ranges, strict types), and each engine's
options are the engine's options model (:func:`projection.options.options_model`: declared
with constraints, or derived from its constructor). :func:`load_pipeline` returns a validated
:class:`PipelineConfig`; errors name the file, the section and the key, or the ``--set``
option a value came from. :func:`stage_options` gives an engine's options for one target
language (``{lang}``/``{data}`` filled in, model paths found).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from projection.corpora import data_dir
from projection.errors import ProjectionError
from projection.filtering import POLICIES
from projection.prefix import MODES as PREFIX_MODES
from projection.retype import (DERIVED_MODES, MIN_COUNT as MISC_MIN_COUNT, MIN_SHARE as MISC_MIN_SHARE,
                               MODES as MISC_MODES)
from projection.options import check_options, describe, options_model, parse_override  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
PIPELINES_DIR = Path(__file__).resolve().parent / "pipelines"  # package data: a link to the top-level pipelines/
ExecutorName = Literal["local", "ray"]  # the executors of projection.executors (checked by a test)
EXECUTOR_NAMES: tuple[str, ...] = get_args(ExecutorName)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PipelineSection(_Section):
    """``[pipeline]``: about the pipeline."""

    name: str | None = None
    description: str = ""
    source: str | None = None
    executor: ExecutorName | None = None  # --executor overrides
    # "source": English gold -> target (projection); "target": target text -> English -> labelled -> back
    # (projection.pipeline_target), with the English NER model of [label]
    direction: Literal["source", "target"] = "source"


class StageSection(_Section):
    """A stage's table: its engine (``engine``/``method``, one of the stage's registry) plus the
    keys the pipeline reads; every other key is an option of the engine (its options model)."""

    model_config = ConfigDict(extra="allow", strict=True)
    engine_key: ClassVar[str] = "engine"  # the key naming the engine


class TranslateSection(StageSection):
    engine: str


class AlignSection(StageSection):
    engine: str
    extra_parallel: list[str] = Field(default_factory=list)  # names or files of more parallel text
    similarity: bool | None = None  # also store similarity matrices (default: when the projector uses them)


class ProjectSection(StageSection):
    engine_key: ClassVar[str] = "method"
    method: str


class LabelSection(StageSection):
    """``[label]`` of the target direction: ``model`` (a folder) and, optionally, ``engine`` (default:
    told by the model folder when the run starts) and its options."""

    engine: str | None = None


class RefineSection(_Section):
    """``[refine]`` of the target direction: re-translation with markers (:mod:`projection.project.refine`)."""

    retranslate: bool = False
    min_similarity: float = Field(0.8, ge=0.0, le=1.0)


class FilterSection(_Section):
    """``[filter]``: which projected sentences the run keeps."""

    policy: Literal[POLICIES] = "drop-sentence"  # type: ignore[valid-type]
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    # projected MISC entities retyped by the corpus (projection.retype); None: the target's default
    misc: Literal[MISC_MODES] | None = None  # type: ignore[valid-type]
    misc_min_count: int = Field(MISC_MIN_COUNT, ge=1)
    misc_min_share: float = Field(MISC_MIN_SHARE, gt=0.0, le=1.0)
    # projected LOC words that derive from a place of the run, retyped MISC (projection.retype); None: the
    # target's default mode and suffix
    derived: Literal[DERIVED_MODES] | None = None  # type: ignore[valid-type]
    derived_suffix: str | None = None
    derived_min_count: int = Field(MISC_MIN_COUNT, ge=1)
    # hyphenated class prefixes joined to their entity (projection.prefix); None: its DEFAULT, keep
    prefix: Literal[PREFIX_MODES] | None = None  # type: ignore[valid-type]


SECTIONS: dict[str, type[_Section]] = {"pipeline": PipelineSection, "translate": TranslateSection,
                                       "label": LabelSection, "align": AlignSection, "project": ProjectSection,
                                       "filter": FilterSection, "refine": RefineSection}
TARGET_ONLY = ("label", "refine")  # sections of direction = "target" only
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
    direction: str = "source"  # or "target" (projection.pipeline_target)
    label: dict[str, Any] = field(default_factory=dict)
    refine: dict[str, Any] = field(default_factory=dict)  # target direction: re-translation with markers

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "file": str(self.file) if self.file else None, "description": self.description,
               "source": self.source, "executor": self.executor, "translate": self.translate, "align": self.align,
               "project": self.project, "filter": self.filter}
        if self.direction != "source":
            out.update(direction=self.direction, label=self.label, refine=self.refine)
        return out


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
    elif section == "label":
        from projection.label import labellers as reg
    elif section == "align":
        from projection.align import aligners as reg
    else:
        from projection.project import projectors as reg
    return reg.get(name)


def engine_names(section: str) -> list[str]:
    if section == "translate":
        from projection.translate import translators as reg
    elif section == "label":
        from projection.label import labellers as reg
    elif section == "align":
        from projection.align import aligners as reg
    else:
        from projection.project import projectors as reg
    return reg.names()


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def pipeline_keys(section: str) -> frozenset[str]:
    """The keys of a stage table that the pipeline reads itself (the rest are engine options)."""
    return frozenset(SECTIONS[section].model_fields)


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
        if section not in raw and section not in SECTIONS:
            raise ProjectionError(f"--set {text!r}: unknown section [{section}]; sections: {', '.join(SECTIONS)}")
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ProjectionError(f"--set {text!r}: [{section}] is not a table in {where}")
        raw[section][key] = value
        origins[(section, key)] = f"--set {text.strip()}"
    return validate_pipeline(raw, where, name=path.stem, file=path, origins=origins)


def validate_pipeline(raw: dict[str, Any], where: str = "<pipeline>", name: str = "custom",
                      file: Path | None = None, origins: dict[tuple[str, str], str] | None = None) -> PipelineConfig:
    """Check sections, engines, keys and value types against the section models and the engines'
    options models; errors name the file and the key, or the ``--set`` option a value came from
    (``origins``: (section, key) -> option text). The tables keep the values as written."""
    origins = origins or {}

    def at(section: str, key: str) -> str:
        return origins.get((section, key), where)

    for section, value in raw.items():
        if section not in SECTIONS:
            raise ProjectionError(f"{where}: unknown section [{section}]; sections: {', '.join(SECTIONS)}")
        if not isinstance(value, dict):
            raise ProjectionError(f"{where}: {section} must be a table ([{section}]), not {_type_name(value)}")
    for section in _REQUIRED:
        if section not in raw:
            raise ProjectionError(f"{where}: missing section [{section}]")
    tables = {section: dict(raw.get(section, {})) for section in SECTIONS}
    _validate(PipelineSection, "pipeline", tables["pipeline"], at)
    target = tables["pipeline"].get("direction") == "target"
    for section in TARGET_ONLY:
        if section in raw and not target:
            raise ProjectionError(f"{where}: [{section}] applies to direction = \"target\" (set [pipeline] direction)")
    for section, model in SECTIONS.items():
        table = tables[section]
        if section in TARGET_ONLY:
            if target and section == "label":
                _validate_label(table, where, at)
            elif target:
                _validate(model, section, table, at)
            continue
        if issubclass(model, StageSection):
            engine_key = model.engine_key
            engine = table.get(engine_key)
            names = engine_names(section)
            if engine is None:
                raise ProjectionError(f"{where}: [{section}] missing key {engine_key!r} (one of: {', '.join(names)})")
            if not isinstance(engine, str) or engine not in names:
                raise ProjectionError(f"{at(section, engine_key)}: [{section}] {engine_key} = {engine!r} is not one of: "
                                      f"{', '.join(names)}")
        _validate(model, section, table, at)
        if issubclass(model, StageSection):
            options = {k: v for k, v in table.items() if k not in pipeline_keys(section)}
            problem = check_options(options_model(engine_class(section, table[model.engine_key])), options)
            if problem:
                key, message = problem
                if message.startswith("unknown key"):
                    known = sorted(options_model(engine_class(section, table[model.engine_key])).model_fields)
                    message += f" for {table[model.engine_key]}; options: {', '.join(known) or '(none)'}"
                raise ProjectionError(f"{at(section, key)}: [{section}] {message}")
    meta = PipelineSection.model_validate(tables["pipeline"])
    filt = FilterSection.model_validate(tables["filter"])
    filters = filt.model_dump()  # every key of [filter], its default where the file is silent
    return PipelineConfig(name=meta.name or name, file=file, description=meta.description, source=meta.source,
                          executor=meta.executor, translate=tables["translate"], align=tables["align"],
                          project=tables["project"], filter=filters, direction=meta.direction,
                          label=tables["label"] if target else {},
                          refine=RefineSection.model_validate(tables["refine"]).model_dump() if target else {})


def _validate_label(table: dict[str, Any], where: str, at: Callable[[str, str], str]) -> None:
    """``[label]``: ``model`` a folder name (absent: checked when a run starts), ``engine`` one of the
    labellers; without an engine, the options must suit one of them (the model folder tells which)."""
    model = table.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ProjectionError(f"{at('label', 'model')}: [label] model must be a folder name, not {model!r}")
    engine = table.get("engine")
    names = engine_names("label")
    if engine is not None and engine not in names:
        raise ProjectionError(f"{at('label', 'engine')}: [label] engine = {engine!r} is not one of: {', '.join(names)}")
    options = {k: v for k, v in table.items() if k != "engine"}
    problems = []
    for name in [engine] if engine else names:
        problem = check_options(options_model(engine_class("label", name)), options)
        if not problem:
            return
        problems.append((name, problem))
    name, (key, message) = problems[0]
    raise ProjectionError(f"{at('label', key)}: [label] {message}" + (f" for {name}" if engine else ""))


def _validate(model: type[BaseModel], section: str, table: dict[str, Any], at: Callable[[str, str], str]) -> None:
    try:
        model.model_validate(table)
    except ValidationError as e:
        err = e.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "?"
        text = describe(err)
        if text == "unknown key":
            raise ProjectionError(f"{at(section, key)}: [{section}] unknown key {key!r}; keys: "
                                  f"{', '.join(model.model_fields)}") from None
        if err["type"] == "literal_error":
            raise ProjectionError(f"{at(section, key)}: [{section}] {key} = {err.get('input')!r} is not one of: "
                                  f"{', '.join(str(x) for x in _choices(model, key))}") from None
        raise ProjectionError(f"{at(section, key)}: [{section}] {key} {text}, not {err.get('input')!r}") from None


def _choices(model: type[BaseModel], key: str) -> tuple[Any, ...]:
    annotation = model.model_fields[key].annotation
    for arg in (annotation, *get_args(annotation)):
        if get_args(arg) and all(isinstance(x, str) for x in get_args(arg)):
            return get_args(arg)
    return ()


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
    """The engine options of a stage table for ``lang`` (values resolved with :func:`resolve_value`)."""
    skip = pipeline_keys(section)
    return {k: resolve_value(k, v, lang) for k, v in table.items() if k not in skip}


