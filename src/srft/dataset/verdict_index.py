"""The critic's verdicts by trajectory id, for a build that looks up one per trajectory."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from srft.files.verdicts import VERDICTS, Verdict, VerdictError
from srft.paths import require_regular_file


class VerdictIndex:
    """The verdicts of a file by trajectory id, read on demand.

    Every line is validated once up front (a bad file fails before any work, as before), but
    only each verdict's byte offset is kept: a verdict holds an object per step, and keeping
    all of them made a build's memory grow with the corpus. `get` re-reads one line.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._offsets: dict[str, int] = {}
        self._file: BinaryIO | None = None  # opened by the first `get`
        if path is None:
            return
        require_regular_file(path, VerdictError)
        with Path(path).open("rb") as f:
            offset = 0
            for n, raw in enumerate(f, start=1):
                if raw.strip():
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise VerdictError(f"{path}:{n}: invalid UTF-8 at byte {e.start}") from e
                    verdict = VERDICTS.loads(line, path=path, lineno=n)
                    if verdict.trajectory_id in self._offsets:
                        raise VerdictError(
                            f"{path}: trajectory {verdict.trajectory_id!r} has two verdicts"
                        )
                    self._offsets[verdict.trajectory_id] = offset
                offset += len(raw)

    def __getstate__(self) -> dict[str, Any]:
        # A worker process gets the path and the offsets, and opens the file itself.
        return {"path": self.path, "_offsets": self._offsets, "_file": None}

    def get(self, trajectory_id: str) -> Verdict | None:
        """The verdict of `trajectory_id`, or None when the file has none."""
        offset = self._offsets.get(trajectory_id)
        if offset is None or self.path is None:
            return None
        if self._file is None:
            self._file = Path(self.path).open("rb")  # noqa: SIM115 - open until `close`
        self._file.seek(offset)
        return VERDICTS.loads(self._file.readline().decode("utf-8"), path=self.path)

    def ids(self) -> set[str]:
        """Every trajectory id that has a verdict."""
        return set(self._offsets)

    def close(self) -> None:
        """Close the file `get` reads from."""
        if self._file is not None:
            self._file.close()
            self._file = None
