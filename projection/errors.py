"""Errors that the command line turns into one clear line and exit status 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ProjectionError(Exception):
    """A user-facing error: bad input, a missing corpus or model, an unknown engine.

    The CLI prints ``str(err)`` on one line and exits with status 2; no traceback.
    """

    exit_code = 2


class InputError(ProjectionError):
    """Bad content in an input file, located by file and 1-based line number."""

    def __init__(self, path: str | Path | None, line: int | None, message: str):
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


def shorten(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters, with the full length said: error messages
    quote the offending value without echoing ten megabytes of it."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} characters as text"
    return f"{text[:limit]}… ({size})"


def read_json_file(path: str | Path) -> Any:
    """A JSON file's content; bad JSON is an :class:`InputError` naming the file and the line of the fault."""
    return parse_json(path, None, Path(path).read_text(encoding="utf-8"))


def parse_json(path: str | Path | None, line: int | None, text: str | bytes) -> object:
    """``json.loads`` whose failures (bad JSON, nesting too deep for the parser) are one
    :class:`InputError` naming the file and line: ``line`` (of a JSON Lines record), or with None
    the line of the fault within ``text`` (a whole JSON file)."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, line if line is not None else e.lineno, f"invalid JSON: {e.msg}") from None
    except RecursionError:
        raise InputError(path, line, "JSON nested too deeply") from None
