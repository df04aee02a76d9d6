"""The two shapes every file between the stages takes, and the one place they are parsed.

A stage's output is either one JSON document (a manifest, a summary, an evaluation) or JSON
Lines (a corpus, verdicts, training metrics). `JsonDocument` and `JsonLines` describe one such
file: its pydantic model, its `format` name and `version` (carried in the document, or in each
record where records travel on their own, like corpus lines), how it is serialised, and what it
is for. Each module of `srft.files` defines one of them; readers and writers anywhere in srft go
through it, so:

- a malformed file becomes one `FileFormatError` naming the path, the line (for JSON Lines) and
  the reason, in one wording, wherever it is read;
- the serialisation of a file is decided once (and so stays byte-identical across versions of
  the code that writes it);
- writes are atomic (`srft.outputs.atomic_file`): a reader never sees half a file;
- `docs/pipeline-files.md` is generated from these descriptions and cannot drift from them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from srft.outputs import atomic_file
from srft.paths import not_a_regular_file

M = TypeVar("M", bound=BaseModel)


class FileFormatError(ValueError):
    """A file (or one line of it) that is not what its reader expects.

    The message is `PATH[:LINE]: reason`; `path` and `line` are kept for callers that count
    rejects per record.
    """

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


def require_file(path: Path) -> None:
    """`FileFormatError` unless `path` is a regular file (a pipe would block, a device never end)."""
    problem = not_a_regular_file(path)
    if problem is None and path.is_dir():
        problem = "is a folder, not a file"
    if problem is not None:
        raise FileFormatError(path, problem)


def validation_reason(error: ValidationError) -> str:
    """The first problem pydantic found, as `field.path: message` (one line, no URL)."""
    first = error.errors()[0]
    loc = ".".join(str(part) for part in first["loc"]) or "record"
    return f"{loc}: {first['msg']}"


def check_header(data: dict[str, Any], fmt: str, version: int, what: str) -> str | None:
    """Why `data` is not a `fmt`/`version` record, or None when its header matches."""
    if data.get("format") != fmt:
        return f"not {what} (format={data.get('format')!r}, expected {fmt!r})"
    if data.get("version") != version:
        return (
            f"{what} version {data.get('version')!r} is not supported "
            f"(this srft reads version {version})"
        )
    return None


def numbered_lines(path: str | Path) -> Iterator[tuple[int, int, str]]:
    """(line number from 1, position among the non-blank lines from 0, line) of each non-blank
    line of a text file: a `--shard K/N` selects records by position, an error names the line."""
    position = -1
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                position += 1
                yield n, position, line


@dataclass(frozen=True)
class FileSpec(Generic[M]):
    """What both shapes share: the model, the format header and the documentation."""

    name: str  # the file's usual name or pattern, e.g. "build.json", "*.verdicts.jsonl"
    model: type[M]
    what: str  # how an error names the file's kind, e.g. "an srft corpus record"
    written_by: str  # the stage or command that writes it
    format: str | None = None  # None: the file carries no format header
    version: int | None = None
    ensure_ascii: bool = False
    doc: str = ""  # where the stage's document explains the fields

    def header_problem(self, data: dict[str, Any]) -> str | None:
        if self.format is None or self.version is None:
            return None
        return check_header(data, self.format, self.version, self.what)

    def validate(self, data: Any) -> M:
        """`data` as the model; `ValueError` with the reason (no location) otherwise."""
        if not isinstance(data, dict):
            raise ValueError(f"{self.what} must be a JSON object, not {type(data).__name__}")
        problem = self.header_problem(data)
        if problem is not None:
            raise ValueError(problem)
        try:
            return self.model.model_validate(data)
        except ValidationError as e:
            raise ValueError(validation_reason(e)) from e


@dataclass(frozen=True)
class JsonDocument(FileSpec[M]):
    """A file holding one JSON object (with `format` and `version` at its top when versioned)."""

    indent: int | None = 2
    allow_nan: bool = True  # False: a NaN or infinity is a ValueError, never invalid JSON

    def dumps(self, obj: M | dict[str, Any]) -> str:
        data = obj.model_dump(mode="json") if isinstance(obj, BaseModel) else obj
        text = json.dumps(
            data, indent=self.indent, ensure_ascii=self.ensure_ascii, allow_nan=self.allow_nan
        )
        return text + "\n"

    def load(self, path: str | Path) -> dict[str, Any]:
        """The raw JSON object of `path`, its header checked (for readers of loose extras)."""
        path = Path(path)
        require_file(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise FileFormatError(path, f"cannot be read: {e}") from e
        except json.JSONDecodeError as e:
            raise FileFormatError(path, f"not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise FileFormatError(path, f"{self.what} must be a JSON object")
        problem = self.header_problem(data)
        if problem is not None:
            raise FileFormatError(path, problem)
        return data

    def read(self, path: str | Path) -> M:
        """The validated model of `path`; `FileFormatError` naming the path otherwise."""
        data = self.load(path)
        try:
            return self.model.model_validate(data)
        except ValidationError as e:
            raise FileFormatError(path, validation_reason(e)) from e

    def write(self, path: str | Path, obj: M | dict[str, Any]) -> Path:
        """Write `obj` to `path` atomically, serialised the one way this file is."""
        with atomic_file(path) as f:
            f.write(self.dumps(obj))
        return Path(path)


@dataclass(frozen=True)
class JsonLines(FileSpec[M]):
    """A file of one JSON object per line; blank lines are skipped, each record stands alone."""

    # Extra checks on a validated record (e.g. a trajectory's step structure), raising ValueError.
    check: Callable[[M], None] | None = field(default=None, compare=False)
    # Compact by default; a file that has always been written with json's default spacing
    # (`", "`, `": "`) keeps it, so its bytes do not change.
    separators: tuple[str, str] = (",", ":")

    def dumps(self, obj: M | dict[str, Any]) -> str:
        """The one-line JSON of a record (no newline): compact, UTF-8 unless `ensure_ascii`."""
        data = obj.model_dump(mode="json") if isinstance(obj, BaseModel) else obj
        return json.dumps(data, ensure_ascii=self.ensure_ascii, separators=self.separators)

    def loads(self, line: str, *, path: str | Path = "<string>", lineno: int | None = None) -> M:
        """Parse and validate one line; `FileFormatError(path, reason, lineno)` otherwise."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            raise FileFormatError(path, f"not valid JSON: {e}", lineno) from e
        try:
            return self.record(data)
        except ValueError as e:
            raise FileFormatError(path, str(e), lineno) from e

    def record(self, data: Any) -> M:
        """One parsed line as a checked record (header, model, `check`); `ValueError` otherwise.

        For readers that hold the parsed object already (a record among other shapes).
        """
        record = self.validate(data)
        if self.check is not None:
            self.check(record)
        return record

    def read_lines(
        self, path: str | Path, *, keep: Callable[[int], bool] | None = None
    ) -> Iterator[tuple[str, M]]:
        """Stream (line without its newline, record); `keep(position)` selects records unparsed.

        Positions count the non-blank lines from 0, so `--shard K/N` can skip whole records
        without paying for their parse.
        """
        for n, position, line in self.lines(path):
            if keep is None or keep(position):
                yield line.rstrip("\r\n"), self.loads(line, path=path, lineno=n)

    def lines(self, path: str | Path) -> Iterator[tuple[int, int, str]]:
        """Stream (line number, position among the non-blank lines, line), unparsed: for a
        reader that parses only some lines or rejects a bad one and goes on (`loads` each)."""
        path = Path(path)
        require_file(path)
        position = -1
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if line.strip():
                    position += 1
                    yield n, position, line

    def read(self, path: str | Path, **kw: Any) -> Iterator[M]:
        """Stream the records of `path`."""
        for _, record in self.read_lines(path, **kw):
            yield record

    def write_one(self, f: IO[str], obj: M | dict[str, Any]) -> None:
        """Append one record line to an open text file."""
        f.write(self.dumps(obj))
        f.write("\n")

    @contextlib.contextmanager
    def writer(self, path: str | Path) -> Iterator[Callable[[M | dict[str, Any]], None]]:
        """A `write(record)` function whose lines appear at `path` atomically on success."""
        with atomic_file(path) as f:
            yield lambda obj: self.write_one(f, obj)

    def write(self, path: str | Path, records: Iterable[M | dict[str, Any]]) -> int:
        """Write `records` to `path` atomically (streamed); returns how many were written."""
        count = 0
        with atomic_file(path) as f:
            for record in records:
                self.write_one(f, record)
                count += 1
        return count
