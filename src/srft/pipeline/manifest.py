"""The content hashes `manifest.json` records, and its model (from `srft.files.run_manifest`).

The manifest is what makes a rerun cheap: for every stage it records the hash of the stage's
inputs and settings (`input_hash`), the hash of what the stage wrote (`output_hash`), its status
and a small summary. A stage is skipped when its `input_hash` is unchanged, it finished, and its
outputs are still there. Downstream stages hash their upstream's `output_hash`, not the upstream
settings, so a change that does not change a file (say, the critic's concurrency) stops there.
"""

from __future__ import annotations

import glob
import hashlib
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from srft.files.run_manifest import Manifest, ManifestError, StageRecord

__all__ = ["Manifest", "ManifestError", "StageRecord", "hash_inputs", "hash_json", "hash_path"]

_CHUNK = 1 << 20


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
