"""The corpus (`srft.corpus` / 1): the canonical trajectory, one per line, that ingest writes.

The one shape every stage after ingest reads.

A trajectory is an ordered list of chat messages (what a model saw and said) plus the *steps*
that index into it. A step is one assistant turn and the observation messages that answer it;
step indices are 0-based over the assistant turns that the agent produced (demonstrations and
other prompt material are messages, never steps). Steps are stored, not only derived, so
that downstream tools need not re-implement the pairing rules of each source format, and so a
corpus edited by another tool is checked on read (`Trajectory.validate_structure`).

The schema is versioned (`CORPUS_FORMAT`, `CORPUS_VERSION`); every record carries both, and
`docs/corpus-format.md` documents the fields. `CORPUS` reads (streamed, each record validated
and its structure checked) and writes (atomically) corpus files. The serialisation is
canonical (fixed field order, compact separators, UTF-8 without ASCII escaping), so reading a
corpus and writing it again gives the same bytes, and a record's line can be hashed as its
content.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srft.files.base import FileSpec, JsonLines

CORPUS_FORMAT = "srft.corpus"
CORPUS_VERSION = 1

Role = Literal["system", "user", "assistant", "tool"]
OutcomeStatus = Literal["resolved", "unresolved", "unknown"]


class CorpusError(ValueError):
    """A record that cannot become a valid trajectory; the message names file, record and reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class ToolCall(_Strict):
    """One tool (function) call an assistant message makes.

    `arguments` is the parsed JSON object when the source's arguments parse as one; otherwise
    the raw string is kept verbatim (and `arguments_valid` is False) so the rules critic can
    see that the call itself was malformed.
    """

    id: str | None = Field(
        None,
        description="The call's id, which the answering `tool` message's `tool_call_id` "
        "names; null where the source gives none.",
    )
    name: str = Field(description="The tool (function) called.")
    arguments: Any = Field(
        default_factory=dict,
        description="The parsed JSON arguments object; the raw string, verbatim, when the "
        "source's arguments do not parse as one.",
    )
    arguments_valid: bool = Field(
        True,
        description="False when `arguments` is that raw string: the call itself was "
        "malformed (the rules critic labels it a `mistake`).",
    )


class Message(_Strict):
    """One chat message.

    `exit_code` and `interrupt` describe observations: the command's exit status where the
    format records one, and the kind of agent-framework interrupt (e.g. `FormatError`) when the
    observation is the framework complaining rather than the environment answering.
    `demo` marks demonstration material that belongs to the prompt.
    """

    role: Role = Field(
        description="Who wrote it: `system` (prompt), `user` (the task, or an observation), "
        "`assistant` (the agent), `tool` (a call's result)."
    )
    content: str = Field(
        "", description='The text; lists of typed text parts are concatenated, null becomes `""`.'
    )
    reasoning: str | None = Field(
        None, description="Separate reasoning/thinking text, where the source keeps it apart."
    )
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = Field(
        None, description="On `tool` messages: the id of the call this message answers."
    )
    name: str | None = Field(
        None, description="On `tool` messages: the tool's name, where the source gives it."
    )
    exit_code: int | None = Field(
        None,
        description="On observations: the command's exit status, where the format records one.",
    )
    interrupt: str | None = Field(
        None,
        description="On observations: the agent framework's interrupt kind (e.g. "
        "`FormatError`) when the framework complained, not the environment.",
    )
    demo: bool = Field(
        False, description="Demonstration material: part of the prompt, never a step."
    )


class Step(_Strict):
    """Step `index`: the assistant message at `assistant` and the observation messages answering it."""

    index: int = Field(description="The step's number, 0-based over the agent's assistant turns.")
    assistant: int = Field(description="The index in `messages` of the step's assistant message.")
    observations: list[int] = Field(
        default_factory=list,
        description="The indices in `messages` of the `tool`/`user` messages after it, up to "
        "the next assistant turn.",
    )


class Outcome(_Strict):
    """Whether the trajectory's final patch solved the task, and where that label came from."""

    status: OutcomeStatus = Field(
        "unknown",
        description="Did the final patch solve the task; `unknown`: no label "
        "(an outcome is never guessed).",
    )
    source: str | None = Field(
        None, description="Where the label came from: `in-file:FIELD` or a label file's path."
    )
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra facts: a harness report's `tests_status` and patch facts; an "
        "LLM-judged `success` (which leaves `status` unknown).",
    )


class Source(_Strict):
    """Where a trajectory was read from: format name, file path and a locator inside the file."""

    format: str
    file: str = Field(description="The input file (or dataset folder), as given.")
    record: str = Field(
        description="The locator inside the file: `0` (one-object file), an array index, "
        "`line N`, `row N` or `SPLIT/row N`."
    )


class Metadata(_Strict):
    """What the run reported about itself; `extra` keeps format-specific fields worth keeping."""

    model: str | None = Field(None, description="The model's name, as the run reports it.")
    exit_status: str | None = Field(
        None, description="How the run ended (`Submitted`, `exit_cost`, ...)."
    )
    patch: str | None = Field(None, description="The submitted patch (null when none or empty).")
    cost: float | None = Field(
        None, description="The run's API cost in USD, as the source reports it."
    )
    extra: dict[str, Any] = Field(
        default_factory=dict,
        description="Format-specific facts worth keeping (listed per reader in "
        "`docs/corpus-format.md`); `published_train`: per step, the source's train flag.",
    )


class Trajectory(_Strict):
    """One agent run on one task, in the canonical form."""

    format: Literal["srft.corpus"] = CORPUS_FORMAT
    version: int = CORPUS_VERSION
    id: str = Field(
        description="Unique in the corpus: the run, `<instance>@<10 hex digits>` (a digest of "
        "its run key and record locator)."
    )
    instance_id: str | None = Field(
        None,
        description="The task id (e.g. a SWE-bench instance id); several runs may share "
        "it, and the pipeline splits and groups by it.",
    )
    source: Source
    outcome: Outcome = Field(default_factory=Outcome)
    messages: list[Message]
    tools: list[dict[str, Any]] | None = Field(
        None,
        description='The tools\' JSON schemas (OpenAI `{"type": "function", ...}`), '
        "when the source has them.",
    )
    steps: list[Step]
    metadata: Metadata = Field(default_factory=Metadata)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_messages(cls, *, messages: list[Message], **fields: Any) -> Trajectory:
        """Build a trajectory whose steps are derived from `messages` (see `derive_steps`)."""
        trajectory = cls(messages=messages, steps=derive_steps(messages), **fields)
        trajectory.validate_structure()
        return trajectory

    def validate_structure(self) -> None:
        """Check the invariants the rest of the pipeline relies on; raise `CorpusError` if broken.

        - at least one step;
        - steps are numbered 0..n-1 and point at non-demo assistant messages, in order;
        - every non-demo assistant message is a step (no agent turn is silently untrainable);
        - a step's observations come after its assistant message and before the next step;
        - a tool message answers a call id made by the assistant message of its step.
        """
        if not self.steps:
            raise CorpusError("empty trajectory: no assistant turns")
        agent_turns = [
            i for i, m in enumerate(self.messages) if m.role == "assistant" and not m.demo
        ]
        if [s.assistant for s in self.steps] != agent_turns:
            raise CorpusError("steps do not match the assistant turns of the messages")
        for n, step in enumerate(self.steps):
            if step.index != n:
                raise CorpusError(f"step {n} has index {step.index}")
            end = self.steps[n + 1].assistant if n + 1 < len(self.steps) else len(self.messages)
            calls = {c.id for c in self.messages[step.assistant].tool_calls if c.id}
            for o in step.observations:
                if not step.assistant < o < end:
                    raise CorpusError(f"step {n}: observation {o} lies outside the step")
                msg = self.messages[o]
                if msg.role == "tool" and msg.tool_call_id and msg.tool_call_id not in calls:
                    raise CorpusError(
                        f"step {n}: tool message {o} answers call id {msg.tool_call_id!r}, "
                        "which the step's assistant message did not make"
                    )

    # -- views --------------------------------------------------------------------------------

    @property
    def task(self) -> str:
        """The task statement: the first non-demo user message (what the agent was asked)."""
        for m in self.messages:
            if m.role == "user" and not m.demo:
                return m.content
        return ""

    def step_assistant(self, index: int) -> Message:
        """The assistant message of step `index`."""
        return self.messages[self.steps[index].assistant]

    def step_observations(self, index: int) -> list[Message]:
        """The observation messages of step `index`, in order."""
        return [self.messages[i] for i in self.steps[index].observations]


def derive_steps(messages: list[Message]) -> list[Step]:
    """Steps from messages: each non-demo assistant message opens a step, and the tool/user
    messages after it (up to the next assistant message) are its observations.

    A tool message before any assistant turn, or one whose call id the step did not make, is an
    error (`CorpusError`): it answers no call, so its pairing is unknowable.
    """
    steps: list[Step] = []
    current: Step | None = None
    for i, message in enumerate(messages):
        if message.role == "assistant" and not message.demo:
            current = Step(index=len(steps), assistant=i)
            steps.append(current)
        elif message.role in ("tool", "user") and not message.demo and current is not None:
            current.observations.append(i)
        elif message.role == "tool" and not message.demo:
            raise CorpusError(
                f"tool message {i} answers no call: it comes before any assistant turn"
            )
        if message.role == "tool" and current is not None and message.tool_call_id:
            calls = {c.id for c in messages[current.assistant].tool_calls if c.id}
            if message.tool_call_id not in calls:
                raise CorpusError(
                    f"tool message {i} answers call id {message.tool_call_id!r}, which no "
                    "preceding assistant turn made"
                )
    return steps


def check_structure(trajectory: Trajectory) -> None:
    """The structure check of a record read from a file, its reason naming the trajectory."""
    try:
        trajectory.validate_structure()
    except CorpusError as e:
        raise CorpusError(f"trajectory {trajectory.id!r}: {e}") from e


CORPUS: JsonLines[Trajectory] = JsonLines(
    name="corpus.jsonl", model=Trajectory, what="an srft corpus record", written_by="srft ingest (also srft split, srft critic-bench)",
    format=CORPUS_FORMAT, version=CORPUS_VERSION, check=check_structure, doc="docs/corpus-format.md",
)  # fmt: skip

FILES: tuple[FileSpec[Any], ...] = (CORPUS,)


def record_field(line: str, key: str) -> Any:
    """One top-level field of a corpus line, parsed but not validated (None when unreadable).

    For passes that need one field of every record and must not pay for validating them: the
    ids of other shards' lines, the instance of each run. A record used for anything more is
    read with `CORPUS`.
    """
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data.get(key) if isinstance(data, dict) else None
