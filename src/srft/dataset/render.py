"""Chat-template rendering of a trajectory, and where each assistant turn lands in the text.

The masks are only as right as the spans they come from, so this module answers one question
exactly: for the text the chat template produces for the *whole* conversation, which characters
did the model generate in each assistant turn? That is the part from where generation starts
(after the template's lead into the turn, e.g. `<|im_end|>\\n<|im_start|>assistant\\n` after a
user message, `[/INST]` for Mistral, `<｜tool▁outputs▁end｜>` for DeepSeek after tool outputs)
through the stop token that ends the turn as the model emits it (`<|im_end|>`, `<|call|>`,
GLM's `<|observation|>`), whatever the template put in between. `template.py` finds both per
template, independent of which tokens the tokenizer marks special.

Why not render the prefix once per turn and diff (the common approach)? It is quadratic in the
number of turns, and wrong for templates that rewrite history: Qwen3 drops the `<think>` block
of assistant turns before the last user query, so the prefix rendering of turn k differs from
what the full conversation shows for turn k. Here the conversation is rendered once and the
assistant parts are found by a forward scan of that one string, anchored on each message's own
text (its content, every tool call's name and argument values), so the cost is linear and the
spans are those of the text actually trained on.

The conversation is first adapted to what the template can express (`docs/dataset.md`,
"Rendering"): a turn with several calls or content beside a call becomes several turns where the
template renders only one; arguments, call ids and `content` take the form the template needs;
a system message is merged into the first user turn where there is no system role. No call,
observation or content is silently lost: every turn is checked for them (`check_turn`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srft.dataset.template import (
    KNOWN_END_TOKENS,
    Prober,
    TemplateError,
    TemplateFeatures,
    alnum9,
)
from srft.files.corpus import Message, ToolCall, Trajectory


class RenderError(ValueError):
    """A trajectory the template cannot render, or whose assistant turns cannot be located."""


@dataclass(frozen=True)
class AssistantPart:
    """The characters `[start, end)` of the rendered text that the model generated in a turn.

    `step` is the trajectory's step index, or None for a demonstration turn (never trained); a
    step the template cannot express as one turn has several parts. `lead` is the text just
    before `start`, `end_token` the stop token the part ends with ("" if none).
    """

    message: int
    step: int | None
    start: int
    end: int
    lead: str
    end_token: str


@dataclass(frozen=True)
class Rendering:
    """The rendered text of one trajectory, its assistant parts, and where each step begins."""

    text: str
    parts: list[AssistantPart]
    step_starts: list[int]  # char index where each step's turn is prompted (truncation points)
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    reasoning_total: int = 0  # assistant turns with reasoning
    reasoning_dropped: int = 0  # ... whose reasoning the template left out of the trained text
    dropped_steps: tuple[int, ...] = ()  # the steps of those turns


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


def generation_stop_tokens(tokenizer: Any, folder: str | Path | None) -> list[str]:
    """The stop tokens of a model folder's `generation_config.json` (what vLLM stops on)."""
    if folder is None:
        return []
    file = Path(folder) / "generation_config.json"
    if not file.is_file():
        return []
    try:
        ids = json.loads(file.read_text(encoding="utf-8")).get("eos_token_id")
    except (OSError, json.JSONDecodeError):
        return []
    ids = [ids] if isinstance(ids, int) else [i for i in ids or [] if isinstance(i, int)]
    return [t for t in tokenizer.convert_ids_to_tokens(ids) if t]


class ChatRenderer:
    """Renders trajectories with one tokenizer's chat template (or an override) and locates
    the assistant parts; see the module docstring for why this is exact and linear.

    `end_of_turn` are the user's stop tokens (`--end-of-turn`), `model_folder` the folder whose
    `generation_config.json` stop ids count too.
    """

    def __init__(
        self,
        tokenizer: Any,
        chat_template: str | None = None,
        *,
        end_of_turn: list[str] | tuple[str, ...] = (),
        model_folder: str | Path | None = None,
    ) -> None:
        template = chat_template if chat_template is not None else tokenizer.chat_template
        if isinstance(template, dict):  # tokenizers with named templates: use the default one
            template = template.get("default")
        if not template:
            raise RenderError(
                "the tokenizer has no chat template; pass one with --chat-template FILE"
            )
        self.tokenizer = tokenizer
        self.template: str = template
        special = _special_token_strings(tokenizer)
        # Declared stop tokens end a turn wherever they occur: the user's, the model folder's,
        # EOS, and the known end-of-turn markers this tokenizer has as special tokens (a turn
        # may end with one the probe did not meet, as Llama 3.1 ends built-in calls with
        # <|eom_id|>).
        stops = [
            *end_of_turn,
            *generation_stop_tokens(tokenizer, model_folder),
            getattr(tokenizer, "eos_token", None) or "",
            *(t for t in KNOWN_END_TOKENS if t in special),
        ]
        prober = Prober(lambda m, t, g: self.apply(m, t, add_generation_prompt=g), stops, special)
        try:
            self.features: TemplateFeatures = prober.probe()
        except TemplateError as e:
            raise RenderError(str(e)) from e
        except Exception as e:  # a probe the template fails in an unforeseen way
            raise RenderError(f"the chat template failed while srft probed it: {e}") from e
        self._end_tokens = self.features.end_tokens

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
        """The trajectory as chat-template messages (and tool schemas), adapted to the template."""
        messages, tools, _ = self.adapt(trajectory)
        return messages, tools

    def adapt(
        self, trajectory: Trajectory
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, list[int | None]]:
        """Template messages, tool schemas, and for each message the trajectory message it
        comes from (None for one srft inserted)."""
        return _Adapter(self.features, trajectory).run()

    def render(self, trajectory: Trajectory) -> Rendering:
        """Render the whole trajectory once and locate every assistant part in the text."""
        messages, tools, origin = self.adapt(trajectory)
        try:
            text = self.apply(messages, tools)
        except Exception as e:  # jinja raises its own error types (e.g. raise_exception)
            raise RenderError(f"trajectory {trajectory.id!r}: the chat template failed: {e}") from e
        step_of = {s.assistant: s.index for s in trajectory.steps}
        steps = [step_of.get(o) if o is not None else None for o in origin]
        parts, starts = self._locate(trajectory.id, text, messages, steps)
        total, dropped_steps = _reasoning_dropped(trajectory, text, parts, origin)
        return Rendering(
            text=text,
            parts=parts,
            step_starts=starts,
            messages=messages,
            tools=tools,
            reasoning_total=total,
            reasoning_dropped=len(dropped_steps),
            dropped_steps=tuple(s for s in dropped_steps if s is not None),
        )

    # -- locating assistant parts ------------------------------------------------------------

    def _locate(
        self,
        trajectory_id: str,
        text: str,
        messages: list[dict[str, Any]],
        steps: list[int | None],
    ) -> tuple[list[AssistantPart], list[int]]:
        """Forward scan of `text`: each assistant part starts right after its lead and ends
        with the first stop token after the message's own text. Each message's text is skipped
        over as it is found, so headers or end markers quoted inside content (a trajectory
        about chat templates) are not mistaken for structure."""
        parts: list[AssistantPart] = []
        starts: list[int] = []
        seen_steps: set[int] = set()
        cursor = 0
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                cursor = _past_context(text, message, cursor)
                continue
            step = steps[i]
            where = f"trajectory {trajectory_id!r}, " + (
                f"step {step}" if step is not None else f"message {i}"
            )
            lead, prompted, start = self._turn_start(where, text, messages, i, cursor)
            end, end_token = self._turn_end(where, text, messages, i, start)
            parts.append(
                AssistantPart(
                    message=i, step=step, start=start, end=end, lead=lead, end_token=end_token
                )
            )
            if step is not None and step not in seen_steps:
                seen_steps.add(step)
                header = self.features.header
                at = prompted
                starts.append(at - len(header) if header and text.endswith(header, 0, at) else at)
            cursor = end
        return parts, starts

    def _turn_start(
        self, where: str, text: str, messages: list[dict[str, Any]], i: int, cursor: int
    ) -> tuple[str, int, int]:
        """(lead, where the generation prompt ends, where the trained turn starts) of
        assistant message i, the first at or after `cursor`."""
        f = self.features
        previous = self._lead_key(messages, i)
        lead = f.leads.get(previous, f.header)
        if not lead and previous not in f.leads:
            raise RenderError(
                f"{where}: the template has no assistant header and srft found no text that "
                f"leads into an assistant turn after a {previous} message"
            )
        # an empty lead: the turn starts right after the previous one's stop token
        h = text.find(lead, cursor)
        if h < 0:
            raise RenderError(f"{where}: the turn's lead {lead!r} is not in the rendering")
        start = prompted = h + len(lead)
        if f.prompt_opens and text.startswith(f.prompt_opens, start):
            # what the generation prompt opens (QwQ's `<think>\n`) is prompt at inference
            start += len(f.prompt_opens)
            lead += f.prompt_opens
        return lead, prompted, start

    def _turn_end(
        self, where: str, text: str, messages: list[dict[str, Any]], i: int, start: int
    ) -> tuple[int, str]:
        """(end, the stop token it ends with, or "") of assistant message i's turn, which
        starts at `start`: the first stop token after the message's own text."""
        message = messages[i]
        end = start
        for anchor in turn_anchors(message):
            found = _find_any(text, anchor, end)
            if found is None:
                raise RenderError(
                    f"{where}: the template's rendering of the turn does not contain "
                    f"{_clip(anchor[0])!r}; the template drops or rewrites it"
                )
            end = found
        limit = self._next_anchor(text, messages, i + 1, end)
        m = _earliest_in(text, self._end_tokens, end, limit)
        if m is not None:
            return m[0] + len(m[1]), m[1]
        required = self._required_end(message, messages[i + 1] if i + 1 < len(messages) else None)
        if required:
            raise RenderError(f"{where}: no end-of-turn {required!r} after the turn's text")
        if i + 1 == len(messages):
            # No stop token (GLM's last turn): the turn is all the template wrote for it,
            # closing syntax included (`</tool_call>`).
            return max(end, len(text.rstrip())), ""
        if messages[i + 1]["role"] == "assistant" and limit < len(text):
            return max(end, limit), ""  # ... up to the next turn's lead
        return end, ""

    def _next_anchor(self, text: str, messages: list[dict[str, Any]], i: int, cursor: int) -> int:
        """Where the next message's own text starts: a turn's stop token lies before it."""
        if i >= len(messages):
            return len(text)
        message = messages[i]
        if message["role"] == "assistant":
            previous = self._lead_key(messages, i)
            lead = self.features.leads.get(previous, self.features.header)
            if not lead:
                return len(text)
            found = text.find(lead, cursor)
            return len(text) if found < 0 else found
        for anchor in _context_anchors(message):
            found = text.find(anchor, cursor)
            if found >= 0:
                return found
        return len(text)

    def _lead_key(self, messages: list[dict[str, Any]], i: int) -> str:
        """Which lead opens assistant message i: the previous message's role, and for a
        tool-call turn after a tool result its own (`tool:call`) where the template has one."""
        previous = messages[i - 1]["role"] if i else "system"
        if messages[i].get("tool_calls") and f"{previous}:call" in self.features.leads:
            return f"{previous}:call"
        return previous

    def _required_end(self, message: dict[str, Any], following: dict[str, Any] | None) -> str:
        f = self.features
        if following is None:
            return f.end_last
        if following["role"] == "tool" and message.get("tool_calls"):
            return f.end_call
        if following["role"] == "user":
            return f.end_text if not message.get("tool_calls") else ""
        return ""

    def describe(self) -> dict[str, Any]:
        """The template's identity and features, for the build manifest."""
        return {"sha256": template_hash(self.template), "features": self.features.to_dict()}


def _reasoning_dropped(
    trajectory: Trajectory, text: str, parts: list[AssistantPart], origin: list[int | None]
) -> tuple[int, list[int | None]]:
    """(assistant turns with reasoning, the step of each whose reasoning the template left out
    of the turn's text): history-rewriting templates drop earlier turns' reasoning."""
    total = 0
    dropped: list[int | None] = []
    first: dict[int | None, int] = {}
    for i, o in enumerate(origin):
        first.setdefault(o, i)
    for part in parts:
        source = trajectory.messages[origin[part.message]]  # type: ignore[index]
        # a turn split in several: its reasoning goes with the first
        if (
            source.reasoning
            and source.reasoning.strip()
            and part.message == first[origin[part.message]]
        ):
            total += 1
            kept = text[part.start : part.end]
            if not all(line.strip() in kept for line in source.reasoning.strip().splitlines()):
                dropped.append(part.step)
    return total, dropped


def _past_context(text: str, message: dict[str, Any], cursor: int) -> int:
    """Where the scan goes on after a non-assistant message: past the first of its anchors
    found at or after `cursor` (unmoved when none is)."""
    for anchor in _context_anchors(message):
        found = text.find(anchor, cursor)
        if found >= 0:
            return found + len(anchor)
    return cursor


# -- checking a trained turn ------------------------------------------------------------------


def check_turn(
    text: str, message: dict[str, Any], end_token: str, end_tokens: tuple[str, ...]
) -> str | None:
    """What a turn's trained text lacks, or None: it must end with a stop token of the template
    (when the part has one), and hold the message's content and every tool call's name and
    argument values as the template writes them. Run on the decoded tokens, independently of
    how the span was found, so a wrong span cannot pass."""
    if end_token:
        if end_token not in end_tokens:
            return (
                f"the turn ends with {end_token!r}, which is no end-of-turn token of the template"
            )
        if not text.endswith(end_token):
            return f"the turn does not end with its end-of-turn token {end_token!r}"
    position = 0
    for forms in turn_anchors(message):
        found = _find_any(text, forms, position)
        if found is None:
            return f"the trained text lacks {_clip(forms[0])!r}"
        position = found
    return None


def turn_anchors(message: dict[str, Any]) -> list[tuple[str, ...]]:
    """Texts that must appear, in order, in an assistant turn: its content (stripped: templates
    often trim), then each native tool call's name and argument values, each in the forms a
    template may write it (raw, JSON-escaped once or twice). Reasoning is not an anchor:
    history-rewriting templates legitimately drop it from earlier turns, also when it is written
    in the content as `<think>...</think>` (QwQ and R1 strip content up to `</think>`)."""
    anchors: list[tuple[str, ...]] = []
    content = message.get("content") or ""
    if "</think>" in content:
        content = content.rsplit("</think>", 1)[1]
    content = content.strip()
    if content:
        anchors.append((content,))
    for call in message.get("tool_calls") or []:
        function = call["function"]
        anchors.append((function["name"],))
        arguments = function["arguments"]
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                anchors.append(_forms(arguments))
                continue
        values = arguments.values() if isinstance(arguments, dict) else [arguments]
        for value in values:
            if isinstance(value, str):
                if value.strip():
                    anchors.append(_forms(value.strip()))
            else:
                anchors.append(_forms(json.dumps(value, ensure_ascii=False)))
    return anchors


def _forms(value: str) -> tuple[str, ...]:
    once = json.dumps(value, ensure_ascii=False)[1:-1]
    twice = json.dumps(once, ensure_ascii=False)[1:-1]
    ascii_once = json.dumps(value)[1:-1]
    # Pythonic call syntax (LFM2 writes '...' with \\, ', newlines escaped)
    quoted = (
        value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    )
    return tuple(dict.fromkeys((value, once, twice, ascii_once, quoted)))


def _find_any(text: str, forms: tuple[str, ...], start: int) -> int | None:
    """End of the earliest occurrence of any form at or after `start`."""
    best: tuple[int, int] | None = None
    for form in forms:
        at = text.find(form, start)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, at + len(form))
    return None if best is None else best[1]


def _earliest_in(
    text: str, tokens: tuple[str, ...], start: int, limit: int
) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for token in tokens:
        at = text.find(token, start, limit)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, token)
    return best


def _context_anchors(message: dict[str, Any]) -> list[str]:
    content = (message.get("content") or "").strip()
    if not content:
        return []
    return list(dict.fromkeys((content, json.dumps(content, ensure_ascii=False)[1:-1])))


# -- adapting a conversation to the template ---------------------------------------------------


def tool_call_text(name: str, arguments: Any) -> str:
    """The text rendering of one tool call (the Hermes / Qwen2.5 `<tool_call>` form)."""
    payload = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{payload}\n</tool_call>"


def observation_text(content: str) -> str:
    """The text rendering of a tool result, for templates without a `tool` role."""
    return f"<tool_response>\n{content}\n</tool_response>"


def reasoning_text(reasoning: str) -> str:
    """The text rendering of reasoning, for templates that do not render a reasoning field."""
    return f"<think>\n{reasoning}\n</think>"


class _Adapter:
    """One trajectory's messages in the form the template can express (see module doc)."""

    def __init__(self, features: TemplateFeatures, trajectory: Trajectory) -> None:
        self.f = features
        self.trajectory = trajectory
        self.ids: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.out: list[dict[str, Any]] = []
        self.origin: list[int | None] = []

    def run(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, list[int | None]]:
        f, messages = self.f, self.trajectory.messages
        i = 0
        while i < len(messages):
            m = messages[i]
            if m.role == "assistant" and f.tool_calls and self._splits_calls(m):
                j = i + 1
                while j < len(messages) and messages[j].role == "tool":
                    j += 1
                self._split_turn(i, list(range(i + 1, j)))
                i = j
                continue
            if m.role == "assistant":
                for piece in self._assistant(m):
                    self._emit(piece, i)
            elif m.role == "tool":
                self._emit(self._tool(m), i)
            else:
                self._emit({"role": m.role, "content": m.content}, i)
            i += 1
        tools = self._tools()
        self._system()
        if not f.consecutive_users:
            self._merge_users()
        return self.out, tools, self.origin

    def _emit(self, message: dict[str, Any], origin: int | None) -> None:
        self.out.append(message)
        self.origin.append(origin)

    def _splits_calls(self, m: Message) -> bool:
        many = len(m.tool_calls) > 1 and self.f.calls_per_message == "one"
        beside = bool(m.tool_calls and m.content.strip() and not self.f.content_with_calls)
        if beside and "assistant" not in self.f.leads:
            raise RenderError(
                f"trajectory {self.trajectory.id!r}: the chat template renders no content beside "
                "a tool call and does not accept two assistant turns in a row, so a turn with "
                "both cannot be expressed"
            )
        return many or beside

    def _assistant(self, m: Message) -> list[dict[str, Any]]:
        f = self.f
        content = m.content
        out: dict[str, Any] = {"role": "assistant"}
        if m.reasoning:
            if f.reasoning_field:
                out[f.reasoning_field] = m.reasoning
            else:
                content = _join(reasoning_text(m.reasoning), content, sep="\n\n")
        if m.tool_calls and f.tool_calls:
            out["tool_calls"] = [self._call(c, n) for n, c in enumerate(m.tool_calls)]
            if not content and f.call_content == "none":
                return [{"role": "assistant", "content": None, **out}]
        elif m.tool_calls:
            calls = "\n".join(tool_call_text(c.name, c.arguments) for c in m.tool_calls)
            content = _join(content, calls, sep="\n")
        return [{"role": "assistant", "content": content, **out}]

    def _split_turn(self, i: int, results: list[int]) -> None:
        """A turn the template cannot express as one: its content first (if the template
        drops content beside calls), then one turn per call (if it renders one call per
        message), each followed by its results, so every call keeps its observation."""
        m = self.trajectory.messages[i]
        rest = m
        if m.content.strip() and not self.f.content_with_calls:
            self._emit(self._assistant(m.model_copy(update={"tool_calls": []}))[0], i)
            rest = m.model_copy(update={"content": "", "reasoning": None})
        one = self.f.calls_per_message == "one"
        groups = [[c] for c in m.tool_calls] if one else [list(m.tool_calls)]
        pending = list(results)
        for n, group in enumerate(groups):
            piece = rest.model_copy(update={"tool_calls": group})
            if n:
                piece = piece.model_copy(update={"content": "", "reasoning": None})
            self._emit(self._assistant(piece)[0], i)
            ids = {c.id for c in group if c.id}
            mine = [r for r in pending if self.trajectory.messages[r].tool_call_id in ids]
            if not mine and pending and len(groups) > 1:
                mine = pending[:1]  # results without ids answer the calls in order
            for r in mine:
                pending.remove(r)
                self._emit(self._tool(self.trajectory.messages[r]), r)
        for r in pending:
            self._emit(self._tool(self.trajectory.messages[r]), r)

    def _call(self, c: ToolCall, n: int) -> dict[str, Any]:
        f = self.f
        arguments: Any = c.arguments
        if f.arguments == "mapping" and isinstance(arguments, str):
            # not JSON: the template then sees a string; check_turn finds it or it is rejected
            with contextlib.suppress(json.JSONDecodeError):
                arguments = json.loads(arguments)
        elif f.arguments == "json" and not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        cid = c.id or f"call_{len(self.ids)}_{n}"
        if f.call_ids == "alnum9":
            cid = self.ids.setdefault(cid, alnum9(cid, len(self.ids)))
        else:
            self.ids.setdefault(cid, cid)
        if c.id:
            self.names[c.id] = c.name
        return {"id": cid, "type": "function", "function": {"name": c.name, "arguments": arguments}}

    def _tool(self, m: Message) -> dict[str, Any]:
        if not self.f.tool_role:
            return {"role": "user", "content": observation_text(m.content)}
        out: dict[str, Any] = {"role": "tool", "content": m.content}
        if m.tool_call_id:
            out["tool_call_id"] = self.ids.get(m.tool_call_id, m.tool_call_id)
        name = m.name or self.names.get(m.tool_call_id or "")
        if name:
            out["name"] = name
        return out

    def _tools(self) -> list[dict[str, Any]] | None:
        f = self.f
        tools = self.trajectory.tools or None
        if tools and not f.tools:
            # The template ignores `tools=`: describe them in the system message instead, so
            # the model still sees the schemas it was calling.
            listing = "\n".join(json.dumps(t, ensure_ascii=False, sort_keys=True) for t in tools)
            block = f"# Tools\n\n{listing}"
            if self.out and self.out[0]["role"] == "system":
                self.out[0] = {**self.out[0], "content": f"{self.out[0]['content']}\n\n{block}"}
            else:
                self.out.insert(0, {"role": "system", "content": block})
                self.origin.insert(0, None)
            tools = None
        if tools is None and f.tools_required:
            names = dict.fromkeys(
                c["function"]["name"] for m in self.out for c in m.get("tool_calls") or []
            )
            tools = [
                {
                    "type": "function",
                    "function": {
                        "name": n,
                        "description": "",
                        "parameters": {"type": "object", "properties": {}},
                    },
                }
                for n in names
            ]
        return tools

    def _system(self) -> None:
        """Without a system role, system text opens the next user turn."""
        if self.f.system_role:
            return
        held: list[str] = []
        out, origin = [], []
        for message, o in zip(self.out, self.origin, strict=True):
            if message["role"] == "system":
                held.append(message["content"])
                continue
            if held and message["role"] == "user":
                message = {**message, "content": "\n\n".join([*held, message["content"]])}
                held = []
            out.append(message)
            origin.append(o)
        if held:
            out.insert(0, {"role": "user", "content": "\n\n".join(held)})
            origin.insert(0, None)
        self.out, self.origin = out, origin

    def _merge_users(self) -> None:
        out, origin = [], []
        for message, o in zip(self.out, self.origin, strict=True):
            if out and message["role"] == "user" and out[-1]["role"] == "user":
                out[-1] = {**out[-1], "content": f"{out[-1]['content']}\n\n{message['content']}"}
                continue
            out.append(message)
            origin.append(o)
        self.out, self.origin = out, origin


def _join(first: str, second: str, *, sep: str) -> str:
    if first and second:
        return f"{first}{sep}{second}"
    return first or second


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _special_token_strings(tokenizer: Any) -> list[str]:
    tokens = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for added in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
        if getattr(added, "special", False):
            tokens.add(str(added))
    return sorted(t for t in tokens if t)
