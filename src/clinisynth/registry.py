"""A registry of classes found by name, with built-ins imported lazily (as synthcity's plugins).

Generators and calibrators each keep one :class:`Registry`; a built-in is imported only when it
is first asked for (so ``cvae`` pulls in PyTorch only when used), and third parties add their
own classes with :meth:`Registry.register`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from clinisynth.errors import ClinisynthError
from clinisynth.interrupts import import_native

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> classes derived from ``base``; ``builtin`` maps names to ``module:attribute``."""

    def __init__(self, kind: str, base: type[T], builtin: dict[str, str]) -> None:
        self.kind = kind
        self.base = base
        self.builtin = dict(builtin)
        self._classes: dict[str, type[T]] = {}

    def register(self, cls: type[T]) -> type[T]:
        """Add ``cls`` under ``cls.name`` (usable as a decorator)."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"only {self.base.__name__} subclasses can be registered")
        self._classes[cls.name] = cls  # type: ignore[attr-defined]
        return cls

    def unregister(self, name: str) -> None:
        """Remove a class added with :meth:`register` (built-ins stay)."""
        self._classes.pop(name, None)
        if name in self.builtin:
            self.get(name)  # the built-in again

    def names(self) -> list[str]:
        """Registered names, built-ins first."""
        return list(self.builtin) + [n for n in self._classes if n not in self.builtin]

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; a one-line error lists the known names."""
        if name in self._classes:
            return self._classes[name]
        if isinstance(name, str) and name in self.builtin:
            module, attr = self.builtin[name].split(":")
            cls = getattr(import_native(module), attr)
            self._classes[name] = cls
            return cls
        raise ClinisynthError(
            f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}")
