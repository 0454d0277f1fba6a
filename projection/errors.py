"""Errors that the command line turns into one clear line and exit status 2."""

from __future__ import annotations

from pathlib import Path


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
