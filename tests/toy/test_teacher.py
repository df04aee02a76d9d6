"""The teacher's true labels on constructed cases, its noise, and its failure rate."""

from __future__ import annotations

from collections import Counter

import pytest

pytest.importorskip("srft.toy", reason="the toy testbed (srft/toy/) is not installed")

from srft.toy.env import Episode, make_episode
from srft.toy.teacher import TeacherConfig, teach

QUIET = TeacherConfig(
    typo=0, unnecessary=0, first_hit=0, wrong_value=0, premature_submit=0, recover=0
)


def _episode() -> Episode:
    """The issue's line is the second grep hit; the first is the same key in another file."""
    return Episode(
        seed=0,
        level=3,
        files={
            "cache.cfg": (("pool_size", "7"),),
            "db.cfg": (("pool_size", "10"), ("read_ttl", "3")),
            "web.cfg": (("conn_port", "80"),),
        },
        target_file="db.cfg",
        target_key="pool_size",
        old_value="10",
        new_value="25",
    )


def _quiet(**rates: float) -> TeacherConfig:
    return TeacherConfig(**{**QUIET.__dict__, **rates})


def test_a_noiseless_teacher_resolves_with_only_good_steps() -> None:
    run = teach(_episode(), QUIET, seed=1)
    assert [s.command for s in run.steps] == [
        "grep pool_size",
        "edit db.cfg pool_size 25",
        "submit",
    ]
    assert run.labels() == ["good", "good", "good"]
    assert run.resolved


def test_editing_the_first_hit_is_a_silent_mistake_that_fails() -> None:
    run = teach(_episode(), _quiet(first_hit=1), seed=1)
    edit = run.steps[1]
    assert edit.command == "edit cache.cfg pool_size 25"
    assert edit.observation.returncode == 0
    assert edit.label == "mistake"
    assert run.labels() == ["good", "mistake", "mistake"]
    assert run.steps[2].command == "submit"
    assert not run.resolved


def test_recovery_undoes_the_wrong_edit_then_makes_the_right_one() -> None:
    run = teach(_episode(), _quiet(first_hit=1, recover=1), seed=1)
    assert [s.command for s in run.steps] == [
        "grep pool_size",
        "edit cache.cfg pool_size 25",
        "edit cache.cfg pool_size 7",
        "edit db.cfg pool_size 25",
        "submit",
    ]
    assert run.labels() == ["good", "mistake", "recover", "recover", "good"]
    assert run.resolved


def test_a_wrong_value_is_a_mistake_and_its_recovery_is_one_edit() -> None:
    run = teach(_episode(), _quiet(wrong_value=1, recover=1), seed=1)
    assert run.labels() == ["good", "mistake", "recover", "good"]
    assert run.steps[1].command != "edit db.cfg pool_size 25"
    assert run.steps[2].command == "edit db.cfg pool_size 25"
    assert run.resolved


def test_a_typo_is_a_mistake_with_an_error_observation_then_the_command_is_retried() -> None:
    run = teach(_episode(), _quiet(typo=1), seed=1)
    for typo, retry in zip(run.steps[::2], run.steps[1::2], strict=True):
        assert typo.label == "mistake"
        assert typo.observation.returncode != 0
        assert retry.label == "good"
        assert retry.observation.returncode == 0
    assert run.resolved


def test_a_premature_submit_is_a_mistake_and_fails() -> None:
    run = teach(_episode(), _quiet(premature_submit=1), seed=1)
    assert run.labels() == ["good", "mistake"]
    assert run.steps[-1].command == "submit"
    assert not run.resolved


def test_unnecessary_listing_and_reading_are_labelled_unnecessary() -> None:
    run = teach(_episode(), _quiet(unnecessary=1), seed=1)
    assert [s.command.split()[0] for s in run.steps] == ["ls", "grep", "cat", "edit", "submit"]
    assert run.labels() == ["unnecessary", "good", "unnecessary", "good", "good"]
    assert run.resolved


def test_the_teacher_is_deterministic_by_seed() -> None:
    e = make_episode(7, 3)
    a, b = teach(e, TeacherConfig(), 7), teach(e, TeacherConfig(), 7)
    assert [(s.command, s.label) for s in a.steps] == [(s.command, s.label) for s in b.steps]


def test_a_run_without_a_mistake_label_is_resolved() -> None:
    for preset in ("default", "sloppy"):
        for seed in range(300):
            run = teach(make_episode(seed, 1 + seed % 3), TeacherConfig.preset(preset), seed)
            if "mistake" not in run.labels():
                assert run.resolved, [s.command for s in run.steps]


def test_editing_the_first_hit_is_the_majority_choice_when_it_is_wrong() -> None:
    first = wrong_first = 0
    for seed in range(400):
        e = make_episode(seed, 3)
        run = teach(e, TeacherConfig(), seed)
        grep = next(
            s for s in run.steps if s.command.startswith("grep ") and s.observation.returncode == 0
        )
        hits = grep.observation.output.splitlines()
        if hits[0] == f"{e.target_file}:{e.target_key} = {e.old_value}":
            continue
        edits = [
            s for s in run.steps if s.command.startswith("edit ") and s.observation.returncode == 0
        ]
        if edits:
            wrong_first += 1
            first += edits[0].command.split()[1] == hits[0].split(":")[0]
    assert first / wrong_first > 0.5


@pytest.mark.parametrize("preset", ["default", "sloppy"])
def test_the_teacher_fails_40_to_60_percent_and_more_on_hard_levels(preset: str) -> None:
    config = TeacherConfig.preset(preset)
    success = Counter()
    for seed in range(600):
        level = 1 + seed % 3
        success[level] += teach(make_episode(seed, level), config, seed).resolved
    failure = 1 - sum(success.values()) / 600
    assert 0.35 <= failure <= 0.6
    assert success[3] < success[1]


def test_rates_outside_0_1_are_rejected() -> None:
    with pytest.raises(ValueError, match="first_hit"):
        TeacherConfig(first_hit=1.5)
