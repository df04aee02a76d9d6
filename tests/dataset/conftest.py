"""Shared fixtures of the dataset tests: the SmolLM2 tokenizer, the test templates, and a
small trajectory builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srft.files.corpus import Message, Outcome, Source, ToolCall, Trajectory
from srft.files.verdicts import CriticInfo, StepVerdict, Verdict

from .templates import QWEN3_LIKE, QWEN25_LIKE

# name -> chat template override (None: SmolLM2's own ChatML template, no tool support)
TEMPLATES: dict[str, str | None] = {"smollm2": None, "qwen25": QWEN25_LIKE, "qwen3": QWEN3_LIKE}


@pytest.fixture(scope="session")
def tokenizer(smollm2_path: Path) -> Any:
    from srft.dataset.encoder import load_tokenizer

    return load_tokenizer(smollm2_path)


@pytest.fixture(scope="session")
def encoders(tokenizer: Any) -> dict[str, Any]:
    from srft.dataset.encoder import Encoder

    return {name: Encoder(tokenizer, template) for name, template in TEMPLATES.items()}


def trajectory(
    turns: list[dict[str, Any]],
    *,
    id: str = "t1",
    outcome: str = "unresolved",
    system: str = "You are an agent.",
    task: str = "Fix the bug.",
) -> Trajectory:
    """A trajectory from a list of turns: each `{"say": str, "think": str, "call": str,
    "obs": str, "obs_role": "tool"|"user"}`, keys optional."""
    messages = [Message(role="system", content=system), Message(role="user", content=task)]
    for n, turn in enumerate(turns):
        calls = []
        if turn.get("call"):
            calls = [ToolCall(id=f"call{n}", name="bash", arguments={"command": turn["call"]})]
        messages.append(
            Message(
                role="assistant",
                content=turn.get("say", ""),
                reasoning=turn.get("think"),
                tool_calls=calls,
            )
        )
        if "obs" in turn:
            role = turn.get("obs_role", "tool" if calls else "user")
            messages.append(
                Message(
                    role=role,
                    content=turn["obs"],
                    tool_call_id=f"call{n}" if role == "tool" and calls else None,
                )
            )
    return Trajectory.from_messages(
        messages=messages,
        id=id,
        instance_id=f"repo__{id}",
        source=Source(format="test", file="test.jsonl", record=id),
        outcome=Outcome(status=outcome),
    )


def verdict(trajectory_id: str, labels: list[str], status: str = "ok") -> Verdict:
    """A verdict with the given labels (or a failed one)."""
    steps = [StepVerdict(index=i, label=lab, reason="test") for i, lab in enumerate(labels)]
    return Verdict(
        trajectory_id=trajectory_id,
        critic=CriticInfo(name="test"),
        status=status,  # type: ignore[arg-type]
        error="boom" if status == "failed" else None,
        steps=steps if status == "ok" else [],
    )


SHARED_TEMPLATES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "chat-templates"


@pytest.fixture(scope="session")
def shared_chat_templates() -> Path:
    """`../shared/data/chat-templates`, or skip the test when it is absent."""
    if not SHARED_TEMPLATES.is_dir():
        pytest.skip("../shared/data/chat-templates is absent")
    return SHARED_TEMPLATES
