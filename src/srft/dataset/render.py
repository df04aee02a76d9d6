"""Chat-template rendering of a trajectory, and where each assistant turn lands in the text.

The masks are only as right as the spans they come from, so this module answers one question
exactly: for the text the tokenizer's own chat template produces for the *whole* conversation,
which characters did the model generate in each assistant turn? That is the part from the end
of the assistant header (the template's generation prompt, e.g. `<|im_start|>assistant\\n`)
to the end of the turn's end-of-turn marker (e.g. `<|im_end|>`), whatever the template put in
between: reasoning it kept, tool calls in its own syntax, content it stripped.

Why not render the prefix once per turn and diff (the common approach)? It is quadratic in the
number of turns, and wrong for templates that rewrite history: Qwen3 drops the `<think>` block
of assistant turns before the last user query, so the prefix rendering of turn k differs from
what the full conversation shows for turn k. Here the conversation is rendered once and the
assistant parts are found by a forward scan of that one string, anchored on each message's own
text, so the cost is linear and the spans are those of the text actually trained on.

What the template supports (tool calls, a `tool` role, reasoning, tool schemas) is probed once
per template with sentinel messages. Whatever it does not render is written as text (see
`docs/dataset.md`, "Rendering"), so no tool call or observation is ever silently lost.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srft.corpus.model import Message, Trajectory

# Sentinels for probing a template; chosen so no real template or tokenizer emits them.
_PROBE_TEXT = "srftprobeuser"
_PROBE_ANSWER = "srftprobeanswer"
_PROBE_TOOL_NAME = "srft_probe_tool"
_PROBE_OBSERVATION = "srftprobeobservation"
_PROBE_REASONING = "srftprobereasoning"
_PROBE_SCHEMA_NAME = "srft_probe_schema"


class RenderError(ValueError):
    """A trajectory the template cannot render, or whose assistant turns cannot be located."""


@dataclass(frozen=True)
class TemplateFeatures:
    """What a chat template renders natively, and the text that frames an assistant turn.

    `header` is the generation prompt (what precedes every assistant turn's generated text);
    `end_of_turn` is the text the model emits to end its turn (through the first special token
    after the content), empty when the template has none.
    """

    tool_calls: bool
    tool_role: bool
    reasoning: bool
    tools: bool
    header: str
    end_of_turn: str


@dataclass(frozen=True)
class AssistantPart:
    """The characters `[start, end)` of the rendered text that the model generated in a turn.

    `step` is the trajectory's step index, or None for a demonstration turn (never trained).
    """

    message: int
    step: int | None
    start: int
    end: int


@dataclass(frozen=True)
class Rendering:
    """The rendered text of one trajectory, its assistant parts, and where each step begins."""

    text: str
    parts: list[AssistantPart]
    step_starts: list[int]  # char index of each step's assistant header (truncation points)
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None


def template_hash(template: str) -> str:
    """sha256 of a chat template's source: the manifest records which template built a set."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def load_template_file(path: Path) -> str:
    """A chat template from a file: raw Jinja, or a JSON object with a `chat_template` field."""
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise RenderError(f"{path}: not valid JSON: {e}") from e
        if not isinstance(data, dict) or not isinstance(data.get("chat_template"), str):
            raise RenderError(f"{path}: no string `chat_template` field")
        return data["chat_template"]
    return text


class ChatRenderer:
    """Renders trajectories with one tokenizer's chat template (or an override) and locates
    the assistant parts; see the module docstring for why this is exact and linear."""

    def __init__(self, tokenizer: Any, chat_template: str | None = None) -> None:
        template = chat_template if chat_template is not None else tokenizer.chat_template
        if isinstance(template, dict):  # tokenizers with named templates: use the default one
            template = template.get("default")
        if not template:
            raise RenderError(
                "the tokenizer has no chat template; pass one with --chat-template FILE"
            )
        self.tokenizer = tokenizer
        self.template: str = template
        self.special_tokens = _special_token_strings(tokenizer)
        self._special = re.compile(
            "|".join(re.escape(t) for t in sorted(self.special_tokens, key=len, reverse=True))
            or "(?!)"
        )
        self.features = self._probe()

    # -- rendering ---------------------------------------------------------------------------

    def apply(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        add_generation_prompt: bool = False,
    ) -> str:
        """The template's text for `messages` (no tokenization)."""
        return self.tokenizer.apply_chat_template(
            messages,
            tools=tools,
            chat_template=self.template,
            add_generation_prompt=add_generation_prompt,
            tokenize=False,
        )

    def template_messages(
        self, trajectory: Trajectory
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """The trajectory as chat-template messages (and tool schemas), using the template's
        native tool calls, tool role and reasoning where it has them and text otherwise."""
        f = self.features
        messages = [_template_message(m, f) for m in trajectory.messages]
        tools = trajectory.tools or None
        if tools and not f.tools:
            # The template ignores `tools=`: describe them in the system message instead, so
            # the model still sees the schemas it was calling.
            listing = "\n".join(json.dumps(t, ensure_ascii=False, sort_keys=True) for t in tools)
            block = f"# Tools\n\n{listing}"
            if messages and messages[0]["role"] == "system":
                messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n\n{block}"}
            else:
                messages.insert(0, {"role": "system", "content": block})
            tools = None
        return messages, tools

    def render(self, trajectory: Trajectory) -> Rendering:
        """Render the whole trajectory once and locate every assistant part in the text."""
        messages, tools = self.template_messages(trajectory)
        try:
            text = self.apply(messages, tools)
        except Exception as e:  # jinja raises its own error types (e.g. raise_exception)
            raise RenderError(f"trajectory {trajectory.id!r}: the chat template failed: {e}") from e
        offset = len(messages) - len(trajectory.messages)  # a system message we inserted
        step_of = {s.assistant + offset: s.index for s in trajectory.steps}
        parts, starts = self._locate(trajectory.id, text, messages, step_of)
        return Rendering(text=text, parts=parts, step_starts=starts, messages=messages, tools=tools)

    # -- locating assistant parts ------------------------------------------------------------

    def _locate(
        self,
        trajectory_id: str,
        text: str,
        messages: list[dict[str, Any]],
        step_of: dict[int, int],
    ) -> tuple[list[AssistantPart], list[int]]:
        """Forward scan of `text`: each assistant part starts right after the next assistant
        header and ends at the first end-of-turn after the message's own text. Each message's
        text is skipped over as it is found, so headers or end markers quoted inside content
        (a trajectory about chat templates) are not mistaken for structure."""
        header, eot = self.features.header, self.features.end_of_turn
        parts: list[AssistantPart] = []
        starts: list[int] = []
        cursor = 0
        for i, message in enumerate(messages):
            step = step_of.get(i)
            where = f"trajectory {trajectory_id!r}, " + (
                f"step {step}" if step is not None else f"message {i}"
            )
            if message["role"] != "assistant":
                anchor = (message.get("content") or "").strip()
                if anchor:
                    found = text.find(anchor, cursor)
                    if found >= 0:
                        cursor = found + len(anchor)
                continue
            h = text.find(header, cursor)
            if h < 0:
                raise RenderError(
                    f"{where}: the assistant header {header!r} is not in the rendering"
                )
            start = h + len(header)
            end = start
            for anchor in _anchors(message):
                found = text.find(anchor, end)
                if found < 0:
                    raise RenderError(
                        f"{where}: the template's rendering of the turn does not contain "
                        f"{_clip(anchor)!r}; the template rewrites it in a way srft cannot map"
                    )
                end = found + len(anchor)
            if eot:
                # The turn ends with the first special token after its text: usually the
                # probed end-of-turn, but a template may close some turns differently (Llama
                # 3.1 ends built-in tool calls with <|eom_id|>, not <|eot_id|>).
                m = self._special.search(text, end)
                if m is None:
                    raise RenderError(f"{where}: no end-of-turn {eot!r} after the turn's text")
                end = m.end()
            if text.find(header, start, end) >= 0 and header not in _body(message):
                raise RenderError(f"{where}: the turn's span contains another assistant header")
            parts.append(AssistantPart(message=i, step=step, start=start, end=end))
            if step is not None:
                starts.append(h)
            cursor = end
        return parts, starts

    # -- probing -----------------------------------------------------------------------------

    def _probe(self) -> TemplateFeatures:
        """Find out once what the template renders, by rendering sentinel conversations."""
        user = {"role": "user", "content": _PROBE_TEXT}
        try:
            prompt = self.apply([user])
            with_header = self.apply([user], add_generation_prompt=True)
            answered = self.apply([user, {"role": "assistant", "content": _PROBE_ANSWER}])
        except Exception as e:
            raise RenderError(
                f"the chat template cannot render a user/assistant exchange: {e}"
            ) from e
        if not with_header.startswith(prompt) or len(with_header) == len(prompt):
            raise RenderError(
                "the chat template has no generation prompt (add_generation_prompt adds nothing), "
                "so assistant turns cannot be located"
            )
        header = with_header[len(prompt) :]
        if header not in answered:
            raise RenderError(
                f"the chat template's generation prompt {header!r} does not precede assistant turns"
            )
        after = answered[answered.index(_PROBE_ANSWER) + len(_PROBE_ANSWER) :]
        eot = self._end_of_turn(after)

        call = {
            "id": "call_srft_probe",
            "type": "function",
            "function": {"name": _PROBE_TOOL_NAME, "arguments": {"x": 1}},
        }
        tool_calls = self._renders(
            [user, {"role": "assistant", "content": "", "tool_calls": [call]}], _PROBE_TOOL_NAME
        )
        caller = {"role": "assistant", "content": "a", "tool_calls": [call] if tool_calls else []}
        observation = {
            "role": "tool",
            "content": _PROBE_OBSERVATION,
            "tool_call_id": "call_srft_probe",
            "name": _PROBE_TOOL_NAME,
        }
        tool_role = self._renders([user, caller, observation], _PROBE_OBSERVATION)
        reasoning = self._renders(
            [user, {"role": "assistant", "content": "a", "reasoning_content": _PROBE_REASONING}],
            _PROBE_REASONING,
        )
        schema = {
            "type": "function",
            "function": {
                "name": _PROBE_SCHEMA_NAME,
                "description": "probe",
                "parameters": {"type": "object", "properties": {}},
            },
        }
        tools = self._renders([user], _PROBE_SCHEMA_NAME, tools=[schema])
        return TemplateFeatures(
            tool_calls=tool_calls,
            tool_role=tool_role,
            reasoning=reasoning,
            tools=tools,
            header=header,
            end_of_turn=eot,
        )

    def _renders(
        self, messages: list[dict[str, Any]], sentinel: str, tools: list | None = None
    ) -> bool:
        try:
            return sentinel in self.apply(messages, tools)
        except Exception:
            return False  # a template that rejects the feature does not support it

    def _end_of_turn(self, after: str) -> str:
        """The text after an assistant's content through the first special token in it.

        The separator that may follow (a newline before the next header) is not generated by
        the model at inference, so it is not part of the turn. Without any special token, the
        template has no end-of-turn marker and the turn ends with its content.
        """
        best = -1
        best_token = ""
        for token in self.special_tokens:
            at = after.find(token)
            if at >= 0 and (best < 0 or at < best or (at == best and len(token) > len(best_token))):
                best, best_token = at, token
        if best < 0:
            return ""
        return after[: best + len(best_token)]

    def describe(self) -> dict[str, Any]:
        """The template's identity and features, for the build manifest."""
        return {"sha256": template_hash(self.template), "features": asdict(self.features)}


# -- messages -------------------------------------------------------------------------------


def tool_call_text(name: str, arguments: Any) -> str:
    """The text rendering of one tool call (the Hermes / Qwen2.5 `<tool_call>` form)."""
    payload = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{payload}\n</tool_call>"


def observation_text(content: str) -> str:
    """The text rendering of a tool result, for templates without a `tool` role."""
    return f"<tool_response>\n{content}\n</tool_response>"


def reasoning_text(reasoning: str) -> str:
    """The text rendering of reasoning, for templates that do not render `reasoning_content`."""
    return f"<think>\n{reasoning}\n</think>"


def _template_message(message: Message, f: TemplateFeatures) -> dict[str, Any]:
    if message.role == "assistant":
        content = message.content
        out: dict[str, Any] = {"role": "assistant"}
        if message.reasoning:
            if f.reasoning:
                out["reasoning_content"] = message.reasoning
            else:
                content = _join(reasoning_text(message.reasoning), content, sep="\n\n")
        if message.tool_calls:
            if f.tool_calls:
                out["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in message.tool_calls
                ]
            else:
                calls = "\n".join(tool_call_text(c.name, c.arguments) for c in message.tool_calls)
                content = _join(content, calls, sep="\n")
        out["content"] = content
        return {"role": "assistant", "content": out.pop("content"), **out}
    if message.role == "tool":
        if f.tool_role:
            out = {"role": "tool", "content": message.content}
            if message.tool_call_id:
                out["tool_call_id"] = message.tool_call_id
            if message.name:
                out["name"] = message.name
            return out
        return {"role": "user", "content": observation_text(message.content)}
    return {"role": message.role, "content": message.content}


def _join(first: str, second: str, *, sep: str) -> str:
    if first and second:
        return f"{first}{sep}{second}"
    return first or second


def _body(message: dict[str, Any]) -> str:
    return (message.get("content") or "") + (message.get("reasoning_content") or "")


def _anchors(message: dict[str, Any]) -> list[str]:
    """Texts that must appear, in order, inside an assistant turn's rendering: its content
    (stripped: templates often trim) and the names of its native tool calls. Reasoning is not
    an anchor: history-rewriting templates legitimately drop it from earlier turns."""
    anchors = []
    content = (message.get("content") or "").strip()
    if content:
        anchors.append(content)
    for call in message.get("tool_calls") or []:
        anchors.append(call["function"]["name"])
    return anchors


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _special_token_strings(tokenizer: Any) -> list[str]:
    tokens = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for added in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
        if getattr(added, "special", False):
            tokens.add(str(added))
    return sorted(t for t in tokens if t)
