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

Hostile files never hang a run: only regular files are ever opened. Inside folders, named
pipes, device files, sockets and symbolic-link loops are skipped with their reason (a pipe or
`/dev/zero` would block or stream forever; a loop would walk forever); named directly, or
when a file is a dangling link or cannot be read, it is one record that fails with its reason.
"""

from __future__ import annotations

import fnmatch
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
from srft.files.corpus import CorpusError
from srft.paths import not_a_regular_file

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
    """The inputs, expanded: readable paths in order, files skipped by name (reported), and
    things inside folders that are not safe to open (pipes, devices, link loops), with why.

    `keys[path]` is the path's run key (see the module docstring)."""

    paths: list[Path]
    skipped: list[Path]
    refused: list[tuple[Path, str]] = field(default_factory=list)
    keys: dict[Path, str] = field(default_factory=dict)


def expand_inputs(inputs: list[str | Path]) -> Expansion:
    """Files, folders (recursive, sorted) and globs -> the paths to read.

    A dataset folder (`save_to_disk`) is one path; other folders are walked. Names that match
    nothing are an error, not an empty corpus.
    """
    paths: list[Path] = []
    skipped: list[Path] = []
    keys: dict[Path, str] = {}
    refused: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    root: Path | None = None  # the folder or glob base the current candidates lie under

    def add(path: Path) -> None:
        key = Path(os.path.realpath(path))  # never raises on a link loop, unlike resolve()
        if key not in seen:
            seen.add(key)
            paths.append(path)
            keys[path] = run_key(path, root)

    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.exists() or path.is_symlink():
            # A dangling or looping link named directly is read, so that it fails as one
            # record with its reason (counted under --skip-invalid) rather than vanishing.
            candidates = [path]
            root = path if path.is_dir() and not is_hf_dataset_dir(path) else None
        elif _GLOB_CHARS & set(text):
            candidates = _glob(text)
            if not candidates:
                raise CorpusError(f"{text}: the pattern matches no file")
            root = _glob_base(text)
        else:
            raise CorpusError(f"{text}: no such file or folder")
        for candidate in candidates:
            if is_hf_dataset_dir(candidate):
                add(candidate)
            elif candidate.is_dir():
                _walk(candidate, add, skipped, refused, {os.path.realpath(candidate)})
            elif is_readable_file(candidate) or candidate == path:
                add(candidate)
            else:
                skipped.append(candidate)
    return Expansion(paths=paths, skipped=skipped, refused=refused, keys=keys)


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


def _glob(pattern: str) -> list[Path]:
    """The paths matching `pattern`, sorted, as `glob.glob(recursive=True)` finds them, but
    never walking a link loop.

    `glob.glob`'s `**` follows links to folders, so a link back to a folder above makes it
    walk without end (exponentially, with two such links); pathlib's `**` follows no link at
    all, which would silently miss a folder of linked runs. Here links are followed unless
    they lead back to a folder above. Hidden names are left out, as `glob.glob` does.
    """
    if "**" not in pattern:
        return [Path(p) for p in sorted(glob.glob(pattern))]
    base = _glob_base(pattern)
    wanted = list(Path(pattern).parts[len(base.parts) :])
    found: list[Path] = []

    def walk(folder: Path, where: list[str], ancestors: frozenset[str]) -> None:
        try:
            names = sorted(os.listdir(folder))
        except OSError:  # unreadable, or a loop the kernel refused: nothing to match below
            return
        for name in names:
            if name.startswith("."):
                continue
            path = folder / name
            if _matches([*where, name], wanted):
                found.append(path)
            if path.is_dir():
                real = os.path.realpath(path)
                if real not in ancestors:  # a link back to a folder above is not followed
                    walk(path, [*where, name], ancestors | {real})

    walk(base, [], frozenset({os.path.realpath(base)}))
    return sorted(found)


def _matches(path: list[str], pattern: list[str]) -> bool:
    """Whether path components match pattern components (`**` = any number of folders)."""
    if not pattern:
        return not path
    if pattern[0] == "**":
        return _matches(path, pattern[1:]) or (bool(path) and _matches(path[1:], pattern))
    return (
        bool(path) and fnmatch.fnmatchcase(path[0], pattern[0]) and _matches(path[1:], pattern[1:])
    )


def _walk(
    folder: Path,
    add: Any,
    skipped: list[Path],
    refused: list[tuple[Path, str]],
    ancestors: set[str],
) -> None:
    """Walk `folder` depth first, in sorted order. `ancestors` holds the real paths of the
    folders above, so a link back to one of them is refused instead of walked forever."""
    try:
        children = sorted(folder.iterdir())
    except OSError as e:
        refused.append((folder, f"the folder cannot be listed: {e.strerror or e}"))
        return
    for child in children:
        if child.name.startswith("."):
            continue
        problem = not_a_regular_file(child)
        if problem is not None and not problem.startswith(("a dangling", "cannot be read")):
            refused.append((child, problem))
            continue
        if is_hf_dataset_dir(child):
            add(child)
        elif child.is_dir():
            real = os.path.realpath(child)
            if real in ancestors:
                refused.append((child, f"a symbolic link loop (it leads back to {real})"))
                continue
            _walk(child, add, skipped, refused, ancestors | {real})
        elif is_readable_file(child):
            add(child)  # dangling links and unreadable files fail when read, with their reason
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
    problem = not_a_regular_file(path)
    if problem is not None:
        yield RawRecord(Origin(str(path), "0"), error=problem)
        return
    kind = container_of(path)
    if kind != "hf" and not os.access(path, os.R_OK):
        yield RawRecord(Origin(str(path), "0"), error="cannot be read: permission denied")
        return
    try:
        if kind == "hf":
            yield from _hf_records(path)
        elif kind == "parquet":
            yield from _parquet_records(path)
        elif kind == "jsonl":
            yield from _jsonl_records(path)
        else:
            yield from _json_records(path, whole_list)
    except OSError as e:  # a file that vanished or failed mid-read: one failed record
        yield RawRecord(Origin(str(path), "0"), error=f"cannot be read: {e.strerror or e}")


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
    if first == b"":
        yield RawRecord(Origin(file, "0"), error="the file is empty: no trajectory")
        return
    if first != b"[":
        yield _json_document(path)
        return
    yield from _json_array(path, whole_list)


def _json_document(path: Path) -> RawRecord:
    """A file holding one JSON value: one record (or the reason it cannot be read)."""
    origin = Origin(file=str(path), record="0")
    try:
        with open_binary(path) as f:
            data = f.read()
        text = _decode(data, "file")
        return RawRecord(origin, data=loads_strict(text))
    except CorpusError as e:
        return RawRecord(origin, error=str(e))
    except json.JSONDecodeError as e:
        return RawRecord(origin, error=f"not valid JSON (truncated?): {e}")
    except DECOMPRESSION_ERRORS as e:
        return RawRecord(origin, error=decompression_error(e))
    except RecursionError:
        return RawRecord(origin, error=TOO_DEEP)


def _json_array(path: Path, whole_list: bool | None) -> Iterator[RawRecord]:
    """A file holding a JSON array, streamed: one record per item, or the whole array as one
    record when it is a bare message list (`whole_list`, or detected from its first item)."""
    file = str(path)
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
            # yajl's messages draw an arrow under the input over several lines: keep one.
            reason = " ".join(str(e).replace("(right here) ------^", "").split())
            reason = reason or type(e).__name__
            yield RawRecord(
                Origin(file, str(parsed)), error=f"not valid JSON (truncated?): {reason}"
            )
        except DECOMPRESSION_ERRORS as e:
            yield RawRecord(Origin(file, str(parsed)), error=decompression_error(e))
        except RecursionError:
            yield RawRecord(Origin(file, str(parsed)), error=TOO_DEEP)


_END = object()
TOO_DEEP = "JSON nested too deeply to read (thousands of levels; no trajectory is shaped so)"


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
            except RecursionError:
                yield RawRecord(origin, error=TOO_DEEP)


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
