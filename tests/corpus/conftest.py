"""Helpers for the corpus tests: ingest a path into a temporary corpus and read it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from srft.corpus.ingest import ingest
from srft.corpus.io import read_corpus
from srft.corpus.model import Trajectory


@pytest.fixture
def ingest_one(tmp_path: Path):
    """`ingest_one(*paths, **options) -> {id: Trajectory}` through the real `ingest`."""

    def run(*inputs: Path | str, **options) -> dict[str, Trajectory]:
        output = tmp_path / "corpus.jsonl"
        ingest(list(inputs), output=output, **options)
        return {t.id: t for t in read_corpus(output)}

    return run
