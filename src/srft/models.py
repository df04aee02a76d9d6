"""Where a model or tokenizer named by the user comes from: an alias, a local folder or a hub id.

Every command that loads a model or tokenizer (`srft build --tokenizer`, `srft train --model`,
`srft evaluate`, `srft run`) resolves the name here first, so the same names work everywhere
(`smollm2` on the command line as in a config) and a model that cannot be had fails at once with
one line saying why and what to do. Without this, transformers spends close to a minute in
retries when the hub is unreachable and ends in a hundred-line traceback.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

Need = Literal["model", "tokenizer"]

SMOLLM2_ALIAS = "smollm2"

# Files that make a folder loadable by transformers, by what is needed of it.
_NEEDED_FILES: dict[str, tuple[str, ...]] = {
    "model": ("config.json", "adapter_config.json"),
    "tokenizer": ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json"),
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# A hub id is looked up in the cache by one small file every repository of its kind has.
_PROBE_FILE = {"model": "config.json", "tokenizer": "tokenizer_config.json"}
REACHABLE_TIMEOUT_S = 1.0


class ModelNotFound(ValueError):
    """A model or tokenizer that cannot be loaded; the message says why and what to do."""


def _smollm2() -> Path:
    from srft.smollm2 import smollm2_dir

    return smollm2_dir()


ALIASES: dict[str, Callable[[], Path]] = {SMOLLM2_ALIAS: _smollm2}


def is_hub_id(name: str) -> bool:
    """`org/name` that is not a local path (a hub repository id)."""
    return _HUB_ID.match(name) is not None and not Path(name).expanduser().exists()


def resolve_model(name: str | Path, need: Need = "model") -> str:
    """The path or hub id to hand to `from_pretrained`, or `ModelNotFound`.

    - an alias (`smollm2`) becomes the bundled model's folder;
    - a local folder must hold the files transformers reads (a missing one is named);
    - a hub id must be in the local Hugging Face cache, or the hub must be reachable; a cached
      one resolves to its snapshot folder so loading it never waits on the network.
    """
    text = str(name)
    if text in ALIASES:
        try:
            return str(ALIASES[text]())
        except FileNotFoundError as e:
            raise ModelNotFound(f"{need} {text!r}: {e}") from e
    path = Path(text).expanduser()
    if path.exists():
        return str(_check_folder(path, need))
    if not is_hub_id(text):
        raise ModelNotFound(
            f"{need} {text!r}: no such file or folder (give a model folder, a hub id such as "
            f"`Qwen/Qwen2.5-0.5B-Instruct`, or `{SMOLLM2_ALIAS}` for the bundled model)"
        )
    return _resolve_hub_id(text, need)


def _check_folder(path: Path, need: Need) -> Path:
    if path.is_file():
        raise ModelNotFound(f"{need} {path}: is a file; give the folder that holds it")
    wanted = _NEEDED_FILES[need]
    if not any((path / f).is_file() for f in wanted):
        raise ModelNotFound(
            f"{need} folder {path}: {wanted[0]} is missing"
            + (f" (nor is there {', '.join(wanted[1:])})" if len(wanted) > 1 else "")
        )
    return path


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _cached_snapshot(repo: str, need: Need) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, _PROBE_FILE[need])
    if isinstance(found, str):
        return Path(found).parent
    if need == "tokenizer":  # some repositories have only tokenizer.json
        found = try_to_load_from_cache(repo, "tokenizer.json")
        if isinstance(found, str):
            return Path(found).parent
    return None


def hub_reachable(timeout: float = REACHABLE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub (`HF_ENDPOINT`) opens within `timeout` seconds.

    The name lookup runs in a thread because `getaddrinfo` has no timeout of its own and can
    hang for tens of seconds on a machine without network.
    """
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _resolve_hub_id(repo: str, need: Need) -> str:
    snapshot = _cached_snapshot(repo, need)
    if snapshot is not None:
        return str(snapshot)
    offline = _offline()
    if not offline and hub_reachable():
        return repo
    why = "HF_HUB_OFFLINE is set" if offline else "the hub cannot be reached"
    raise ModelNotFound(
        f"{need} {repo!r} is not in the local Hugging Face cache and {why}: give a local "
        f"folder instead, or run `huggingface-cli download {repo}` on a machine with network "
        "and copy the folder it prints (or its HF_HOME cache) here"
    )


def load_tokenizer(name: str | Path) -> Any:
    """`AutoTokenizer.from_pretrained` on the resolved `name`, failing in one line.

    `from_pretrained` answers a broken folder with a chain of hub errors (it retries the name
    as a repository id, then as a file); here any loading failure is one `ModelNotFound` naming
    the tokenizer and the first line of the cause.
    """
    from transformers import AutoTokenizer

    resolved = resolve_model(name, "tokenizer")
    try:
        return AutoTokenizer.from_pretrained(resolved)
    except Exception as e:  # transformers raises OSError, ValueError and hub errors alike
        cause = (str(e).strip() or type(e).__name__).splitlines()[0]
        raise ModelNotFound(f"tokenizer {str(name)!r}: cannot be loaded: {cause}") from e
