"""The environment's rules: commands, errors, and what counts as resolved."""

from __future__ import annotations

import pytest

pytest.importorskip("srft.toy", reason="the toy testbed (srft/toy/) is not installed")

from srft.toy.env import ConfigRepo, Episode, make_episode


def _episode() -> Episode:
    """db.cfg holds the issue's line; cache.cfg holds the same key with another value."""
    return Episode(
        seed=0,
        level=3,
        files={
            "cache.cfg": (("pool_size", "7"), ("read_ttl", "3")),
            "db.cfg": (("pool_size", "10"), ("pool_size_max", "20")),
            "web.cfg": (("conn_port", "80"),),
        },
        target_file="db.cfg",
        target_key="pool_size",
        old_value="10",
        new_value="25",
    )


def test_submitting_exactly_the_issues_change_resolves() -> None:
    repo = ConfigRepo(_episode())
    assert repo.run("edit db.cfg pool_size 25").returncode == 0
    assert repo.run("submit").output == "db.cfg:pool_size = 10 -> 25"
    assert repo.resolved


def test_the_right_change_without_submit_is_not_resolved() -> None:
    repo = ConfigRepo(_episode())
    repo.run("edit db.cfg pool_size 25")
    assert not repo.resolved


def test_an_extra_change_beside_the_right_one_fails() -> None:
    repo = ConfigRepo(_episode())
    repo.run("edit db.cfg pool_size 25")
    repo.run("edit cache.cfg pool_size 25")
    repo.run("submit")
    assert not repo.resolved


def test_the_same_key_in_another_file_is_the_wrong_line() -> None:
    repo = ConfigRepo(_episode())
    repo.run("edit cache.cfg pool_size 25")
    repo.run("submit")
    assert not repo.resolved


def test_a_wrong_value_fails() -> None:
    repo = ConfigRepo(_episode())
    repo.run("edit db.cfg pool_size 52")
    repo.run("submit")
    assert not repo.resolved


def test_an_undone_wrong_edit_counts_as_unchanged() -> None:
    repo = ConfigRepo(_episode())
    repo.run("edit cache.cfg pool_size 25")
    repo.run("edit cache.cfg pool_size 7")
    repo.run("edit db.cfg pool_size 25")
    repo.run("submit")
    assert repo.resolved


def test_an_unknown_command_is_an_error_observation() -> None:
    obs = ConfigRepo(_episode()).run("grpe pool_size")
    assert (obs.returncode, obs.output) == (127, "bash: grpe: command not found")


@pytest.mark.parametrize("command", ["edit db.cfg pool_size", "grep", "cat", "ls -l", "submit now"])
def test_a_command_with_the_wrong_arguments_is_a_usage_error(command: str) -> None:
    obs = ConfigRepo(_episode()).run(command)
    assert obs.returncode == 2
    assert obs.output.startswith("usage:")


def test_editing_a_missing_key_is_an_error_and_changes_nothing() -> None:
    repo = ConfigRepo(_episode())
    obs = repo.run("edit web.cfg pool_size 25")
    assert obs.returncode == 1
    assert "no key pool_size" in obs.output
    assert repo.changes() == []


def test_editing_a_missing_file_is_an_error() -> None:
    obs = ConfigRepo(_episode()).run("edit nope.cfg pool_size 25")
    assert obs.returncode == 1
    assert "No such file" in obs.output


def test_grep_lists_every_matching_line_in_file_order() -> None:
    obs = ConfigRepo(_episode()).run("grep pool_size")
    assert obs.returncode == 0
    assert obs.output.splitlines() == [
        "cache.cfg:pool_size = 7",
        "db.cfg:pool_size = 10",
        "db.cfg:pool_size_max = 20",
    ]


def test_grep_without_a_match_exits_1_with_no_output() -> None:
    obs = ConfigRepo(_episode()).run("grep nothing")
    assert (obs.returncode, obs.output) == (1, "")


def test_cat_shows_the_files_lines() -> None:
    obs = ConfigRepo(_episode()).run("cat db.cfg")
    assert obs.output == "pool_size = 10\npool_size_max = 20"


def test_edit_reports_old_and_new_value() -> None:
    assert ConfigRepo(_episode()).run("edit db.cfg pool_size 25").output == (
        "db.cfg:pool_size = 10 -> 25"
    )


def test_no_command_runs_after_submit() -> None:
    repo = ConfigRepo(_episode())
    repo.run("submit")
    with pytest.raises(RuntimeError, match="submitted"):
        repo.run("ls")


def test_episodes_are_deterministic_by_seed() -> None:
    assert make_episode(42, 3) == make_episode(42, 3)
    assert make_episode(42, 3) != make_episode(43, 3)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_the_issue_names_a_line_that_exists_with_the_old_value(level: int) -> None:
    for seed in range(50):
        e = make_episode(seed, level)
        assert dict(e.files[e.target_file])[e.target_key] == e.old_value
        assert e.old_value != e.new_value
        assert 4 <= len(e.files) <= 8


def test_easy_episodes_have_a_single_grep_hit() -> None:
    for seed in range(50):
        e = make_episode(seed, 1)
        assert len(ConfigRepo(e).run(f"grep {e.target_key}").output.splitlines()) == 1


def test_hard_episodes_have_the_key_in_other_files_with_other_values() -> None:
    for seed in range(50):
        e = make_episode(seed, 3)
        others = [
            dict(lines)[e.target_key]
            for name, lines in e.files.items()
            if name != e.target_file and e.target_key in dict(lines)
        ]
        assert others
        assert e.old_value not in others


def test_medium_episodes_have_decoy_keys_that_contain_the_key() -> None:
    decoys = 0
    for seed in range(50):
        e = make_episode(seed, 2)
        keys = [k for lines in e.files.values() for k, _ in lines]
        decoys += any(e.target_key in k and k != e.target_key for k in keys)
        assert keys.count(e.target_key) == 1
    assert decoys >= 45
