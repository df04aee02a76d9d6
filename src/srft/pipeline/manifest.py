"""The run folder's `manifest.json` and the content hashes it records.

The manifest is what makes a rerun cheap: for every stage it records the hash of the stage's
inputs and settings (`input_hash`), the hash of what the stage wrote (`output_hash`), its status
and a small summary. A stage is skipped when its `input_hash` is unchanged, it finished, and its
outputs are still there. Downstream stages hash their upstream's `output_hash`, not the upstream
settings, so a change that does not change a file (say, the critic's concurrency) stops there.

The file is rewritten atomically (temp file + rename) after every stage, so an interrupted run
leaves a manifest that says exactly which stages finished.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srft.pipeline.config import RUN_FORMAT, RUN_VERSION

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20

StageStatus = Literal["running", "done", "failed"]


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file and the reason."""


class StageRecord(BaseModel):
    """What the manifest knows about one stage."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    status: StageStatus
    input_hash: str
    output_hash: str | None = None
    outputs: list[str] = Field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    seconds: float | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class Manifest(BaseModel):
    """`manifest.json`: the run's config and one record per stage (format `srft.run`)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["srft.run"] = RUN_FORMAT
    version: int = RUN_VERSION
    srft_version: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    stages: dict[str, StageRecord] = Field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: Path) -> Manifest:
        """The manifest of `run_dir`, or an empty one for a new run folder."""
        path = run_dir / MANIFEST_NAME
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ManifestError(f"{path}: not readable JSON: {e}") from e
        if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
            raise ManifestError(f"{path}: not an srft run manifest (format={data.get('format')!r})")
        if data.get("version") != RUN_VERSION:
            raise ManifestError(
                f"{path}: run manifest version {data.get('version')!r} is not supported "
                f"(this srft reads version {RUN_VERSION})"
            )
        try:
            return cls.model_validate(data)
        except ValueError as e:
            raise ManifestError(f"{path}: {e}") from e

    def save(self, run_dir: Path) -> None:
        """Write atomically, so a crash never leaves half a manifest."""
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / MANIFEST_NAME
        tmp = path.with_name(f".{MANIFEST_NAME}.{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        os.replace(tmp, path)


def now() -> float:
    """Wall-clock time for the manifest (seconds since the epoch)."""
    return round(time.time(), 3)


# -- content hashes ----------------------------------------------------------------------------


def hash_json(value: Any) -> str:
    """sha256 of a JSON value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_file(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks so a large model file never sits in memory."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def hash_path(path: Path) -> str:
    """Content hash of a file or a folder (its files' relative paths and contents, sorted).

    A missing path hashes to a fixed marker rather than failing: the stage that needs it reports
    the missing file with its own, better message.
    """
    if path.is_file():
        return hash_file(path)
    if not path.is_dir():
        return "missing"
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(file.relative_to(path).as_posix().encode("utf-8") + b"\0")
        h.update(hash_file(file).encode("ascii") + b"\n")
    return h.hexdigest()


def expand(patterns: Iterable[str]) -> list[Path]:
    """Files and folders named by paths or globs, in a stable order (for hashing inputs)."""
    out: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            out.extend(Path(p) for p in sorted(glob.glob(pattern, recursive=True)))
        else:
            out.append(Path(pattern))
    return out


def hash_inputs(patterns: Iterable[str]) -> dict[str, str]:
    """Content hash of every input path (globs expanded), keyed by path."""
    return {str(p): hash_path(p) for p in expand(patterns)}
