"""Trajectory formats: one module per source format, found by a registry, detected from content.

A format is a small object with a `name`, a `matches(record)` test on one parsed record, and a
`convert(record, origin)` that returns a canonical `Trajectory` (or raises `CorpusError`). How
records come out of files (one JSON object, a JSON array, JSONL lines, Parquet or Hugging Face
rows) is not a format's business: see `srft.corpus.containers`.

Formats live in the `FORMATS` registry (`srft.registry`, entry-point group `srft.formats`):

- a built-in format is one public module of this package, named after the format
  (`mini_swe_agent_v1.py` holds `mini-swe-agent-v1`), that defines a `FORMAT` object; every such
  module is registered by name (imported on first use), so nothing else needs editing;
- a third-party package adds one without editing srft by declaring, in its pyproject.toml,

      [project.entry-points."srft.formats"]
      my-format = "my_package.my_format:FORMAT"

  and it takes part in `--format my-format` and in detection, by its `priority`, once installed.
"""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass
from typing import Any, Protocol

from srft.files.corpus import CorpusError, Source, Trajectory
from srft.registry import Registry


@dataclass(frozen=True)
class Origin:
    """Where a record came from: the file (or dataset folder) and a locator inside it."""

    file: str
    record: str

    def source(self, format_name: str) -> Source:
        """The `Source` of a trajectory converted from this record by `format_name`."""
        return Source(format=format_name, file=self.file, record=self.record)


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


FORMATS: Registry[TrajectoryFormat] = Registry(
    "trajectory format", "srft.formats", error=CorpusError
)
for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        FORMATS.lazy(_module.name.replace("_", "-"), f"{__name__}.{_module.name}:FORMAT")


def formats() -> list[TrajectoryFormat]:
    """All registered formats that load, most specific (highest `priority`) first."""
    return sorted((fmt for _, fmt in FORMATS.items()), key=lambda f: (-f.priority, f.name))


def get_format(name: str) -> TrajectoryFormat:
    """The format called `name`; a `CorpusError` listing the known names otherwise."""
    if name not in FORMATS.names():
        known = ", ".join(FORMATS.names())
        raise CorpusError(f"unknown format {name!r}; known formats: {known}")
    return FORMATS.get(name)  # a plug-in that cannot be imported fails here, with the reason


def detect(record: Any) -> TrajectoryFormat | None:
    """The first format (by priority) whose shape `record` has, or None."""
    for fmt in formats():
        if fmt.matches(record):
            return fmt
    return None


__all__ = [
    "FORMATS",
    "Origin",
    "TrajectoryFormat",
    "detect",
    "formats",
    "get_format",
    "keeps_its_id",
]
