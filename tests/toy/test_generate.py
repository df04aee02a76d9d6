"""`srft toy generate`: real formats in, a round trip through `srft ingest` and the critics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("srft.toy", reason="the toy testbed (srft/toy/) is not installed")

from srft.corpus.ingest import ingest
from srft.critic.file import FileCritic
from srft.critic.rules import judge_rules
from srft.files.corpus import CORPUS
from srft.files.verdicts import load_verdicts
from srft.toy.generate import generate


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy")
    generate(out, 60, seed=3)
    return out


@pytest.fixture(scope="module")
def corpus(generated: Path) -> Path:
    path = generated.parent / "corpus.jsonl"
    summary = ingest([generated / "trajs"], labels=[generated / "toy.teacher.json"], output=path)
    assert (summary.read, summary.accepted, summary.rejected) == (60, 60, 0)
    return path


def test_trajectories_are_mini_swe_agent_v1_saved_runs(generated: Path) -> None:
    files = sorted((generated / "trajs").glob("*/*.traj.json"))
    assert len(files) == 60
    run = json.loads(files[0].read_text())
    assert run["trajectory_format"] == "mini-swe-agent-1"
    assert run["info"]["exit_status"] in ("Submitted", "LimitsExceeded")
    assert files[0].name == f"{run['instance_id']}.traj.json"
    roles = [m["role"] for m in run["messages"]]
    assert roles[:3] == ["system", "user", "assistant"]
    assert run["messages"][3]["content"].startswith("<returncode>")


def test_outcomes_are_a_swe_bench_run_summary(generated: Path) -> None:
    summary = json.loads((generated / "toy.teacher.json").read_text())
    assert summary["total_instances"] == 60
    assert len(summary["resolved_ids"]) + len(summary["unresolved_ids"]) == 60
    assert summary["resolved_instances"] == len(summary["resolved_ids"])


def test_generation_is_deterministic_by_seed(tmp_path: Path, generated: Path) -> None:
    generate(tmp_path, 60, seed=3)
    for name in ("toy.teacher.json", "labels.jsonl", "toy.json"):
        assert (tmp_path / name).read_bytes() == (generated / name).read_bytes()
    a = sorted((tmp_path / "trajs").glob("*/*.traj.json"))
    b = sorted((generated / "trajs").glob("*/*.traj.json"))
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_different_seeds_draw_different_episodes(tmp_path: Path, generated: Path) -> None:
    generate(tmp_path, 60, seed=4)
    ids = {p.name for p in (tmp_path / "trajs").iterdir()}
    assert ids.isdisjoint(p.name for p in (generated / "trajs").iterdir())


def test_ingest_reads_every_run_with_its_teacher_outcome(generated: Path, corpus: Path) -> None:
    summary = json.loads((generated / "toy.teacher.json").read_text())
    outcomes = {t.instance_id: t.outcome.status for t in CORPUS.read(corpus)}
    assert {i for i, s in outcomes.items() if s == "resolved"} == set(summary["resolved_ids"])
    assert {i for i, s in outcomes.items() if s == "unresolved"} == set(summary["unresolved_ids"])


def test_true_labels_cover_every_ingested_step(generated: Path, corpus: Path) -> None:
    verdicts = load_verdicts(generated / "labels.jsonl")
    for trajectory in CORPUS.read(corpus):
        verdict = verdicts[trajectory.instance_id]  # the teacher labels one run per instance
        assert verdict.critic.name == "toy-teacher"
        assert len(verdict.steps) == len(trajectory.steps)


def test_the_file_critic_imports_the_true_labels(generated: Path, corpus: Path) -> None:
    critic = FileCritic(generated / "labels.jsonl")
    verdicts = load_verdicts(generated / "labels.jsonl")
    for trajectory in CORPUS.read(corpus):
        verdict = critic.judge(trajectory)
        assert verdict.status == "ok"
        assert verdict.labels() == verdicts[trajectory.instance_id].labels()


def test_the_rules_critic_flags_exactly_the_failed_commands(corpus: Path) -> None:
    for trajectory in CORPUS.read(corpus):
        failed = [
            any(o.exit_code not in (None, 0) for o in trajectory.step_observations(s.index))
            for s in trajectory.steps
        ]
        flagged = [label == "mistake" for label in judge_rules(trajectory).labels()]
        assert flagged == failed


def test_an_empty_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate(tmp_path, 0)
