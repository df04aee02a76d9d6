"""The `file` critic imports labels made elsewhere; nothing unlabelled passes as `good`."""

from __future__ import annotations

import json

import pytest

from srft.critic.file import FileCritic
from srft.critic.run import run_critic
from srft.files.verdicts import VerdictError, load_verdicts

from .helpers import simple


def write_lines(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_labels_given_as_a_list_become_step_verdicts(tmp_path):
    labels = write_lines(
        tmp_path / "l.jsonl",
        [{"trajectory_id": "a", "labels": ["good", "mistake"], "reasons": ["ok", "typo"]}],
    )
    v = FileCritic(labels).judge(simple("a", 2))
    assert v.status == "ok" and v.labels() == ["good", "mistake"] and v.steps[1].reason == "typo"


def test_labels_given_as_steps_or_as_verdicts_are_read_alike(tmp_path):
    steps = [{"index": 0, "label": "recover", "reason": "fixes it"}]
    verdict = {
        "format": "srft.verdicts",
        "version": 1,
        "trajectory_id": "b",
        "critic": {"name": "human"},
        "steps": steps,
    }
    labels = write_lines(tmp_path / "l.jsonl", [{"trajectory_id": "a", "steps": steps}, verdict])
    critic = FileCritic(labels)
    assert critic.judge(simple("a", 1)).labels() == ["recover"]
    assert critic.judge(simple("b", 1)).labels() == ["recover"]


def test_a_trajectory_missing_from_the_file_is_failed_not_good(tmp_path):
    labels = write_lines(tmp_path / "l.jsonl", [{"trajectory_id": "a", "labels": ["good"]}])
    v = FileCritic(labels).judge(simple("zzz", 1))
    assert v.status == "failed" and v.steps == [] and "no labels" in (v.error or "")


def test_a_label_count_that_does_not_match_the_steps_is_failed(tmp_path):
    labels = write_lines(tmp_path / "l.jsonl", [{"trajectory_id": "a", "labels": ["good"]}])
    v = FileCritic(labels).judge(simple("a", 3))
    assert v.status == "failed" and "1 labels for 3 steps" in (v.error or "")


def test_an_unknown_label_is_an_error_naming_file_and_line(tmp_path):
    labels = write_lines(
        tmp_path / "l.jsonl",
        [{"trajectory_id": "a", "labels": ["good"]}, {"trajectory_id": "b", "labels": ["meh"]}],
    )
    with pytest.raises(VerdictError, match=r"l\.jsonl:2: .*'meh'"):
        FileCritic(labels)


def test_run_critic_with_the_file_critic_writes_one_verdict_per_trajectory(tmp_path):
    from srft.files.corpus import CORPUS

    corpus = tmp_path / "c.jsonl"
    CORPUS.write(corpus, [simple("a", 2), simple("b", 1)])
    labels = write_lines(
        tmp_path / "l.jsonl",
        [
            {"trajectory_id": "a", "labels": ["good"] * 2},
            {"trajectory_id": "x", "labels": ["good"]},
        ],
    )
    summary = run_critic(corpus, tmp_path / "v.jsonl", "file", labels_from=labels)
    verdicts = load_verdicts(tmp_path / "v.jsonl")
    assert verdicts["a"].status == "ok" and verdicts["b"].status == "failed"
    assert summary["trajectories"] == {"read": 2, "ok": 1, "failed": 1}
    assert summary["labels_not_in_corpus"]["first"] == ["x"]


def _runs_of(instance: str, n: int):
    runs = []
    for k in range(n):
        run = simple(f"{instance}@run{k}", 2)
        run.instance_id = instance
        runs.append(run)
    return runs


def test_labels_keyed_by_instance_label_its_only_run(tmp_path):
    labels = write_lines(
        tmp_path / "l.jsonl", [{"trajectory_id": "x__y-1", "labels": ["good"] * 2}]
    )
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(t.model_dump_json() + "\n" for t in _runs_of("x__y-1", 1)))
    run_critic(corpus, tmp_path / "v.jsonl", "file", labels_from=labels)
    (verdict,) = load_verdicts(tmp_path / "v.jsonl").values()
    assert verdict.trajectory_id == "x__y-1@run0" and verdict.status == "ok"


def test_labels_keyed_by_an_instance_with_several_runs_label_none_of_them(tmp_path):
    labels = write_lines(
        tmp_path / "l.jsonl", [{"trajectory_id": "x__y-1", "labels": ["good"] * 2}]
    )
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(t.model_dump_json() + "\n" for t in _runs_of("x__y-1", 3)))
    run_critic(corpus, tmp_path / "v.jsonl", "file", labels_from=labels)
    verdicts = load_verdicts(tmp_path / "v.jsonl")
    assert len(verdicts) == 3
    for verdict in verdicts.values():
        assert verdict.status == "failed"
        assert "keyed by instance 'x__y-1', which has 3 runs" in verdict.error
