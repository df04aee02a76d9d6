"""Helpers for the corpus tests: ingest a path into a temporary corpus and read it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from srft.corpus.ingest import ingest
from srft.files.corpus import CORPUS, Trajectory

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
    """`ingest_one(*paths, **options) -> {name: Trajectory}` through the real `ingest`.

    Ids name runs (`<instance>@<digest of where it was read>`); these tests read one run per
    instance, so they look runs up by the name before the `@` (checked to be unique).
    """

    def run(*inputs: Path | str, **options) -> dict[str, Trajectory]:
        output = tmp_path / "corpus.jsonl"
        ingest(list(inputs), output=output, **options)
        by_name: dict[str, Trajectory] = {}
        for t in CORPUS.read(output):
            name = t.id.rsplit("@", 1)[0]
            assert name not in by_name, f"two runs named {name!r}: look them up by id"
            by_name[name] = t
        return by_name

    return run
