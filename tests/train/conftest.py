"""Fixtures of the trainer's tests (the helpers are in `tiny.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("datasets")

from .tiny import tiny_model  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """Matrices of 32x64 gain nothing from threads, and on a shared CI machine the thread pool's
    contention made every matmul ~5x slower. Restored afterwards for the other stages' tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A saved tiny random Qwen2 (no tokenizer), as a local model path."""
    path = tmp_path / "tiny-model"
    tiny_model().save_pretrained(path)
    return path
