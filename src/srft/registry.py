"""One idiom for every plug-in part: formats, critics, policies, exporters and environments.

A `Registry` maps a name to an object (a format instance, a critic factory, a policy class, an
exporter function, an environment class). It is filled three ways, all ending in the same table:

- `@registry.register("name")` (or `registry.add(name, obj)`) on an object defined in srft;
- `registry.lazy("name", "module:attribute")`, imported on first use, so a cheap command never
  pays for a heavy part it does not use (the `llm` critic's HTTP stack, a simulated environment);
- the Python entry-point group `registry.group` (e.g. `srft.environments`), so a third-party
  package adds a trajectory format or an environment by declaring, in its own pyproject.toml,

      [project.entry-points."srft.formats"]
      my-format = "my_package.format:FORMAT"

  without editing srft. srft's own toy testbed registers its environment and commands this way,
  so no product package imports it and deleting `srft/toy/` only removes the names it added.

An entry point whose module cannot be imported (a plug-in uninstalled behind its metadata)
makes that one name unavailable, with the import error as the reason; the rest still load.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownName(LookupError):
    """A name no plug-in provides; the message lists the names that exist."""


class Registry(Generic[T]):
    """Named plug-in objects of one kind (see the module docstring)."""

    def __init__(self, kind: str, group: str, *, error: type[Exception] = UnknownName) -> None:
        self.kind = kind  # "trajectory format", "critic", ...: how error messages name an entry
        self.group = group  # the entry-point group third-party packages register in
        self._error = error
        self._objects: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._broken: dict[str, str] = {}
        self._loaded_entry_points = False

    def add(self, name: str, obj: T) -> T:
        """Register `obj` under `name`; registering another object under a taken name fails."""
        if name in self._objects and self._objects[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._objects[name] = obj
        self._lazy.pop(name, None)
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def decorate(obj: T) -> T:
            return self.add(name, obj)

        return decorate

    def lazy(self, name: str, target: str) -> None:
        """Register `"module:attribute"` under `name`, imported when first asked for."""
        if name not in self._objects:
            self._lazy[name] = target

    def _load_entry_points(self) -> None:
        if self._loaded_entry_points:
            return
        self._loaded_entry_points = True
        for ep in entry_points(group=self.group):
            if ep.name not in self._objects and ep.name not in self._lazy:
                self._lazy[ep.name] = ep.value

    def _resolve(self, name: str) -> T | None:
        target = self._lazy.get(name)
        if target is None:
            return self._objects.get(name)
        module, _, attr = target.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            del self._lazy[name]
            self._broken[name] = f"{target}: {e}"
            return None
        if name in self._objects:  # importing the module registered it itself
            del self._lazy[name]
            return self._objects[name]
        return self.add(name, obj)  # type: ignore[arg-type]

    def names(self) -> list[str]:
        """Every name that can be asked for (entry points included), sorted."""
        self._load_entry_points()
        return sorted({*self._objects, *self._lazy})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names() and self._resolve(name) is not None

    def get(self, name: str) -> T:
        """The object registered as `name`, or the registry's error listing the known names."""
        self._load_entry_points()
        obj = self._resolve(name)
        if obj is None:
            if name in self._broken:
                raise self._error(
                    f"{self.kind} {name!r} is registered but cannot be loaded "
                    f"({self._broken[name]})"
                )
            known = ", ".join(self.names()) or "none"
            raise self._error(f"unknown {self.kind} {name!r}; known: {known}")
        return obj

    def items(self) -> Iterator[tuple[str, T]]:
        """(name, object) for every name that loads, in name order (loads the lazy ones)."""
        for name in self.names():
            obj = self._resolve(name)
            if obj is not None:
                yield name, obj
