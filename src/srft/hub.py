"""Loading Hugging Face tokenizers and models by path or hub id, failing in one line.

`from_pretrained` answers a mistyped path with a chain of hub errors (it tries the name as a
repository id, then as a file, offline or not). Stages call these helpers instead, so a path
that does not exist is said to be one, and any other loading failure is one line naming the
path and the cause.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class HubError(ValueError):
    """A tokenizer or model that cannot be loaded; the message names it and the reason."""


def looks_like_a_path(name: str) -> bool:
    """Whether `name` is meant as a local path rather than a hub id (`owner/model`).

    Hub ids have at most one `/` and never start with `/`, `.` or `~`.
    """
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or Path(name).exists()


def check_local(name: str | Path, what: str) -> None:
    """Raise `HubError` when `name` is meant as a local folder that does not exist."""
    text = str(name)
    path = Path(text).expanduser()
    if looks_like_a_path(text) and not path.exists():
        raise HubError(f"{text}: no such {what} folder")
    if path.exists() and not path.is_dir():
        raise HubError(f"{text}: a {what} is a folder (with config and weights), not a file")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def load_tokenizer(name: str | Path) -> Any:
    """`AutoTokenizer.from_pretrained(name)`, or a `HubError` in one line."""
    from transformers import AutoTokenizer

    check_local(name, "tokenizer")
    try:
        return AutoTokenizer.from_pretrained(str(Path(str(name)).expanduser()))
    except Exception as e:  # transformers raises OSError, ValueError and hub errors alike
        raise HubError(f"{name}: cannot load a tokenizer: {_first_line(e)}") from e
