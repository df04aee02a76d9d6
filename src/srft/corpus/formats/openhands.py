"""OpenHands `output.jsonl`: per line one run, whose `history` is an event stream.

Events are actions (`action` + `args`, with the model's `thought`) and observations
(`observation` + `content`, `cause` = the id of the action they answer, and
`extras.metadata.exit_code`). With function calling, an action carries `tool_call_metadata`
(the tool call id, the function name and the raw `model_response`); several actions from one
model response (same response id, `total_calls_in_response` > 1) become ONE assistant turn with
several tool calls, because that is what the model produced in one go.

Older streams (the resolver's mock output, v0.x) have no ids: actions and observations are
inline objects that alternate, so an observation answers the oldest unanswered action. Where the
source has no tool call ids, ids are made from the action event (`oh-<event id or index>`) so
that tool messages stay paired with their calls downstream.

Bookkeeping events (agent state changes, recalls, condensation, `null` observations) are not
chat content: they are dropped and counted in `metadata.extra.dropped_events`.
Outcome: `test_result.report.resolved` (SWE-bench evaluation output); the resolver's `success`
is judged by an LLM, not by tests, so it is kept in `outcome.details` and the status stays
`unknown`.
"""

from __future__ import annotations

from typing import Any

from srft.corpus.formats import Origin
from srft.corpus.formats._chat import (
    expect_dict,
    expect_list,
    fail,
    first_of,
    optional_float,
    optional_str,
    parse_arguments,
    response_reasoning,
    text_of,
    type_name,
)
from srft.corpus.formats._mini import id_from_file
from srft.corpus.outcomes import as_bool
from srft.files.corpus import Message, Metadata, Outcome, ToolCall, Trajectory

_SKIPPED_ACTIONS = {"change_agent_state", "recall", "condensation", "condensation_request", "null"}
_SKIPPED_OBSERVATIONS = {"agent_state_changed", "null", "recall", "condensation", "user_rejected"}
# Event fields that are OpenHands bookkeeping, not arguments the model chose.
_NOT_ARGUMENTS = {
    "action",
    "thought",
    "id",
    "timestamp",
    "source",
    "message",
    "cause",
    "args",
    "tool_call_metadata",
    "llm_metrics",
    "keep_prompt",
    "is_confirmed",
    "confirmation_state",
    "action_risk",
    "security_risk",
    "kernel_init_code",
    "hidden",
    "images_urls",
    "image_urls",
    "wait_for_response",
}


class OpenHands:
    name = "openhands"
    description = "OpenHands output.jsonl runs (history event stream)"
    priority = 70

    def matches(self, record: Any) -> bool:
        first = first_of(record, "history")
        if isinstance(first, list) and first:  # v0.x: [[action, observation], ...]
            first = first[0]
        return isinstance(first, dict) and ("action" in first or "observation" in first)

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        record = expect_dict(record, "run")
        events = _flatten(expect_list(record.get("history"), "history"))
        stream = _Stream()
        for n, event in enumerate(events):
            stream.add(expect_dict(event, f"history event {n}"), n)
        if not any(m.role == "user" for m in stream.messages) and isinstance(
            record.get("instruction"), str
        ):
            first_user = 1 if stream.messages and stream.messages[0].role == "system" else 0
            stream.messages.insert(first_user, Message(role="user", content=record["instruction"]))
        instance_id = _instance_id(record)
        trajectory_id = instance_id or f"{id_from_file(origin)}:{origin.record}"
        return Trajectory.from_messages(
            id=trajectory_id,
            instance_id=instance_id,
            source=origin.source(self.name),
            outcome=_outcome(record),
            messages=stream.messages,
            tools=stream.tools,
            metadata=_metadata(record, stream.dropped),
        )


def _flatten(history: list[Any]) -> list[Any]:
    events: list[Any] = []
    for item in history:
        if isinstance(item, list):
            events.extend(item)
        else:
            events.append(item)
    return events


class _Stream:
    """Turns events into messages, one event at a time."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.tools: list[dict[str, Any]] | None = None
        self.dropped = 0
        self.call_of_action: dict[Any, str] = {}
        self.unanswered: list[str] = []
        self.response_id: str | None = None
        self.turn: Message | None = None

    def add(self, event: dict[str, Any], n: int) -> None:
        if "action" in event:
            self.action(event, n)
        elif "observation" in event:
            self.observation(event, n)
        else:
            self.dropped += 1

    def action(self, event: dict[str, Any], n: int) -> None:
        kind = event["action"]
        args = event.get("args")
        args = args if isinstance(args, dict) else event
        source = event.get("source")
        if kind == "system":
            self.messages.append(
                Message(role="system", content=text_of(args.get("content"), "system"))
            )
            if isinstance(args.get("tools"), list):
                self.tools = args["tools"]
            return
        if kind in _SKIPPED_ACTIONS or source == "environment":
            self.dropped += 1
            return
        if kind == "message":
            content = text_of(args.get("content"), f"history event {n} content")
            from_user = source == "user" or (source is None and self.turn is None)
            if from_user:
                self.messages.append(Message(role="user", content=content))
            else:
                self.turn = Message(role="assistant", content=content)
                self.messages.append(self.turn)
                self.response_id = None
            return
        if source == "user":  # a command the human ran, not a model turn
            self.dropped += 1
            return
        self.tool_action(event, args, kind, n)

    def tool_action(self, event: dict[str, Any], args: dict[str, Any], kind: str, n: int) -> None:
        metadata = event.get("tool_call_metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        response = metadata.get("model_response")
        response = response if isinstance(response, dict) else {}
        call_id = metadata.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            call_id = f"oh-{event.get('id', n)}"
        name = metadata.get("function_name")
        name = name if isinstance(name, str) and name else kind
        arguments, valid = _arguments(response, call_id, args)
        call = ToolCall(id=call_id, name=name, arguments=arguments, arguments_valid=valid)
        response_id = response.get("id") if isinstance(response.get("id"), str) else None
        if self.turn is not None and response_id is not None and response_id == self.response_id:
            self.turn.tool_calls.append(call)
        else:
            self.turn = Message(
                role="assistant",
                content=_response_text(response) or _thought(args, n),
                reasoning=response_reasoning({"response": response}),
                tool_calls=[call],
            )
            self.messages.append(self.turn)
            self.unanswered = []
        self.response_id = response_id
        if "id" in event:
            self.call_of_action[event["id"]] = call_id
        self.unanswered.append(call_id)

    def observation(self, event: dict[str, Any], n: int) -> None:
        kind = event["observation"]
        if kind in _SKIPPED_OBSERVATIONS:
            self.dropped += 1
            return
        content = event.get("content")
        if content is None:
            content = event.get("message")
        content = text_of(content, f"history event {n} content")
        cause = event.get("cause")
        call_id = self.call_of_action.get(cause) if cause is not None else None
        if call_id is None and cause is None and self.unanswered:
            call_id = self.unanswered[0]
        if call_id is not None:
            if call_id in self.unanswered:
                self.unanswered.remove(call_id)
            self.messages.append(
                Message(
                    role="tool",
                    content=content,
                    tool_call_id=call_id,
                    name=kind if isinstance(kind, str) else None,
                    exit_code=_exit_code(event),
                )
            )
        elif self.turn is not None and content:
            # An observation answering no action (e.g. an agent error): the model saw it.
            self.messages.append(Message(role="user", content=content, interrupt=str(kind)))
        else:
            self.dropped += 1


def _thought(args: dict[str, Any], n: int) -> str:
    thought = args.get("thought")
    if thought is None:
        return ""
    if not isinstance(thought, str):
        raise fail(f"history event {n} thought must be a string, got {type_name(thought)}")
    return thought


def _response_text(response: dict[str, Any]) -> str:
    try:
        content = response["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""
    return content if isinstance(content, str) else ""


def _arguments(response: dict[str, Any], call_id: str, args: dict[str, Any]) -> tuple[Any, bool]:
    """The arguments the model wrote (from the raw response) if kept, else the event's args."""
    try:
        calls = response["choices"][0]["message"]["tool_calls"] or []
    except (KeyError, IndexError, TypeError):
        calls = []
    for call in calls:
        if isinstance(call, dict) and call.get("id") == call_id:
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            return parse_arguments(function.get("arguments"))
    return {k: v for k, v in args.items() if k not in _NOT_ARGUMENTS}, True


def _exit_code(event: dict[str, Any]) -> int | None:
    extras = event.get("extras") if isinstance(event.get("extras"), dict) else {}
    metadata = extras.get("metadata") if isinstance(extras.get("metadata"), dict) else {}
    for code in (metadata.get("exit_code"), extras.get("exit_code"), event.get("exit_code")):
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


def _instance_id(record: dict[str, Any]) -> str | None:
    instance_id = record.get("instance_id")
    if isinstance(instance_id, str) and instance_id:
        return instance_id
    issue = record.get("issue")
    if isinstance(issue, dict) and all(k in issue for k in ("owner", "repo", "number")):
        return f"{issue['owner']}/{issue['repo']}#{issue['number']}"
    return None


def _outcome(record: dict[str, Any]) -> Outcome:
    test_result = record.get("test_result")
    report = test_result.get("report") if isinstance(test_result, dict) else None
    if isinstance(report, dict) and report.get("resolved") is not None:
        resolved = as_bool(report["resolved"], "test_result.report.resolved")
        return Outcome(
            status="resolved" if resolved else "unresolved",
            source="in-file:test_result.report.resolved",
        )
    if record.get("success") is not None:
        return Outcome(details={"success": record["success"], "success_judged_by": "llm"})
    return Outcome()


def _metadata(record: dict[str, Any], dropped: int) -> Metadata:
    run_metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    llm_config = run_metadata.get("llm_config")
    llm_config = llm_config if isinstance(llm_config, dict) else {}
    metrics = record.get("metrics") if isinstance(record.get("metrics"), dict) else {}
    test_result = record.get("test_result") if isinstance(record.get("test_result"), dict) else {}
    patch = record.get("git_patch") or test_result.get("git_patch")
    error = record.get("error")
    extra: dict[str, Any] = {"dropped_events": dropped}
    if isinstance(run_metadata.get("agent_class"), str):
        extra["agent_class"] = run_metadata["agent_class"]
    return Metadata(
        model=optional_str(llm_config.get("model"), "metadata.llm_config.model"),
        exit_status=f"error: {error}" if error else None,
        patch=optional_str(patch, "git_patch") or None,
        cost=optional_float(metrics.get("accumulated_cost"), "metrics.accumulated_cost"),
        extra=extra,
    )


FORMAT = OpenHands()
