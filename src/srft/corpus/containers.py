"""From what the user named (files, folders, globs, dataset folders) to parsed records, streamed.

A *container* is how records sit in a file, independent of the trajectory format: a JSON file
holding one object (one record) or an array (one record per item, streamed with ijson so a large
array is never held whole), JSONL (one record per line), Parquet (row batches through pyarrow)
or a Hugging Face dataset saved with `save_to_disk` (rows through `datasets`, memory-mapped).
JSON, JSONL and `.traj` files may be gzip/bzip2/xz/zstd-compressed (`srft.corpus.compression`).

Each path also gets a *run key*: its place relative to the folder (or glob base) it was found
under, or the path as given for a file named directly. Ingest derives trajectory ids from it,
so the ids do not depend on where the command runs or on which other files are read.

Broken input never raises out of here: a record that cannot be parsed is yielded as a
`RawRecord` with `error` set, so the caller decides between stopping and rejecting, and
read = accepted + rejected holds.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson

from srft.corpus.compression import (
    DECOMPRESSION_ERRORS,
    decompression_error,
    inner_name,
    open_binary,
)
from srft.corpus.formats import Origin
from srft.corpus.formats.mini_swe_agent_legacy import is_message_list
from srft.corpus.model import CorpusError

JSON_SUFFIXES = (".json", ".traj")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
LABEL_ONLY_SUFFIXES = (".csv",)
_GLOB_CHARS = set("*?[")


@dataclass
class RawRecord:
    """One parsed record, or the reason it could not be parsed."""

    origin: Origin
    data: Any = None
    error: str | None = None


def is_hf_dataset_dir(path: Path) -> bool:
    """A folder written by `datasets`' `save_to_disk` (a Dataset or a DatasetDict)."""
    if not path.is_dir():
        return False
    if (path / "dataset_dict.json").is_file():
        return True
    return (path / "dataset_info.json").is_file() and (path / "state.json").is_file()


def is_readable_file(path: Path) -> bool:
    """Whether the file's name says it can hold trajectories or labels."""
    name = inner_name(path)
    return name.endswith(JSON_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES + LABEL_ONLY_SUFFIXES)


@dataclass
class Expansion:
    """The inputs, expanded: readable paths in order, and files skipped by name (reported).

    `keys[path]` is the path's run key (see the module docstring)."""

    paths: list[Path]
    skipped: list[Path]
    keys: dict[Path, str] = field(default_factory=dict)


def expand_inputs(inputs: list[str | Path]) -> Expansion:
    """Files, folders (recursive, sorted) and globs -> the paths to read.

    A dataset folder (`save_to_disk`) is one path; other folders are walked. Names that match
    nothing are an error, not an empty corpus.
    """
    paths: list[Path] = []
    skipped: list[Path] = []
    keys: dict[Path, str] = {}
    seen: set[Path] = set()
    root: Path | None = None  # the folder or glob base the current candidates lie under

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            paths.append(path)
            keys[path] = run_key(path, root)

    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.exists():
            candidates = [path]
            root = path if path.is_dir() and not is_hf_dataset_dir(path) else None
        elif _GLOB_CHARS & set(text):
            candidates = [Path(p) for p in sorted(glob.glob(text, recursive=True))]
            if not candidates:
                raise CorpusError(f"{text}: the pattern matches no file")
            root = _glob_base(text)
        else:
            raise CorpusError(f"{text}: no such file or folder")
        for candidate in candidates:
            if is_hf_dataset_dir(candidate):
                add(candidate)
            elif candidate.is_dir():
                _walk(candidate, add, skipped)
            elif is_readable_file(candidate) or candidate == path:
                add(candidate)
            else:
                skipped.append(candidate)
    return Expansion(paths=paths, skipped=skipped, keys=keys)


def run_key(path: Path, root: Path | None) -> str:
    """`path` relative to `root` (POSIX separators), or the normalised path as given."""
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return Path(os.path.normpath(path)).as_posix()


def _glob_base(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard (`runs/**/*.traj` -> `runs`)."""
    parts = []
    for part in Path(pattern).parts:
        if _GLOB_CHARS & set(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _walk(folder: Path, add: Any, skipped: list[Path]) -> None:
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if is_hf_dataset_dir(child):
            add(child)
        elif child.is_dir():
            _walk(child, add, skipped)
        elif is_readable_file(child):
            add(child)
        else:
            skipped.append(child)


def container_of(path: Path) -> str:
    """`hf`, `parquet`, `jsonl` or `json` (the default for any other name)."""
    if is_hf_dataset_dir(path):
        return "hf"
    name = inner_name(path)
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return "json"


def read_records(path: Path, *, whole_list: bool | None = None) -> Iterator[RawRecord]:
    """Stream the records of one input path.

    `whole_list`: for a JSON array, True reads the array as one record (a legacy message list),
    False as rows; None decides from the first item.
    """
    kind = container_of(path)
    if kind == "hf":
        yield from _hf_records(path)
    elif kind == "parquet":
        yield from _parquet_records(path)
    elif kind == "jsonl":
        yield from _jsonl_records(path)
    else:
        yield from _json_records(path, whole_list)


def _first_significant_byte(path: Path) -> bytes:
    with open_binary(path) as f:
        while chunk := f.read(4096):
            stripped = chunk.lstrip(b" \t\r\n\xef\xbb\xbf")
            if stripped:
                return stripped[:1]
    return b""


def _no_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def loads_strict(text: str) -> Any:
    """`json.loads` without Python's NaN/Infinity extension (they are not JSON, and the corpus,
    being JSON, could not keep them)."""
    return json.loads(text, parse_constant=_no_constant)


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{what}: invalid UTF-8 at byte {e.start}") from e


def _json_records(path: Path, whole_list: bool | None) -> Iterator[RawRecord]:
    file = str(path)
    try:
        first = _first_significant_byte(path)
    except DECOMPRESSION_ERRORS as e:
        yield RawRecord(Origin(file, "0"), error=decompression_error(e))
        return
    if first != b"[":
        origin = Origin(file=file, record="0")
        try:
            with open_binary(path) as f:
                data = f.read()
            text = _decode(data, "file")
            yield RawRecord(origin, data=loads_strict(text))
        except CorpusError as e:
            yield RawRecord(origin, error=str(e))
        except json.JSONDecodeError as e:
            yield RawRecord(origin, error=f"not valid JSON (truncated?): {e}")
        except DECOMPRESSION_ERRORS as e:
            yield RawRecord(origin, error=decompression_error(e))
        return
    with open_binary(path) as f:
        items = ijson.items(f, "item", use_float=True)
        parsed = 0  # items parsed so far = the index of the item being parsed
        try:
            head = next(items, _END)
            if head is _END:
                yield RawRecord(Origin(file, "0"), error="empty JSON array: no trajectory")
                return
            as_one = whole_list if whole_list is not None else is_message_list([head])
            if as_one:
                yield RawRecord(Origin(file, "0"), data=[head, *items])
                return
            parsed = 1
            yield RawRecord(Origin(file, "0"), data=head)
            for item in items:
                yield RawRecord(Origin(file, str(parsed)), data=item)
                parsed += 1
        except (ijson.JSONError, UnicodeDecodeError) as e:
            reason = str(e).strip() or type(e).__name__
            yield RawRecord(
                Origin(file, str(parsed)), error=f"not valid JSON (truncated?): {reason}"
            )
        except DECOMPRESSION_ERRORS as e:
            yield RawRecord(Origin(file, str(parsed)), error=decompression_error(e))


_END = object()


def _jsonl_records(path: Path) -> Iterator[RawRecord]:
    file = str(path)
    with open_binary(path) as f:
        lines = iter(f)
        n = 0
        while True:
            try:
                line = next(lines)
            except StopIteration:
                return
            except DECOMPRESSION_ERRORS as e:
                yield RawRecord(Origin(file, f"line {n + 1}"), error=decompression_error(e))
                return
            n += 1
            if not line.strip():
                continue
            origin = Origin(file, f"line {n}")
            try:
                yield RawRecord(origin, data=loads_strict(_decode(line, "line")))
            except CorpusError as e:
                yield RawRecord(origin, error=str(e))
            except json.JSONDecodeError as e:
                yield RawRecord(origin, error=f"not valid JSON (truncated?): {e}")


def _parquet_records(path: Path) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    file = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a broken file
        yield RawRecord(Origin(file, "0"), error=f"not a readable Parquet file: {e}")
        return
    index = 0
    for batch in parquet.iter_batches(batch_size=16):
        for row in batch.to_pylist():
            yield RawRecord(Origin(file, f"row {index}"), data=row)
            index += 1


def _hf_records(path: Path) -> Iterator[RawRecord]:
    try:
        import datasets
    except ImportError as e:  # `datasets` is an optional dependency (the train extra)
        raise CorpusError(
            f"{path}: reading a Hugging Face dataset folder needs `datasets` "
            "(pip install 'srft[train]')"
        ) from e
    loaded = datasets.load_from_disk(str(path))
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
    for split, dataset in splits:
        prefix = f"{split}/" if split else ""
        for index, row in enumerate(dataset):
            yield RawRecord(Origin(str(path), f"{prefix}row {index}"), data=row)
