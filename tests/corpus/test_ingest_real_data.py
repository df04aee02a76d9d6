"""Acceptance on real published trajectories (`../shared/data/trajectories`; skipped if absent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from srft.corpus.ingest import IngestSummary, ingest
from srft.files.corpus import CORPUS, Trajectory

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def ingested(
    shared_trajectories: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[IngestSummary, list[Trajectory]]:
    output = tmp_path_factory.mktemp("real") / "corpus.jsonl"
    summary = ingest([shared_trajectories], output=output)
    return summary, list(CORPUS.read(output))


def source_record(trajectory: Trajectory) -> Any:
    """The raw record a trajectory was read from, straight from its file."""
    path, record = Path(trajectory.source.file), trajectory.source.record
    if record.startswith("line "):
        return json.loads(path.read_text().splitlines()[int(record[5:]) - 1])
    data = json.loads(path.read_text())
    if isinstance(data, list) and isinstance(data[0], dict) and "role" not in data[0]:
        return data[int(record)]
    return data


def assistant_turns_in_source(fmt: str, raw: Any) -> int:
    """Assistant turns counted from the source by that format's own rules."""
    if fmt == "mini-swe-agent-legacy":
        return sum(m["role"] == "assistant" for m in raw)
    if fmt in ("mini-swe-agent-v1", "mini-swe-agent-v2", "openai-chat"):
        messages = (
            json.loads(raw["messages"]) if isinstance(raw["messages"], str) else raw["messages"]
        )
        return sum(m["role"] == "assistant" for m in messages)
    if fmt == "swe-agent":
        return sum(m["role"] == "assistant" and not m.get("is_demo") for m in raw["history"])
    if fmt == "nebius-swe-agent":
        return sum(m["role"] == "ai" for m in raw["trajectory"])
    if fmt == "openhands":  # every action but the user's opening message
        events = raw["history"]
        return sum("action" in e for e in events) - sum(
            e.get("action") == "message" and e.get("source", "user") == "user" for e in events[:1]
        )
    raise AssertionError(f"no source count for {fmt}")


def test_every_file_ingests(ingested, shared_trajectories):
    summary, corpus = ingested
    assert summary.rejected == 0
    assert summary.read == summary.accepted == len(corpus) == 270
    assert summary.skipped_files == [str(shared_trajectories / "README.md")]
    assert set(summary.formats) == {
        "mini-swe-agent-v1",
        "mini-swe-agent-v2",
        "mini-swe-agent-legacy",
        "swe-agent",
        "openhands",
        "openai-chat",
        "nebius-swe-agent",
    }


def test_step_count_equals_assistant_turns_in_the_source(ingested):
    _, corpus = ingested
    for trajectory in corpus:
        expected = assistant_turns_in_source(trajectory.source.format, source_record(trajectory))
        assert len(trajectory.steps) == expected, trajectory.id


def test_gemini_outcomes_come_from_the_bare_reports(ingested):
    _, corpus = ingested
    gemini = [t for t in corpus if t.source.format == "mini-swe-agent-v1"]
    assert len(gemini) == 250
    assert sum(t.outcome.status == "resolved" for t in gemini) == 186
    assert sum(t.outcome.status == "unresolved" for t in gemini) == 64
    for t in gemini:
        assert t.outcome.source.endswith(f"logs/{t.instance_id}/report.json")


def test_deepseek_outcomes_come_from_the_run_summary(ingested):
    _, corpus = ingested
    deepseek = {t.id: t.outcome for t in corpus if t.source.format == "mini-swe-agent-v2"}
    assert sorted(o.status for o in deepseek.values()) == ["resolved"] * 2 + ["unresolved"] * 2
    assert all(
        o.source.endswith("deepseek__deepseek-chat.deepseek_chat_dev.json")
        for o in deepseek.values()
    )


def test_summary_labels_without_trajectories_are_reported(ingested):
    summary, _ = ingested
    assert len(summary.unknown_label_instances) == 19
    assert "pvlib__pvlib-python-1072" in summary.unknown_label_instances


def test_v2_exit_messages_are_dropped(ingested):
    _, corpus = ingested
    for t in corpus:
        if t.source.format == "mini-swe-agent-v2":
            assert t.metadata.exit_status == "Submitted"
            assert t.metadata.patch.startswith("diff --git")


def test_swe_agent_demonstrations_are_not_steps(ingested):
    _, corpus = ingested
    demos = [
        t for t in corpus if t.source.format == "swe-agent" and any(m.demo for m in t.messages)
    ]
    assert len(demos) == 2
