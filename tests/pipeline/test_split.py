"""The held-out split: by instance id, deterministic, never empty on either side."""

from __future__ import annotations

from pathlib import Path

from srft.files.corpus import CORPUS, Message, Source, Trajectory
from srft.pipeline.split import heldout_groups, split_corpus


def trajectory(tid: str, instance: str | None) -> Trajectory:
    return Trajectory.from_messages(
        id=tid,
        instance_id=instance,
        source=Source(format="test", file="t", record=tid),
        messages=[Message(role="user", content="fix"), Message(role="assistant", content="ok")],
    )


def test_every_trajectory_of_one_instance_falls_on_the_same_side(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    CORPUS.write(
        corpus, [trajectory(f"{i}-{run}", f"task-{i}") for i in range(10) for run in range(3)]
    )
    counts = split_corpus(
        corpus, tmp_path / "tr.jsonl", tmp_path / "ho.jsonl", fraction=0.3, seed=0
    )
    train = {t.instance_id for t in CORPUS.read(tmp_path / "tr.jsonl")}
    held = {t.instance_id for t in CORPUS.read(tmp_path / "ho.jsonl")}
    assert not train & held and len(held) == 3 and counts["heldout"] == 9
    assert counts["train"] + counts["heldout"] == 30  # nothing lost


def test_the_split_does_not_depend_on_file_order(tmp_path: Path) -> None:
    items = [trajectory(f"t{i}", f"task-{i}") for i in range(12)]
    CORPUS.write(tmp_path / "a.jsonl", items)
    CORPUS.write(tmp_path / "b.jsonl", list(reversed(items)))
    for name in ("a", "b"):
        split_corpus(
            tmp_path / f"{name}.jsonl",
            tmp_path / f"{name}.tr",
            tmp_path / f"{name}.ho",
            fraction=0.25,
            seed=7,
        )
    assert {t.id for t in CORPUS.read(tmp_path / "a.ho")} == {
        t.id for t in CORPUS.read(tmp_path / "b.ho")
    }


def test_the_seed_changes_which_instances_are_held_out() -> None:
    keys = {f"task-{i}" for i in range(40)}
    assert heldout_groups(keys, 0.25, seed=0) != heldout_groups(keys, 0.25, seed=1)


def test_neither_side_is_ever_empty_when_two_instances_exist() -> None:
    assert len(heldout_groups({"a", "b"}, 0.01, seed=0)) == 1
    assert len(heldout_groups({"a", "b"}, 0.99, seed=0)) == 1
    assert heldout_groups({"a"}, 0.5, seed=0) == set()


def test_trajectories_without_an_instance_id_split_one_by_one(tmp_path: Path) -> None:
    CORPUS.write(tmp_path / "c.jsonl", [trajectory(f"t{i}", None) for i in range(10)])
    counts = split_corpus(
        tmp_path / "c.jsonl", tmp_path / "tr", tmp_path / "ho", fraction=0.2, seed=0
    )
    assert counts == {"train": 8, "heldout": 2, "instances": 10, "heldout_instances": 2}
