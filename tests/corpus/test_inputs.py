"""What ingest accepts as input: files, folders, globs, Parquet, dataset folders, --format."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from srft.corpus.ingest import ingest
from srft.files.corpus import CorpusError


def test_folders_are_read_recursively_and_other_files_reported(tmp_path, fixtures_dir):
    tree = tmp_path / "tree"
    shutil.copytree(fixtures_dir / "mini-swe-agent-v1", tree / "deep" / "er")
    (tree / "notes.md").write_text("not a trajectory")
    summary = ingest([tree], output=tmp_path / "out.jsonl")
    assert summary.accepted == 2
    assert summary.skipped_files == [str(tree / "notes.md")]


def test_globs_are_expanded(tmp_path, fixtures_dir):
    pattern = str(fixtures_dir / "mini-swe-agent-v2" / "*.traj.json")
    summary = ingest([pattern], output=tmp_path / "out.jsonl")
    assert summary.formats == {"mini-swe-agent-v2": 2}


def test_parquet_rows_are_read(tmp_path, fixtures_dir, ingest_one):
    rows = [json.loads(line) for line in (fixtures_dir / "openai-chat/swe_gym_rows.jsonl").open()]
    for row in rows:  # Parquet wants one type per column: store nested data as JSON text
        row["messages"] = json.dumps(row["messages"])
        row["tools"] = json.dumps(row["tools"])
        row["test_result"] = json.dumps(row.get("test_result"))
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    corpus = ingest_one(path)
    assert sorted(corpus) == ["lib__max-8_1", "lib__sum-7_0"]
    assert corpus["lib__sum-7_0"].source.record == "row 0"


@pytest.mark.slow
def test_hugging_face_dataset_folders_are_read(tmp_path, fixtures_dir, ingest_one):
    datasets = pytest.importorskip("datasets")
    rows = json.loads((fixtures_dir / "nebius-swe-agent/rows.json").read_text())
    folder = tmp_path / "nebius"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(folder))
    corpus = ingest_one(folder)
    assert sorted(corpus) == ["geo__area-9_3", "geo__perimeter-10_0"]
    assert corpus["geo__area-9_3"].source.record == "train/row 0"


def test_format_can_be_forced(tmp_path, fixtures_dir, ingest_one):
    corpus = ingest_one(
        fixtures_dir / "mini-swe-agent-legacy/hello.traj.json", format="mini-swe-agent-legacy"
    )
    assert list(corpus) == ["hello"]


def test_a_forced_format_that_does_not_fit_rejects_the_record(tmp_path, fixtures_dir):
    with pytest.raises(CorpusError, match=r"record 0: history must be a JSON array"):
        ingest(
            [fixtures_dir / "mini-swe-agent-legacy/hello.traj.json"],
            output=tmp_path / "out.jsonl",
            format="swe-agent",
        )


def test_mixed_formats_in_one_jsonl_are_detected_per_record(tmp_path, fixtures_dir, ingest_one):
    v2 = json.loads((fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json").read_text())
    row = json.loads((fixtures_dir / "openai-chat/swe_gym_rows.jsonl").open().readline())
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(v2) + "\n" + json.dumps(row) + "\n")
    corpus = ingest_one(path)
    assert {t.source.format for t in corpus.values()} == {"mini-swe-agent-v2", "openai-chat"}


def test_the_corpus_records_where_each_trajectory_came_from(ingest_one, fixtures_dir):
    corpus = ingest_one(fixtures_dir / "openai-chat/swe_gym_rows.jsonl")
    source = corpus["lib__max-8_1"].source
    assert source.file == str(fixtures_dir / "openai-chat/swe_gym_rows.jsonl")
    assert source.record == "line 2"


def test_a_recursive_glob_follows_linked_run_folders_but_not_link_loops(tmp_path, fixtures_dir):
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json", tmp_path / "elsewhere")
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "linked").symlink_to(tmp_path / "elsewhere")  # a folder of linked runs: followed
    (runs / "back").symlink_to(runs)  # a loop: not followed (glob.glob would walk forever)
    summary = ingest([f"{runs}/**/*.json"], output=tmp_path / "out.jsonl")
    assert summary.accepted == 1
    assert summary.files == 1
