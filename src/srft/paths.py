"""Telling a file that is safe to open from one that would hang a run or fail obscurely.

Used by every reader of user-named files (ingest's inputs, the corpus and verdicts files of the
later stages): opening a named pipe blocks until a writer appears, a device such as /dev/zero
streams without end, and a link loop or a dangling link fails with an error that does not say
which. Checking first turns each into one line naming the path and the reason.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def not_a_regular_file(path: Path) -> str | None:
    """Why `path` must not be opened as a data file, or None for a regular file or folder.

    Checked before any `open`: opening a named pipe blocks until a writer appears, and a
    device such as /dev/zero streams without end.
    """
    try:
        mode = os.stat(path).st_mode  # follows links: it is the target that would be read
    except FileNotFoundError:
        if path.is_symlink():
            return f"a dangling symbolic link (its target {os.readlink(path)} does not exist)"
        return "no such file"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link loop (the link leads back to itself)"
        return f"cannot be read: {e.strerror or e}"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a file: reading it could block forever"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file, not a file: reading it could never end"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"


def require_regular_file(path: str | Path, error: type[Exception] = ValueError) -> None:
    """Raise `error("PATH: reason")` unless `path` is a regular file that exists."""
    path = Path(path)
    problem = not_a_regular_file(path)
    if problem is None and path.is_dir():
        problem = "is a folder, not a file"
    if problem is not None:
        raise error(f"{path}: {problem}")
