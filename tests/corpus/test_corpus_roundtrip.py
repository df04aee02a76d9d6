"""Round trip: a corpus read and written again is byte-for-byte the same (property test)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srft.files.corpus import CORPUS, Message, Metadata, Outcome, Source, ToolCall, Trajectory

# Any Unicode a UTF-8 file can hold (lone surrogates cannot be encoded; ingest rejects them).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
# JSON has no NaN/Infinity (ingest rejects them), so neither do generated values.
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def tool_call(draw: st.DrawFn, call_id: str) -> ToolCall:
    if draw(st.booleans()):
        return ToolCall(
            id=call_id,
            name=draw(text.filter(bool)),
            arguments=draw(st.dictionaries(text, json_value, max_size=3)),
        )
    return ToolCall(
        id=call_id, name=draw(text.filter(bool)), arguments=draw(text), arguments_valid=False
    )


@st.composite
def step_messages(draw: st.DrawFn, n: int) -> list[Message]:
    """One assistant turn and the observations that answer it."""
    calls = [draw(tool_call(f"call-{n}-{k}")) for k in range(draw(st.integers(0, 3)))]
    assistant = Message(
        role="assistant",
        content=draw(text),
        reasoning=draw(st.none() | text),
        tool_calls=calls,
    )
    observations = [
        Message(
            role="tool",
            content=draw(text),
            tool_call_id=call.id,
            name=draw(st.none() | text),
            exit_code=draw(st.none() | st.integers(-255, 255)),
        )
        for call in calls
    ]
    if draw(st.booleans()):
        observations.append(
            Message(
                role="user", content=draw(text), interrupt=draw(st.none() | st.just("FormatError"))
            )
        )
    return [assistant, *observations]


@st.composite
def trajectories(draw: st.DrawFn) -> Trajectory:
    messages = [
        Message(role="system", content=draw(text)),
        Message(role="user", content=draw(text)),
    ]
    if draw(st.booleans()):
        messages += [
            Message(role="user", content=draw(text), demo=True),
            Message(role="assistant", content=draw(text), demo=True),
        ]
    for n in range(draw(st.integers(1, 4))):
        messages += draw(step_messages(n))
    status = draw(st.sampled_from(["resolved", "unresolved", "unknown"]))
    return Trajectory.from_messages(
        id=draw(text.filter(bool)),
        instance_id=draw(st.none() | text),
        source=Source(format=draw(text), file=draw(text), record=draw(text)),
        outcome=Outcome(
            status=status,
            source=draw(st.none() | text),
            details=draw(st.dictionaries(text, json_value, max_size=3)),
        ),
        messages=messages,
        tools=draw(st.none() | st.lists(st.dictionaries(text, json_value, max_size=3), max_size=2)),
        metadata=Metadata(
            model=draw(st.none() | text),
            exit_status=draw(st.none() | text),
            patch=draw(st.none() | text),
            cost=draw(st.none() | st.floats(allow_nan=False, allow_infinity=False)),
            extra=draw(st.dictionaries(text, json_value, max_size=4)),
        ),
    )


@settings(max_examples=60, deadline=None)
@given(trajectories())
def test_a_trajectory_line_reads_back_to_the_same_bytes(trajectory: Trajectory) -> None:
    line = CORPUS.dumps(trajectory)
    assert CORPUS.dumps(CORPUS.loads(line)) == line


@settings(max_examples=60, deadline=None)
@given(trajectories())
def test_a_trajectory_reads_back_equal(trajectory: Trajectory) -> None:
    assert CORPUS.loads(CORPUS.dumps(trajectory)) == trajectory


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(trajectories(), min_size=1, max_size=4))
def test_a_corpus_file_written_again_is_identical(tmp_path: Path, corpus: list[Trajectory]) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    CORPUS.write(first, corpus)
    CORPUS.write(second, CORPUS.read(first))
    assert first.read_bytes() == second.read_bytes()


def test_an_ingested_corpus_written_again_is_identical(
    tmp_path: Path, format_fixtures: list[Path]
) -> None:
    from srft.corpus.ingest import ingest

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    ingest(list(format_fixtures), output=first)
    CORPUS.write(second, CORPUS.read(first))
    assert first.read_bytes() == second.read_bytes()
