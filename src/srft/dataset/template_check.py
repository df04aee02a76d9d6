"""`srft template check`: see what a chat template does to a conversation before training.

Prints the features the probe found (`template.py`: lead into a turn, stop tokens per kind of
turn, tool-call syntax, reasoning handling, what the conversation is adapted to) and a colour
rendering of a sample agent conversation: trained spans, masked spans (a step the critic
rejected) and context.
"""

from __future__ import annotations

from typing import Any

from srft.dataset.encoder import BuildError, Encoder
from srft.dataset.policies import Decision
from srft.files.corpus import Message, Outcome, Source, ToolCall, Trajectory

TRAINED, MASKED, CONTEXT = "bold green", "yellow strike", "dim"


def sample_trajectory() -> Trajectory:
    """A small agent run with what templates disagree on: content beside a call, a call alone,
    two calls in one message, reasoning, and a final answer."""
    call = ToolCall(id="call_1", name="bash", arguments={"command": "ls"})
    cat = ToolCall(id="call_2", name="bash", arguments={"command": "cat a.py"})
    test = ToolCall(id="call_3", name="bash", arguments={"command": "pytest -q"})
    diff = ToolCall(id="call_4", name="bash", arguments={"command": "git diff"})
    messages = [
        Message(role="system", content="You are a coding agent."),
        Message(role="user", content="Fix the failing test."),
        Message(
            role="assistant",
            content="Let me look.",
            reasoning="Start with the files.",
            tool_calls=[call],
        ),
        Message(role="tool", content="a.py", tool_call_id="call_1"),
        Message(role="assistant", content="", tool_calls=[cat]),
        Message(role="tool", content="print(1/0)", tool_call_id="call_2"),
        Message(role="assistant", content="", tool_calls=[test, diff]),
        Message(role="tool", content="1 failed", tool_call_id="call_3"),
        Message(role="tool", content="(no changes)", tool_call_id="call_4"),
        Message(role="assistant", content="Fixed the division.", reasoning="The bug is 1/0."),
    ]
    return Trajectory.from_messages(
        messages=messages,
        id="sample",
        instance_id="sample",
        source=Source(format="srft-sample", file="-", record="sample"),
        outcome=Outcome(status="unresolved"),
    )


def check_template(encoder: Encoder, masked: int = 1) -> dict[str, Any]:
    """The template's features and the sample conversation's rendering, with each character's
    kind (`trained`, `masked` or `context`) as runs, or the reason the sample is rejected."""
    trajectory = sample_trajectory()
    n = len(trajectory.steps)
    decision = Decision(True, tuple(k != masked for k in range(n)), (None,) * n, "check")
    report: dict[str, Any] = {"features": encoder.renderer.features.to_dict()}
    try:
        encoded = encoder.encode(trajectory, decision, policy="check", max_length=10**6)
    except BuildError as e:
        report["rejected"] = str(e)
        return report
    rendering = encoder.renderer.render(trajectory)
    kinds = ["context"] * len(rendering.text)
    for part in rendering.parts:
        kind = "trained" if part.step is not None and decision.trained[part.step] else "masked"
        kinds[part.start : part.end] = [kind] * (part.end - part.start)
    runs: list[tuple[str, str]] = []
    for ch, kind in zip(rendering.text, kinds, strict=True):
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, runs[-1][1] + ch)
        else:
            runs.append((kind, ch))
    report["runs"] = runs
    report["reasoning"] = {"turns": encoded.reasoning[0], "dropped": encoded.reasoning[1]}
    return report


def print_report(report: dict[str, Any]) -> None:
    """The report on the terminal: features, notes, and the coloured sample."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    f = report["features"]
    table = Table(title="chat template features", show_header=False)
    table.add_column("feature")
    table.add_column("value")
    rows = {
        "assistant header": f["header"],
        "generation prompt opens (never trained)": f["prompt_opens"],
        "end of a text turn": f["end_text"],
        "end of a tool-call turn": f["end_call"],
        "end of the last turn": f["end_last"],
        "native tool calls": f"{f['tool_calls']} (arguments as {f['arguments']}, ids {f['call_ids']})",
        "calls per message": f["calls_per_message"],
        "content beside a call": str(f["content_with_calls"]),
        "tool role / system role": f"{f['tool_role']} / {f['system_role']}",
        "reasoning field": str(f["reasoning_field"]),
    }
    for role, lead in f["leads"].items():
        rows[f"lead into a turn after {role}"] = lead
    for key, value in rows.items():
        table.add_row(key, repr(value) if isinstance(value, str) else str(value))
    console.print(table)
    for note in f["notes"]:
        console.print(f"- {note}")
    if "rejected" in report:
        console.print(f"[red]the sample conversation is rejected:[/red] {report['rejected']}")
        return
    r = report["reasoning"]
    console.print(
        f"reasoning: {r['turns']} turns carry it, the template drops {r['dropped']} from history"
    )
    legend = Text("legend: ")
    legend.append("trained", style=TRAINED)
    legend.append("  ")
    legend.append("masked (step 1)", style=MASKED)
    legend.append("  ")
    legend.append("context", style=CONTEXT)
    console.print(legend)
    sample = Text()
    for kind, text in report["runs"]:
        sample.append(text, style={"trained": TRAINED, "masked": MASKED, "context": CONTEXT}[kind])
    console.print(sample)
