"""Trajectory formats: one module per source format, found by a registry, detected from content.

A format is a small object with a `name`, a `matches(record)` test on one parsed record, and a
`convert(record, origin)` that returns a canonical `Trajectory` (or raises `CorpusError`). How
records come out of files (one JSON object, a JSON array, JSONL lines, Parquet or Hugging Face
rows) is not a format's business: see `srft.corpus.containers`.

Adding a format is one new module in this package that defines a `FORMAT` object; the registry
imports every public module here, so nothing else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Protocol

from srft.files.corpus import CorpusError, Trajectory


@dataclass(frozen=True)
class Origin:
    """Where a record came from: the file (or dataset folder) and a locator inside it."""

    file: str
    record: str


class TrajectoryFormat(Protocol):
    """What every format module's `FORMAT` provides."""

    name: str
    description: str
    # Higher priority formats are tried first during detection (more specific shapes first).
    priority: int

    def matches(self, record: Any) -> bool:
        """Whether one parsed record has this format's shape (cheap, no validation)."""
        ...

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        """The canonical trajectory of one record; `CorpusError` with the reason if invalid."""
        ...


def keeps_its_id(fmt: TrajectoryFormat, record: Any) -> bool:
    """Whether the id `fmt.convert` gives `record` already names one run, so ingest keeps it.

    A format whose records can carry a publisher's run id (a `traj_id`) says so with an optional
    `has_run_id(record) -> bool`; every other id is replaced by `srft.corpus.runs.run_id`.
    """
    has_run_id = getattr(fmt, "has_run_id", None)
    return bool(has_run_id(record)) if has_run_id is not None else False


_REGISTRY: dict[str, TrajectoryFormat] = {}


def register(fmt: TrajectoryFormat) -> TrajectoryFormat:
    """Add a format to the registry (done by `_load_builtin` for this package's modules)."""
    if fmt.name in _REGISTRY and _REGISTRY[fmt.name] is not fmt:
        raise ValueError(f"trajectory format {fmt.name!r} is registered twice")
    _REGISTRY[fmt.name] = fmt
    return fmt


def _load_builtin() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if fmt is not None:
            register(fmt)


def formats() -> list[TrajectoryFormat]:
    """All registered formats, most specific first."""
    if not _REGISTRY:
        _load_builtin()
    return sorted(_REGISTRY.values(), key=lambda f: (-f.priority, f.name))


def get_format(name: str) -> TrajectoryFormat:
    """The format called `name`; a `CorpusError` listing the known names otherwise."""
    known = {f.name: f for f in formats()}
    if name not in known:
        raise CorpusError(f"unknown format {name!r}; known formats: {', '.join(sorted(known))}")
    return known[name]


def detect(record: Any) -> TrajectoryFormat | None:
    """The first format (by priority) whose shape `record` has, or None."""
    for fmt in formats():
        if fmt.matches(record):
            return fmt
    return None


__all__ = [
    "Origin",
    "TrajectoryFormat",
    "detect",
    "formats",
    "get_format",
    "keeps_its_id",
    "register",
]
