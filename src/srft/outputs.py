"""Writing a stage's output safely: never over another run's output unless asked, never half.

Every writer (ingest, critic, build, export, report, evaluate) goes through this module, so
the three promises hold everywhere the same way:

- An existing output is refused unless the user passed `--overwrite` (`check_output`): a typo
  in `-o` must not destroy yesterday's dataset.
- A file or folder appears under its final name only when it is complete (`atomic_file`,
  `atomic_folder`): the content is written beside it under a unique temporary name and moved
  into place with one `rename`, which POSIX makes atomic within a file system. An interrupted
  run leaves the old output (or nothing) and at most a `.tmp-*` leftover, never a truncated
  file that looks finished.
- A name taken from data or options cannot leave the folder it is meant for (`child_path`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

Kind = Literal["file", "folder"]


class OutputError(ValueError):
    """An output that cannot be written as asked; the message names the path and the reason."""


def check_output(path: str | Path, *, kind: Kind, overwrite: bool) -> Path:
    """Refuse an output path that is of the wrong kind, or that exists without `overwrite`.

    Called before any work is done, so a long run does not fail at its very end.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise OutputError(f"{path}: is a dangling symbolic link; remove it or choose another path")
    if path.exists():
        if kind == "file" and path.is_dir():
            raise OutputError(f"{path}: is a folder, but a file is written here")
        if kind == "folder" and not path.is_dir():
            raise OutputError(f"{path}: is a file, but a folder is written here")
        if not overwrite:
            raise OutputError(f"{path}: exists; pass --overwrite to replace it")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: the folder {parent} is not writable")
    return path


def _temp_name(path: Path) -> Path:
    """A unique sibling of `path` (same folder, so the final rename stays on one file system)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_file(path: str | Path, *, binary: bool = False) -> Iterator[IO]:
    """Open a temporary sibling of `path` for writing; move it over `path` only on success.

    On an exception (including KeyboardInterrupt) the temporary file is removed and `path`
    keeps whatever it held before.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        if binary:
            f: IO = tmp.open("wb")
        else:
            f = tmp.open("w", encoding="utf-8", newline="\n")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes files 0600; an output should get the user's usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a whole text file atomically (see `atomic_file`)."""
    with atomic_file(path) as f:
        f.write(text)
    return Path(path)


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; on success it replaces `path`.

    A folder cannot be swapped in one `rename` while the old one exists, so the old one is
    first renamed aside and removed after the new one is in place: at every instant `path` is
    either the complete old output, absent, or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        old = None
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def child_path(folder: str | Path, name: str, *, what: str = "name") -> Path:
    """`folder / name`, refusing a `name` that would land anywhere but directly in `folder`.

    A name from data or an option (`--name ../../x`, an id holding `/`) must not choose where
    files go; only plain names (no separators, not `.`/`..`, not empty) are accepted.
    """
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or Path(name).is_absolute()
    ):
        raise OutputError(
            f"{what} {name!r}: must be a plain name (no '/', '\\', '..' or empty), "
            f"as it names a folder inside {folder}"
        )
    return Path(folder) / name


def overwrite_option(help: str = "Replace an existing OUTPUT.") -> Any:
    """A command's `--overwrite` flag (typer), the one switch `check_output` obeys."""
    import typer

    return typer.Option(False, "--overwrite", help=help)
