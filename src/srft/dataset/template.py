"""What a chat template does with a conversation, found by rendering sentinel conversations.

A loss mask is right only if each trained span is the model's own turn: from where generation
starts (the end of the generation prompt) through the token that ends the turn as the model
emits it at inference. Neither can be read off the tokenizer's list of special tokens: the same
template is then right or wrong depending on which tokens a tokenizer happens to mark special
(`<tool_call>` marked special made the first "special token" after a Qwen tool call its tag, not
`<|im_end|>`). So both are found here from the template itself, once per template:

- **where a turn starts**: for each role that can precede an assistant turn (user, tool,
  assistant, system), the *lead*: the text between that message's text and the first character
  the model generates. It ends with the part of the generation prompt that history turns carry
  (`header`, e.g. `<|im_start|>assistant\\n`); a template without one (Mistral's `[/INST]`,
  DeepSeek's turns after tool outputs) still has a lead. What the generation prompt adds beyond
  the header (`prompt_opens`, e.g. QwQ's `<think>\\n`) is prompt at inference and absent from
  history turns, so it is never trained.
- **which token ends a turn**: per kind of turn (a text answer followed by a user message, a
  tool call followed by its result, the conversation's last turn), the first *stop token* in
  the text the template writes after the turn. Stop tokens are the user's `--end-of-turn`
  values, the model folder's `generation_config.json` stop ids (what vLLM stops on), the
  tokenizer's EOS, and the end-of-turn markers of the families in `KNOWN_END_TOKENS`; only when
  none of them occurs does the first special token after the turn count (an unknown family).
  GLM ends a turn with the next role's token (`<|user|>`, `<|observation|>`), which the model
  generates: it is part of the turn even though the template writes it with the next message.
- **what the template can express**: tool calls, their arguments as a mapping or a JSON string,
  the call-id format, `content` None or empty beside a call, several calls per message, content
  beside a call, a `tool` role, a system role, consecutive user messages, reasoning fields,
  tool schemas, and whether it requires `tools=`. The renderer adapts the conversation to these
  (`render.py`), so no call, observation or content is lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Sentinels for probing a template; chosen so no real template or tokenizer emits them.
PROBE_SYSTEM = "srftprobesystem"
PROBE_USER = "srftprobeuser"
PROBE_USER2 = "srftprobeusertwo"
PROBE_ANSWER = "srftprobeanswer"
PROBE_ANSWER2 = "srftprobeanswertwo"
PROBE_CONTENT = "srftprobecontent"
PROBE_TOOL = "srft_probe_tool"
PROBE_TOOL2 = "srft_probe_tooltwo"
PROBE_VALUE = "srftprobevalue"
PROBE_VALUE2 = "srftprobevaluetwo"
PROBE_OBSERVATION = "srftprobeobservation"
PROBE_OBSERVATION2 = "srftprobeobservationtwo"
PROBE_REASONING = "srftprobereasoning"
PROBE_SCHEMA = "srft_probe_schema"
PROBE_ID = "call_srft_probe_1"
PROBE_ID2 = "call_srft_probe_2"

# End-of-turn markers as the model families emit them; the probe picks, per template, the first
# of these (with the user's and the model folder's stop tokens) that ends a turn. Listed by the
# marker, not the family, so a new family that reuses one needs nothing new.
KNOWN_END_TOKENS: tuple[str, ...] = (
    "<|im_end|>",  # ChatML: Qwen, SmolLM, Hermes, QwQ
    "<|eot_id|>",  # Llama 3.x
    "<|eom_id|>",  # Llama 3.1 built-in tool calls
    "<|end|>",  # Phi-3, gpt-oss (history turns)
    "<|return|>",  # gpt-oss final answer
    "<|call|>",  # gpt-oss tool call
    "<end_of_turn>",  # Gemma 1-3
    "<turn|>",  # Gemma 4
    "<|END_OF_TURN_TOKEN|>",  # Cohere
    "<｜end▁of▁sentence｜>",  # DeepSeek
    "<|user|>",  # GLM: a turn ends with the next role's token
    "<|observation|>",  # GLM: a tool-call turn ends here
    "<|endoftext|>",
    "<|end_of_text|>",
    "</s>",  # Llama 2, Mistral
)

# A 9-character alphanumeric call id, for templates that insist on them (Mistral).
ID9_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class TemplateError(ValueError):
    """A chat template srft cannot use; the message names the feature that failed."""


@dataclass(frozen=True)
class TemplateFeatures:
    """What a chat template renders and how it frames an assistant turn (see module doc).

    `leads` maps the role of the message before an assistant turn to the text between that
    message's text (or, for an assistant, the end of its turn) and the turn's first generated
    character. `end_text`, `end_call` and `end_last` are the stop tokens that end a text turn
    followed by a user message, a tool-call turn followed by its result, and the last turn of a
    conversation ("" when the template writes none).
    """

    header: str
    prompt_opens: str
    leads: dict[str, str]
    end_text: str
    end_call: str
    end_last: str
    stop_tokens: tuple[str, ...]
    system_role: bool
    tools_required: bool
    tools: bool
    tool_calls: bool
    tool_role: bool
    arguments: str  # "mapping" | "json": how tool-call arguments are passed to the template
    call_ids: str  # "any" | "alnum9"
    call_content: str  # "empty" | "none": `content` of an assistant message with only calls
    content_with_calls: bool  # content beside a call is rendered
    calls_per_message: str  # "many" | "one"
    consecutive_users: bool
    reasoning_field: str | None  # "reasoning_content" | "thinking" | None (written as text)
    notes: list[str] = field(default_factory=list)

    @property
    def reasoning(self) -> bool:
        """The template renders a reasoning field natively."""
        return self.reasoning_field is not None

    @property
    def end_tokens(self) -> tuple[str, ...]:
        """Every marker that may end a turn of this template, longest first."""
        found = {self.end_text, self.end_call, self.end_last, *self.stop_tokens} - {""}
        return tuple(sorted(found, key=lambda t: (-len(t), t)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for `build.json` and `srft template check`."""
        out = asdict(self)
        out["stop_tokens"] = list(self.stop_tokens)
        return out


def schema(name: str = PROBE_SCHEMA) -> dict[str, Any]:
    """A minimal OpenAI-style function schema."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": "probe",
            "parameters": {"type": "object", "properties": {"a": {"type": "string"}}},
        },
    }


class Prober:
    """Renders sentinel conversations with one template and derives its `TemplateFeatures`.

    `render(messages, tools, add_generation_prompt)` is the template's text; `declared` the
    stop tokens the user, the model folder and the tokenizer's EOS name (they always end a
    turn); `KNOWN_END_TOKENS` are candidates only where the probe finds them ending a turn;
    `special_tokens` the tokenizer's special tokens, the last resort for an unknown family.
    """

    def __init__(self, render: Any, declared: list[str], special_tokens: list[str]) -> None:
        self._render = render
        self.declared = tuple(dict.fromkeys(t for t in declared if t))
        self.stop_tokens = tuple(dict.fromkeys(t for t in (*self.declared, *KNOWN_END_TOKENS) if t))
        self.special_tokens = tuple(special_tokens)
        self.tools_required = False
        self.system_role = True
        self.notes: list[str] = []

    # -- rendering -------------------------------------------------------------------------

    def apply(
        self, messages: list[dict[str, Any]], tools: list | None = None, gen: bool = False
    ) -> str:
        """Render, passing a schema when the template requires tools."""
        if tools is None and self.tools_required:
            tools = [schema()]
        return self._render(messages, tools, gen)

    def tryapply(
        self, messages: list[dict[str, Any]], tools: list | None = None, gen: bool = False
    ) -> str | None:
        """The rendering, or None when the template raises (it rejects the feature)."""
        try:
            return self.apply(messages, tools, gen)
        except Exception:
            return None

    def base(self) -> list[dict[str, Any]]:
        """The conversation's opening: a system message if the template has a system role."""
        user = {"role": "user", "content": PROBE_USER}
        if self.system_role:
            return [{"role": "system", "content": PROBE_SYSTEM}, user]
        return [user]

    # -- the probe -------------------------------------------------------------------------

    def probe(self) -> TemplateFeatures:
        """Every feature, or a `TemplateError` naming the one the template cannot render."""
        answer = {"role": "assistant", "content": PROBE_ANSWER}
        self._opening(answer)
        base = self.base()
        header, prompt_opens, start, followed = self._generation_prompt(base, answer)
        leads, end_text, end_last = self._text_turns(base, answer, followed, start)
        tool_features = self._tool_features(base, leads)
        consecutive = self.tryapply([*base, {"role": "user", "content": PROBE_USER2}, answer])
        return TemplateFeatures(
            header=header,
            prompt_opens=prompt_opens,
            leads=leads,
            end_text=end_text,
            end_last=end_last,
            stop_tokens=self.declared,
            system_role=self.system_role,
            tools_required=self.tools_required,
            tools=PROBE_SCHEMA in (self.tryapply(base, tools=[schema()]) or ""),
            consecutive_users=consecutive is not None and PROBE_USER2 in consecutive,
            reasoning_field=self._reasoning_field(base),
            notes=self.notes,
            **tool_features,
        )

    def _generation_prompt(
        self, base: list[dict[str, Any]], answer: dict[str, Any]
    ) -> tuple[str, str, int, str]:
        """(header, prompt_opens, where the answer's turn starts in `followed`, `followed`:
        the answer rendered as a history turn, one a user message follows)."""
        # Templates that rewrite history (Qwen3.5 writes `<think>\n\n</think>\n\n` only after
        # the last user message) frame a history turn with less text than the latest turn,
        # and only what both share is the header.
        followed = self.apply([*base, answer, {"role": "user", "content": PROBE_USER2}])
        prompt = self.apply(base)
        with_prompt = self.apply(base, gen=True)
        start = min(_common_prefix(with_prompt, followed), followed.index(PROBE_ANSWER))
        shared = _common_prefix(prompt, with_prompt)
        header = with_prompt[shared:start] if shared <= start else ""
        prompt_opens = with_prompt[start:]
        if prompt_opens:
            self.notes.append(
                f"the generation prompt opens {prompt_opens!r}, which history turns lack: it is "
                "prompt at inference, so no trained span contains it"
            )
        if not header:
            self.notes.append(
                "no assistant header (the generation prompt adds nothing history turns carry): "
                "turns are found after the text that precedes them"
            )
        self.header = header
        return header, prompt_opens, start, followed

    def _text_turns(
        self, base: list[dict[str, Any]], answer: dict[str, Any], followed: str, start: int
    ) -> tuple[dict[str, str], str, str]:
        """The leads into an assistant turn after a user, an assistant and a system message,
        and the stop tokens that end a text answer (`end_text`) and the last turn (`end_last`)."""
        leads = {"user": self._lead(followed, PROBE_USER, start)}
        self.leads_user = leads["user"]
        after = followed.index(PROBE_ANSWER) + len(PROBE_ANSWER)
        end_text = self._stop(followed[after : followed.index(PROBE_USER2, after)])
        answered = self.apply([*base, answer])
        end_last = self._stop(answered[answered.index(PROBE_ANSWER) + len(PROBE_ANSWER) :])
        two = self.tryapply([*base, answer, {"role": "assistant", "content": PROBE_ANSWER2}])
        if two is not None and PROBE_ANSWER2 in two:
            a = two.index(PROBE_ANSWER) + len(PROBE_ANSWER)
            b = two.index(PROBE_ANSWER2, a)
            leads["assistant"] = self._trim_lead(_after_stop(two[a:b], self.stop_list(end_text)))
        if self.system_role:
            lone = self.tryapply([{"role": "system", "content": PROBE_SYSTEM}, answer])
            if lone is not None and PROBE_ANSWER in lone:
                s = lone.index(PROBE_SYSTEM) + len(PROBE_SYSTEM)
                leads["system"] = self._trim_lead(lone[s : lone.index(PROBE_ANSWER, s)])
        return leads, end_text, end_last

    def _tool_features(self, base: list[dict[str, Any]], leads: dict[str, str]) -> dict[str, Any]:
        """The features of tool calls and tool results (`TemplateFeatures` fields); the leads
        into a turn after a tool result go into `leads`. A template without native calls gets
        the text form, which any template can express."""
        calls = self._tool_calls(base)
        if calls is None:
            tool_role, tool_lead = self._text_tool_turns(base)
            if tool_lead is not None:
                leads["tool"] = tool_lead
            return {
                "tool_calls": False,
                "tool_role": tool_role,
                "end_call": "",
                "arguments": "mapping",
                "call_ids": "any",
                "call_content": "empty",
                "content_with_calls": True,
                "calls_per_message": "many",
            }
        arguments, call_ids, call_content = calls
        tool_role, end_call, tool_leads = self._tool_turns(base, arguments, call_ids, call_content)
        leads.update(tool_leads)
        content_with = self._content_with_calls(base, arguments, call_ids, tool_role)
        many = self._many_calls(base, arguments, call_ids, call_content, tool_role)
        return {
            "tool_calls": True,
            "tool_role": tool_role,
            "end_call": end_call,
            "arguments": arguments,
            "call_ids": call_ids,
            "call_content": call_content,
            "content_with_calls": content_with,
            "calls_per_message": "many" if many else "one",
        }

    def _opening(self, answer: dict[str, Any]) -> None:
        """Find a system role and whether `tools=` is required, from a user/assistant exchange."""
        errors = []
        for required in (False, True):
            for system in (True, False):
                self.tools_required, self.system_role = required, system
                try:
                    text = self.apply([*self.base(), answer])
                    self.apply(self.base(), gen=True)
                except Exception as e:
                    errors.append(f"{type(e).__name__}: {e}")
                    continue
                if PROBE_ANSWER in text and PROBE_USER in text:
                    if not system:
                        self.notes.append(
                            "no system role: the system message is merged into the first user turn"
                        )
                    if required:
                        self.notes.append("the template requires tools=: a list is always passed")
                    return
        raise TemplateError(
            "the chat template cannot render a user/assistant exchange"
            + (f" ({errors[-1]})" if errors else "")
        )

    def stop_list(self, *first: str) -> tuple[str, ...]:
        """Candidate stop tokens, the probed ones first."""
        return tuple(dict.fromkeys(t for t in (*first, *self.stop_tokens) if t))

    def _stop(self, tail: str) -> str:
        """The stop token that ends a turn: the earliest candidate in the text after it."""
        found = _earliest(tail, self.stop_tokens)
        if found is None:
            found = _earliest(tail, self.special_tokens)
        return "" if found is None else found[1]

    def _lead(self, text: str, before: str, start: int) -> str:
        return text[text.index(before) + len(before) : start]

    def _trim_lead(self, lead: str) -> str:
        """A lead ends where generation starts: after the header, when the lead holds one."""
        if self.header and self.header in lead:
            return lead[: lead.rindex(self.header) + len(self.header)]
        return lead

    # -- tool calls ------------------------------------------------------------------------

    def call(self, arguments: str, call_ids: str, n: int = 1) -> dict[str, Any]:
        """The probe's n-th tool call, in the given arguments form and id format."""
        name, value = (PROBE_TOOL, PROBE_VALUE) if n == 1 else (PROBE_TOOL2, PROBE_VALUE2)
        args: Any = {"a": value}
        if arguments == "json":
            args = json.dumps(args)
        cid = PROBE_ID if n == 1 else PROBE_ID2
        if call_ids == "alnum9":
            cid = "srftprb0" + str(n)
        return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}

    def caller(self, calls: list[dict[str, Any]], content: str | None) -> dict[str, Any]:
        """An assistant message with tool calls."""
        return {"role": "assistant", "content": content, "tool_calls": calls}

    def _tool_calls(self, base: list[dict[str, Any]]) -> tuple[str, str, str] | None:
        """The first (arguments, ids, content) form in which the template renders a call."""
        for arguments in ("mapping", "json"):
            for call_ids in ("any", "alnum9"):
                for content in ("empty", "none"):
                    message = self.caller(
                        [self.call(arguments, call_ids)], "" if content == "empty" else None
                    )
                    text = self.tryapply([*base, message], tools=[schema(PROBE_TOOL)])
                    if text is not None and PROBE_TOOL in text and PROBE_VALUE in text:
                        if arguments == "json":
                            self.notes.append("tool-call arguments are passed as a JSON string")
                        if call_ids == "alnum9":
                            self.notes.append("call ids are rewritten to 9 alphanumeric characters")
                        if content == "none":
                            self.notes.append("a turn with only calls is passed content None")
                        return arguments, call_ids, content
        self.notes.append("no native tool calls: calls are written as <tool_call> text")
        return None

    def _tool_turns(
        self, base: list[dict[str, Any]], arguments: str, call_ids: str, call_content: str
    ) -> tuple[bool, str, dict[str, str]]:
        """(tool role rendered, stop token of a call turn, leads of a text turn (`tool`) and of
        a call turn (`tool:call`) after a tool result: DeepSeek closes tool outputs before a
        text answer but not before another call)."""
        call = self.call(arguments, call_ids)
        message = self.caller([call], "" if call_content == "empty" else None)
        result = {
            "role": "tool",
            "content": PROBE_OBSERVATION,
            "tool_call_id": call["id"],
            "name": PROBE_TOOL,
        }
        answer = {"role": "assistant", "content": PROBE_ANSWER}
        tools = [schema(PROBE_TOOL)]
        text = self.tryapply([*base, message, result], tools=tools)
        if text is None or PROBE_OBSERVATION not in text:
            self.notes.append("no tool role: tool results are written as user turns")
            text = self.apply([*base, message], tools=tools)
            tail = text[text.rindex(PROBE_VALUE) + len(PROBE_VALUE) :]
            return False, self._stop(tail), {}
        value = text.rindex(PROBE_VALUE, 0, text.index(PROBE_OBSERVATION))
        end_call = self._stop(text[value + len(PROBE_VALUE) : text.index(PROBE_OBSERVATION)])
        leads: dict[str, str] = {}
        full = self.tryapply([*base, message, result, answer], tools=tools)
        if full is not None and PROBE_ANSWER in full:
            o = full.index(PROBE_OBSERVATION) + len(PROBE_OBSERVATION)
            leads["tool"] = self._trim_lead(full[o : full.index(PROBE_ANSWER, o)])
        # A call turn after a result: its lead is the text up to where the same call starts
        # after a user message (the call's own opening syntax, e.g. `<tool_call>`, is generated).
        content = "" if call_content == "empty" else None
        second = self.caller([self.call(arguments, call_ids, 2)], content)
        tools = [schema(PROBE_TOOL), schema(PROBE_TOOL2)]
        alone = self.tryapply([*base, second], tools=tools) or ""
        again = self.tryapply([*base, message, result, second], tools=tools) or ""
        lead_user = self.leads_user
        if PROBE_TOOL2 in alone and PROBE_TOOL2 in again and lead_user in alone:
            begin = alone.index(lead_user, alone.index(PROBE_USER)) + len(lead_user)
            opening = alone[begin : alone.index(PROBE_TOOL2, begin)]
            o = again.index(PROBE_OBSERVATION) + len(PROBE_OBSERVATION)
            between = again[o : again.index(PROBE_TOOL2, o)]
            if between.endswith(opening):
                lead = self._trim_lead(between[: len(between) - len(opening)])
                if lead != leads.get("tool"):
                    leads["tool:call"] = lead
        return True, end_call, leads

    def _text_tool_turns(self, base: list[dict[str, Any]]) -> tuple[bool, str | None]:
        """Without native calls: does a `tool` message render after a text turn, and what
        leads into the turn after it."""
        caller = {"role": "assistant", "content": PROBE_CONTENT}
        result = {"role": "tool", "content": PROBE_OBSERVATION, "tool_call_id": PROBE_ID}
        answer = {"role": "assistant", "content": PROBE_ANSWER}
        full = self.tryapply([*base, caller, result, answer])
        if full is None or PROBE_OBSERVATION not in full or PROBE_ANSWER not in full:
            self.notes.append("no tool role: tool results are written as user turns")
            return False, None
        o = full.index(PROBE_OBSERVATION) + len(PROBE_OBSERVATION)
        return True, self._trim_lead(full[o : full.index(PROBE_ANSWER, o)])

    def _content_with_calls(
        self, base: list[dict[str, Any]], arguments: str, ids: str, tool_role: bool
    ) -> bool:
        """Content beside a call is rendered both as the last turn and in history (gpt-oss
        keeps it only when no final answer follows)."""
        call = self.call(arguments, ids)
        message = self.caller([call], PROBE_CONTENT)
        result = {"role": "tool", "content": PROBE_OBSERVATION, "tool_call_id": call["id"]}
        result["name"] = PROBE_TOOL
        if not tool_role:
            result = {"role": "user", "content": PROBE_OBSERVATION}
        answer = {"role": "assistant", "content": PROBE_ANSWER}
        ok = True
        for conversation in ([*base, message], [*base, message, result, answer]):
            text = self.tryapply(conversation, tools=[schema(PROBE_TOOL)]) or ""
            ok = ok and PROBE_CONTENT in text and PROBE_VALUE in text
        if not ok:
            self.notes.append(
                "content beside a tool call is not rendered: it becomes a turn of its own"
            )
        return ok

    def _many_calls(
        self,
        base: list[dict[str, Any]],
        arguments: str,
        ids: str,
        call_content: str,
        tool_role: bool,
    ) -> bool:
        calls = [self.call(arguments, ids, 1), self.call(arguments, ids, 2)]
        message = self.caller(calls, "" if call_content == "empty" else None)
        conversation = [*base, message]
        if tool_role:
            for call, obs in zip(calls, (PROBE_OBSERVATION, PROBE_OBSERVATION2), strict=True):
                conversation.append(
                    {
                        "role": "tool",
                        "content": obs,
                        "tool_call_id": call["id"],
                        "name": call["function"]["name"],
                    }
                )
        tools = [schema(PROBE_TOOL), schema(PROBE_TOOL2)]
        text = self.tryapply(conversation, tools=tools) or ""
        ok = all(t in text for t in (PROBE_VALUE, PROBE_VALUE2)) and (
            not tool_role or PROBE_OBSERVATION2 in text
        )
        if ok and tool_role:
            # One header per call inside a message (gpt-oss) is one call per turn in disguise.
            first = text.index(PROBE_VALUE)
            ok = text.find(self.header, first, text.index(PROBE_VALUE2)) < 0 if self.header else ok
        if not ok:
            self.notes.append("one tool call per message: several calls become several turns")
        return ok

    def _reasoning_field(self, base: list[dict[str, Any]]) -> str | None:
        for name in ("reasoning_content", "thinking"):
            message = {"role": "assistant", "content": PROBE_ANSWER, name: PROBE_REASONING}
            if PROBE_REASONING in (self.tryapply([*base, message]) or ""):
                return name
        self.notes.append("no reasoning field: reasoning is written as <think> text")
        return None


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _earliest(text: str, tokens: tuple[str, ...]) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for token in tokens:
        at = text.find(token)
        if at >= 0 and (
            best is None or at < best[0] or (at == best[0] and len(token) > len(best[1]))
        ):
            best = (at, token)
    return best


def _after_stop(text: str, stops: tuple[str, ...]) -> str:
    found = _earliest(text, stops)
    return text if found is None else text[found[0] + len(found[1]) :]


def alnum9(call_id: str | None, n: int) -> str:
    """A deterministic 9-character alphanumeric id for a call id (Mistral insists on them)."""
    import hashlib

    digest = hashlib.sha256(f"{call_id}\0{n}".encode()).digest()
    return "".join(ID9_ALPHABET[b % len(ID9_ALPHABET)] for b in digest[:9])
