"""Small trajectories built in code for the critic's tests."""

from __future__ import annotations

from typing import Any

from srft.files.corpus import Message, Outcome, Source, ToolCall, Trajectory


def shell_step(
    command: str,
    output: str,
    exit_code: int | None = 0,
    *,
    thought: str = "Next I run a command.",
    call_id: str | None = None,
    arguments_valid: bool = True,
    interrupt: str | None = None,
) -> list[Message]:
    """An assistant turn calling the `bash` tool, and the tool's answer."""
    arguments: Any = {"command": command} if arguments_valid else command
    call = ToolCall(id=call_id, name="bash", arguments=arguments, arguments_valid=arguments_valid)
    return [
        Message(role="assistant", content=thought, tool_calls=[call]),
        Message(
            role="tool",
            content=output,
            tool_call_id=call_id,
            exit_code=exit_code,
            interrupt=interrupt,
        ),
    ]


def trajectory(
    steps: list[list[Message]],
    *,
    tid: str = "t-1",
    task: str = "Fix the bug in parse().",
    status: str = "unresolved",
    patch: str | None = None,
) -> Trajectory:
    """A trajectory with a system prompt, the task and `steps` (lists from `shell_step`)."""
    messages = [
        Message(role="system", content="You are an agent."),
        Message(role="user", content=task),
    ]
    for n, step in enumerate(steps):
        for m in step:
            if m.tool_calls and m.tool_calls[0].id is None:
                m.tool_calls[0].id = f"{tid}-c{n}"
            if m.role == "tool" and m.tool_call_id is None:
                m.tool_call_id = f"{tid}-c{n}"
        messages.extend(step)
    t = Trajectory.from_messages(
        messages=messages,
        id=tid,
        instance_id=f"inst-{tid}",
        source=Source(format="test", file="helpers.py", record=tid),
        outcome=Outcome(status=status),  # type: ignore[arg-type]
    )
    if patch is not None:
        t.metadata.patch = patch
    return t


def simple(
    tid: str,
    n_steps: int = 3,
    *,
    task: str | None = None,
    mistake_at: int | None = None,
    output_chars: int = 40,
) -> Trajectory:
    """`n_steps` ordinary steps; the step at `mistake_at` runs a command that is not found."""
    steps = []
    for i in range(n_steps):
        if i == mistake_at:
            steps.append(shell_step("pyhton run.py", "bash: pyhton: command not found", 127))
        else:
            steps.append(shell_step(f"cat file_{i}.py", f"line {i} " + "x" * output_chars, 0))
    return trajectory(steps, tid=tid, task=task or f"Task of {tid}.")
