"""Helpers for the corpus tests: ingest a path into a temporary corpus and read it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from srft.corpus.ingest import ingest
from srft.corpus.io import read_corpus
from srft.corpus.model import Trajectory

# The folders of tests/fixtures that hold this stage's fixtures (other stages keep theirs there
# too, so tests that read "all fixtures" name these folders rather than the whole tree).
FORMAT_FOLDERS = (
    "mini-swe-agent-v1",
    "mini-swe-agent-v2",
    "mini-swe-agent-legacy",
    "swe-agent",
    "openhands",
    "openai-chat",
    "nebius-swe-agent",
    "labels",
)


@pytest.fixture(scope="session")
def format_fixtures(fixtures_dir: Path) -> list[Path]:
    """The corpus fixture folders: one per format, plus the label files (14 trajectories)."""
    return [fixtures_dir / name for name in FORMAT_FOLDERS]


@pytest.fixture
def ingest_one(tmp_path: Path):
    """`ingest_one(*paths, **options) -> {id: Trajectory}` through the real `ingest`."""

    def run(*inputs: Path | str, **options) -> dict[str, Trajectory]:
        output = tmp_path / "corpus.jsonl"
        ingest(list(inputs), output=output, **options)
        return {t.id: t for t in read_corpus(output)}

    return run
