"""Reading and writing corpus JSONL: one trajectory per line, streamed.

Both directions are generators/one-record-at-a-time so memory does not grow with the corpus.
The serialisation is canonical (fixed field order, compact separators, UTF-8, no ASCII
escaping), so read -> write reproduces the file byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from srft.corpus.model import CORPUS_FORMAT, CORPUS_VERSION, CorpusError, Trajectory
from srft.outputs import atomic_file
from srft.paths import require_regular_file


def dumps_trajectory(trajectory: Trajectory) -> str:
    """The canonical one-line JSON of a trajectory (no trailing newline)."""
    return json.dumps(trajectory.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))


def loads_trajectory(line: str, *, where: str = "<string>") -> Trajectory:
    """Parse and validate one corpus line; errors name `where` (file:line) and the reason."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{where}: not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise CorpusError(f"{where}: a corpus record must be a JSON object")
    if data.get("format") != CORPUS_FORMAT:
        raise CorpusError(f"{where}: not an srft corpus record (format={data.get('format')!r})")
    if data.get("version") != CORPUS_VERSION:
        raise CorpusError(
            f"{where}: corpus version {data.get('version')!r} is not supported "
            f"(this srft reads version {CORPUS_VERSION})"
        )
    try:
        trajectory = Trajectory.model_validate(data)
        trajectory.validate_structure()
    except ValidationError as e:
        raise CorpusError(f"{where}: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from e
    except CorpusError as e:
        raise CorpusError(f"{where}: trajectory {data.get('id')!r}: {e}") from e
    return trajectory


def read_corpus(path: str | Path) -> Iterator[Trajectory]:
    """Stream the trajectories of a corpus file."""
    for _, trajectory in read_corpus_lines(path):
        yield trajectory


def read_corpus_lines(
    path: str | Path, *, keep: Callable[[int], bool] | None = None
) -> Iterator[tuple[str, Trajectory]]:
    """Stream (line without its newline, trajectory): for consumers that hash records.

    A canonical file's line *is* `dumps_trajectory` of its trajectory, so hashing the line
    costs nothing extra where re-serialising would cost as much as the parse.
    `keep(position)` (0-based among the non-blank lines) selects records, e.g. a `--shard`;
    lines not kept are not parsed.
    """
    path = Path(path)
    require_regular_file(path, CorpusError)  # a pipe or device would block, not fail
    position = -1
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            position += 1
            if keep is None or keep(position):
                yield line.rstrip("\r\n"), loads_trajectory(line, where=f"{path}:{n}")


def write_corpus(trajectories: Iterable[Trajectory], path: str | Path) -> int:
    """Write trajectories to `path` (replacing it, atomically); returns how many were written."""
    count = 0
    with atomic_file(path) as f:
        for trajectory in trajectories:
            write_trajectory(f, trajectory)
            count += 1
    return count


def write_trajectory(f: IO[str], trajectory: Trajectory) -> None:
    """Append one trajectory line to an open text file."""
    f.write(dumps_trajectory(trajectory))
    f.write("\n")
