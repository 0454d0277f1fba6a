"""Typed options: the one parser of ``KEY=VALUE`` command-line values, and pydantic models of
engine options with readable errors.

* :func:`parse_value` reads a command-line value (``--set``, ``--option``) as a TOML literal
  (``0.4``, ``true``, ``"text"``, ``[1, 2]``), else as plain text; :func:`parse_override`
  splits ``SECTION.KEY=VALUE``.
* :func:`options_model` is an engine's options as a pydantic model: the model the engine
  declares (``options_model``: constraints such as ``Literal`` choices and ranges), else one
  derived from its constructor (each option of the type of its default; no default or
  ``None``: any value; ``**kwargs``: extra keys allowed, the engine checks them).
* :func:`check_options` validates values against a model and turns the first problem into
  ``(key, message)``, e.g. ``("threshold", "threshold must be at most 1, not 3")``.

Core I/O: imports no stage.
"""

from __future__ import annotations

import functools
import inspect
import re
import tomllib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from projection.errors import ProjectionError

_OVERRIDE = re.compile(r"^\s*([A-Za-z_]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")
FIXED = frozenset({"self", "src_lang", "tgt_lang", "load"})  # given by the pipeline, not options


def parse_value(raw: str) -> Any:
    """A command-line value: a TOML literal (numbers, ``true``/``false`` in any case, quoted
    strings, lists, inline tables), else the text itself."""
    text = raw.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def parse_override(text: str) -> tuple[str, str, Any]:
    """``SECTION.KEY=VALUE`` (the value read by :func:`parse_value`)."""
    m = _OVERRIDE.match(text)
    if not m:
        raise ProjectionError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. align.model=bert-base-multilingual-cased")
    return m.group(1), m.group(2), parse_value(m.group(3))


class Options(BaseModel):
    """Base of options models: unknown keys and values of the wrong type are errors (an integer
    is a number, a boolean is not)."""

    model_config = ConfigDict(extra="forbid", strict=True)


@functools.lru_cache(maxsize=None)
def options_model(cls: Any) -> type[BaseModel] | None:
    """The options model of the engine class ``cls`` (see the module docstring); None when its
    constructor cannot be inspected."""
    declared = getattr(cls, "options_model", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return declared
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return None
    fields: dict[str, Any] = {}
    for name, p in params.items():
        if name in FIXED or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        default = p.default
        if default is inspect.Parameter.empty:
            fields[name] = (Any, ...)
        elif default is None:
            fields[name] = (Any, None)
        else:
            kind = float if type(default) is float else type(default)
            fields[name] = (kind, default)
    extra = "allow" if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()) else "forbid"
    return create_model(f"{cls.__name__}Options", __config__=ConfigDict(extra=extra, strict=True,
                                                                        arbitrary_types_allowed=True), **fields)


_TYPES = {"int_type": "an integer", "float_type": "a number", "bool_type": "true or false", "string_type": "a string",
          "list_type": "a list", "dict_type": "a table", "tuple_type": "a list", "int_from_float": "an integer",
          "bool_parsing": "true or false", "int_parsing": "an integer", "float_parsing": "a number"}
_BOUNDS = {"greater_than_equal": ("at least", "ge"), "greater_than": ("greater than", "gt"),
           "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def describe(error: dict[str, Any]) -> str:
    """One pydantic error as ``must be ...`` / ``unknown key`` text (without the key)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing"
    if kind in _TYPES:
        return f"must be {_TYPES[kind]}"
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        return f"must be {word} {_num(ctx.get(key))}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}".replace("'", "")
    return error["msg"][0].lower() + error["msg"][1:]


def check_options(model: type[BaseModel] | None, values: dict[str, Any]) -> tuple[str, str] | None:
    """The first problem of ``values`` under ``model`` as ``(key, message)``, or None."""
    if model is None:
        return None
    try:
        model.model_validate(values)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(x) for x in err["loc"]) or "?"
        text = describe(err)
        if text == "unknown key":
            return key, f"unknown key {key!r}"
        shown = "" if err["type"] == "missing" else f", not {err.get('input')!r}"
        return key, f"{key} {text}{shown}"
    return None


def validate_engine_options(cls: Any, who: str, values: dict[str, Any]) -> None:
    """Raise :class:`ProjectionError` (``who: message``) when ``values`` are not valid options of
    ``cls`` (for engines that check their options when built directly, not from a pipeline file)."""
    problem = check_options(options_model(cls), values)
    if problem:
        raise ProjectionError(f"{who}: {problem[1]}")
