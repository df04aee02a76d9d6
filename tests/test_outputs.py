"""`srft.outputs` and `srft.shard`: the rules every writer and every `--shard` follows."""

from __future__ import annotations

import pytest

from srft.outputs import (
    OutputError,
    atomic_file,
    atomic_folder,
    check_output,
    child_path,
)
from srft.shard import Shard, ShardError


def test_an_existing_output_is_refused_without_overwrite(tmp_path):
    (tmp_path / "out.jsonl").write_text("old")
    with pytest.raises(OutputError, match=r"out.jsonl: exists; pass --overwrite"):
        check_output(tmp_path / "out.jsonl", kind="file", overwrite=False)
    check_output(tmp_path / "out.jsonl", kind="file", overwrite=True)


def test_an_output_of_the_wrong_kind_is_refused_even_with_overwrite(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a folder, but a file is written here"):
        check_output(tmp_path / "folder", kind="file", overwrite=True)
    with pytest.raises(OutputError, match="is a file, but a folder is written here"):
        check_output(tmp_path / "file", kind="folder", overwrite=True)


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "verdicts.jsonl"
    target.write_text("complete old output\n")
    with pytest.raises(KeyboardInterrupt), atomic_file(target) as f:
        f.write("half of the new")
        raise KeyboardInterrupt
    assert target.read_text() == "complete old output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verdicts.jsonl"]


def test_a_file_appears_under_its_name_only_when_complete(tmp_path):
    target = tmp_path / "sub" / "corpus.jsonl"
    with atomic_file(target) as f:
        f.write("line\n")
        assert not target.exists()
    assert target.read_text() == "line\n"


def test_a_folder_is_swapped_in_whole_and_an_interrupted_one_leaves_the_old(tmp_path):
    target = tmp_path / "ds"
    with atomic_folder(target) as folder:
        (folder / "build.json").write_text("v1")
    with pytest.raises(RuntimeError), atomic_folder(target) as folder:
        (folder / "build.json").write_text("half")
        raise RuntimeError("killed")
    assert (target / "build.json").read_text() == "v1"
    with atomic_folder(target) as folder:
        (folder / "build.json").write_text("v2")
    assert (target / "build.json").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


@pytest.mark.parametrize("name", ["../../x", "..", ".", "", "a/b", "a\\b", "/etc"])
def test_names_from_data_or_options_cannot_leave_their_folder(tmp_path, name):
    with pytest.raises(OutputError, match="must be a plain name"):
        child_path(tmp_path, name, what="--name")


def test_a_plain_name_is_a_child_of_its_folder(tmp_path):
    assert child_path(tmp_path, "student-1") == tmp_path / "student-1"


def test_shards_split_positions_round_robin_and_cover_each_once():
    shards = [Shard.parse(f"{k}/3") for k in range(3)]
    owners = [[s.index for s in shards if s.keeps(p)] for p in range(10)]
    assert owners == [[0], [1], [2], [0], [1], [2], [0], [1], [2], [0]]
    assert Shard.parse(None).whole and Shard.parse("0/1").keeps(5)


@pytest.mark.parametrize("spec", ["3/3", "1", "a/b", "-1/2", "0/0", "1/2/3"])
def test_a_bad_shard_spec_says_what_is_expected(spec):
    with pytest.raises(ShardError, match="--shard"):
        Shard.parse(spec)


def test_check_output_refuses_a_dangling_link(tmp_path):
    (tmp_path / "out.jsonl").symlink_to(tmp_path / "nowhere" / "x")
    with pytest.raises(OutputError, match="dangling symbolic link"):
        check_output(tmp_path / "out.jsonl", kind="file", overwrite=True)
