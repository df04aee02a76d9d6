"""Fixtures of the toy testbed's tests. Each test module starts with `pytest.importorskip`, so
where `srft/toy/` is absent (a CI step deletes it) every test here skips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def toy_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy tokenizer saved once per session (building it takes a few seconds)."""
    from srft.toy.tokenizer import save_tokenizer

    path = tmp_path_factory.mktemp("toy-tokenizer")
    save_tokenizer(path)
    return path


@pytest.fixture(scope="session")
def toy_tokenizer(toy_tokenizer_dir: Path) -> Any:
    """The saved toy tokenizer, loaded back as any Hugging Face tokenizer is."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(toy_tokenizer_dir))
