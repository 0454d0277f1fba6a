"""A small registry from engine name to implementation, in the spirit of spaCy's registries.

Implementations are registered by dotted path (``"package.module:Class"``) so that
listing engines never imports torch, CTranslate2 or other heavy dependencies; the
module is imported the first time the engine is asked for. Adding an engine is one
file and one ``registry.add(...)`` line in the stage's ``__init__``.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, TypeVar

from projection.errors import ProjectionError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._paths: dict[str, str] = {}
        self._loaded: dict[str, T] = {}

    def add(self, name: str, target: str | T) -> None:
        """Register ``name`` for a dotted path ``"module:attr"`` or an object."""
        if isinstance(target, str):
            self._paths[name] = target
            self._loaded.pop(name, None)
        else:
            self._loaded[name] = target
            self._paths.setdefault(name, f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', '?')}")

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def names(self) -> list[str]:
        return sorted(self._paths)

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def get(self, name: str) -> T:
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._paths:
            raise ProjectionError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names()) or '(none registered)'}"
            )
        module_name, _, attr = self._paths[name].partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        self._loaded[name] = obj
        return obj

    def create(self, name: str, /, **options: Any) -> Any:
        """Instantiate the engine ``name`` with keyword options."""
        return self.get(name)(**options)  # type: ignore[operator]
