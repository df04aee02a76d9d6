"""`srft run`'s critic stage when some trajectories got no verdict: `critic.on_partial_failure`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srft.files.corpus import CORPUS
from srft.files.verdicts import VERDICTS, CriticInfo, StepVerdict, Verdict
from srft.pipeline.actions import critic_action
from srft.pipeline.config import RunConfig
from srft.pipeline.graph import StageContext
from tests.critic.helpers import simple


def stage(tmp_path: Path, labelled: list[str], on_partial_failure: str | None = None):
    """The critic stage of a run over trajectories a, b with file labels for `labelled` only."""
    CORPUS.write(tmp_path / "corpus.jsonl", [simple("a"), simple("b")])
    labels = tmp_path / "labels.jsonl"
    VERDICTS.write(
        labels,
        [
            Verdict(
                trajectory_id=t,
                critic=CriticInfo(name="hand"),
                steps=[StepVerdict(index=i, label="good") for i in range(3)],
            )
            for t in labelled
        ],
    )
    critic = {"name": "file", "options": {"labels_from": str(labels)}}
    if on_partial_failure:
        critic["on_partial_failure"] = on_partial_failure
    config = RunConfig.model_validate(
        {"inputs": ["x"], "train": {"model": "smollm2"}, "critic": critic}
    )
    logged: list[str] = []
    ctx = StageContext(run_dir=tmp_path, key="critic", resume=False, log=logged.append)
    return lambda: critic_action(config)(ctx), logged


def test_a_partial_failure_continues_by_default_and_logs_the_reasons(tmp_path: Path) -> None:
    action, logged = stage(tmp_path, ["a"])
    summary = action()
    assert summary["outcome"] == "partial"
    assert logged == [
        "  critic: 1 of 2 trajectories failed (no-labels 1); continuing "
        "(critic.on_partial_failure: continue)"
    ]


def test_a_partial_failure_stops_the_run_when_configured(tmp_path: Path) -> None:
    action, _ = stage(tmp_path, ["a"], "stop")
    with pytest.raises(RuntimeError, match=r"1 of 2 trajectories failed \(no-labels 1\); rerun"):
        action()


def test_a_critic_that_judged_nothing_always_stops_the_run(tmp_path: Path) -> None:
    action, _ = stage(tmp_path, [], "continue")
    with pytest.raises(RuntimeError, match="2 of 2 trajectories failed"):
        action()
    assert json.loads((tmp_path / "verdicts.summary.json").read_text())["outcome"] == "none"
