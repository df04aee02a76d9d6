"""The toy testbed as an environment plug-in: found by name, its settings documented."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("srft.toy", reason="the toy testbed (srft/toy/) is not installed")

from srft.evaluate.environment import (
    ENVIRONMENTS,
    generates_trajectories,
    get_environment,
    has_true_labels,
)
from srft.toy.environment import ENVIRONMENT, ToySettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "toy.md"


def test_the_toy_is_found_by_name_through_its_entry_point() -> None:
    assert "toy" in ENVIRONMENTS.names()
    assert get_environment("toy") is ENVIRONMENT


def test_the_toy_generates_trajectories_with_their_true_labels() -> None:
    assert generates_trajectories(ENVIRONMENT) and has_true_labels(ENVIRONMENT)


def test_the_toy_generates_and_finds_its_files_again(tmp_path: Path) -> None:
    summary = ENVIRONMENT.generate(tmp_path / "toy", ToySettings(episodes=3))
    assert summary.episodes == 3
    files = ENVIRONMENT.generated(tmp_path / "toy")
    assert files.trajectories.is_dir() and files.outcomes.is_file()
    assert files.labels is not None and files.labels.is_file()


def test_every_setting_of_the_toy_is_documented_in_docs_toy_md() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in ToySettings.model_fields:
        assert f"    {name}:" in text, name
