"""Compressed trajectory files (gzip, bzip2, xz, zstd): read in folders and named directly."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from srft.corpus.ingest import ingest
from srft.files.corpus import CORPUS, CorpusError

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": zstandard.ZstdCompressor().compress,
}


def compressed_copy(source: Path, folder: Path, suffix: str) -> Path:
    target = folder / (source.name + suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(COMPRESSORS[suffix](source.read_bytes()))
    return target


@pytest.fixture
def plain(fixtures_dir: Path, tmp_path: Path) -> dict[str, list[tuple[str, int]]]:
    """What the uncompressed fixtures ingest to: per file name, (instance, steps) per run."""
    result = {}
    for name in (
        "swe-agent/greet__typo-5.traj",
        "openai-chat/swe_gym_rows.jsonl",
        "mini-swe-agent-v2/strs__pad-3.traj.json",
        "openai-chat/swe_smith_rows.json",
    ):
        ingest([fixtures_dir / name], output=tmp_path / "plain.jsonl")
        result[name] = [
            (t.instance_id, len(t.steps)) for t in CORPUS.read(tmp_path / "plain.jsonl")
        ]
    return result


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_files_in_a_folder_are_read(suffix, plain, fixtures_dir, tmp_path):
    folder = tmp_path / "runs"
    for name in plain:
        compressed_copy(fixtures_dir / name, folder / Path(name).parent, suffix)
    summary = ingest([folder], output=tmp_path / "corpus.jsonl")
    assert summary.skipped_files == []
    got = sorted((t.instance_id, len(t.steps)) for t in CORPUS.read(tmp_path / "corpus.jsonl"))
    assert got == sorted(run for runs in plain.values() for run in runs)


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_a_compressed_file_named_directly_is_read(suffix, plain, fixtures_dir, tmp_path):
    name = "openai-chat/swe_gym_rows.jsonl"
    path = compressed_copy(fixtures_dir / name, tmp_path, suffix)
    ingest([path], output=tmp_path / "corpus.jsonl")
    got = [(t.instance_id, len(t.steps)) for t in CORPUS.read(tmp_path / "corpus.jsonl")]
    assert got == plain[name]
    assert all(t.source.file == str(path) for t in CORPUS.read(tmp_path / "corpus.jsonl"))


def test_compressed_label_files_are_used(fixtures_dir, tmp_path):
    folder = tmp_path / "run"
    compressed_copy(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json", folder, ".gz")
    labels = compressed_copy(fixtures_dir / "labels/labels.jsonl", tmp_path, ".xz")
    ingest([folder], labels=[labels], output=tmp_path / "corpus.jsonl")
    (trajectory,) = CORPUS.read(tmp_path / "corpus.jsonl")
    assert trajectory.outcome.status == "resolved"


@pytest.mark.parametrize("name", ["run.traj.json.gz", "rows.jsonl.gz"])
def test_a_truncated_gzip_member_is_an_error_naming_the_file(name, fixtures_dir, tmp_path):
    source = fixtures_dir / (
        "mini-swe-agent-v2/strs__pad-3.traj.json"
        if "traj" in name
        else "openai-chat/swe_gym_rows.jsonl"
    )
    path = tmp_path / name
    path.write_bytes(gzip.compress(source.read_bytes())[:-30])
    with pytest.raises(CorpusError, match="ends early") as caught:
        ingest([path], output=tmp_path / "corpus.jsonl")
    assert str(path) in str(caught.value)
    summary = ingest([path], output=tmp_path / "corpus.jsonl", skip_invalid=True)
    assert summary.read == summary.accepted + summary.rejected
    assert summary.rejected == 1


def test_a_file_that_is_not_what_its_suffix_says_is_an_error(tmp_path):
    path = tmp_path / "run.traj.json.zst"
    path.write_text(json.dumps({"messages": []}))
    with pytest.raises(CorpusError, match="not a readable compressed file") as caught:
        ingest([path], output=tmp_path / "corpus.jsonl")
    assert str(path) in str(caught.value)
