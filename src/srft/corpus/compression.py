"""Compressed input files: gzip, bzip2, xz and zstd, read as streams by their file name.

Published corpora often come compressed (`run.jsonl.gz`, `x.traj.zst`). A compressed file is
read as the file its name has without the compression suffix (`a.jsonl.gz` is JSONL), through
a decompressing stream, so it is never held whole in memory. The name decides, not the bytes:
a `.json` that happens to be gzip is as wrong as a `.gz` that is not (both get a clear error
from the reader), and a name-based rule is the one users can predict.

zstd comes from the `zstandard` package (Python 3.14 has `compression.zstd`, older ones none).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
from pathlib import Path
from typing import IO

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")

# What a broken compressed stream raises while it is read (truncated member, bad header).
DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    OSError,
    lzma.LZMAError,
)
try:
    import zstandard

    DECOMPRESSION_ERRORS = (*DECOMPRESSION_ERRORS, zstandard.ZstdError)
except ImportError:  # pragma: no cover - zstandard is a dependency; kept for a trimmed install
    zstandard = None  # type: ignore[assignment]


def compression_of(path: Path | str) -> str | None:
    """The compression suffix of a file name (`.gz`, ...), or None for a plain file."""
    name = str(path).lower()
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def strip_compression(name: str) -> str:
    """`name` without its compression suffix, case kept (`run.traj.GZ` -> `run.traj`)."""
    suffix = compression_of(name)
    return name[: -len(suffix)] if suffix else name


def inner_name(path: Path | str) -> str:
    """The file name without its compression suffix, lower-cased: what the content is."""
    name = os.path.basename(path).lower()  # not Path(): this runs for every input file
    suffix = compression_of(name)
    return name[: -len(suffix)] if suffix else name


def open_binary(path: Path) -> IO[bytes]:
    """`path` opened for binary reading, decompressed on the fly when its name says so."""
    suffix = compression_of(path)
    if suffix == ".gz":
        return gzip.open(path, "rb")
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".xz":
        return lzma.open(path, "rb")
    if suffix == ".zst":
        if zstandard is None:  # pragma: no cover
            raise OSError("reading .zst files needs the `zstandard` package")
        # The zstd reader has no readline (JSONL needs it): buffer it like gzip's stream.
        return io.BufferedReader(
            zstandard.ZstdDecompressor().stream_reader(path.open("rb"), closefd=True)
        )
    return path.open("rb")


def decompression_error(error: BaseException) -> str:
    """A one-line reason for a broken compressed stream (`EOFError` says nothing by itself)."""
    text = str(error).strip()
    if isinstance(error, EOFError):
        return "compressed stream ends early (truncated file?)" + (f": {text}" if text else "")
    return f"not a readable compressed file: {text or type(error).__name__}"
