"""The critic's answer: the schema it is asked to follow, and reading what it actually returned.

Structured outputs (`json_schema`, or `json_object` with the schema) are the first choice, and
with them the answer is one object keyed by step number. Many servers and proxies ignore the
schema, though, and `--response-format plain` sends none, so the reader accepts the shapes models
really return and normalises them to step number -> {label, reason}:

- a mapping keyed by step number (`"3"`, `"step 3"`, `"Step_3"`), values `{label, reason}` or a
  bare label string;
- a list of `{step, label, reason}` (the step under `step`, `index`, `step_index`,
  `step_number`, `id` or `number`), or a list of `{label, reason}` exactly as long as the steps
  asked for, in their order;
- a wrapper object with one such list or mapping inside (`{"steps": [...]}`,
  `{"verdicts": [...]}`, `{"labels": {...}}`), beside any scalar fields (an `analysis` text);
- any of these inside a fenced code block, or followed or preceded by prose.

Step coverage is then checked: labels for steps that were asked for and are valid are kept,
missing or invalid ones are listed (the critic re-asks for those only). An answer naming a step
that was not asked for is rejected whole, since its numbering cannot be trusted (an answer
numbered 1..n for steps 0..n-1 would otherwise shift every label by one).

The schema puts each step's `reason` before its `label` by default: with constrained decoding
the property order is the generation order, so the model argues before it decides (as
generative judges such as StepWiser do). `label-first` keeps the old order.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from srft.files.verdicts import LABELS, StepVerdict

REASON_MAX_CHARS = 300
AnswerOrder = Literal["reason-first", "label-first"]
ANSWER_ORDERS: tuple[str, ...] = ("reason-first", "label-first")

_STEP_FIELDS = ("step", "index", "step_index", "step_number", "step_id", "id", "number")
_LABEL_FIELDS = ("label", "verdict", "judgement", "judgment", "classification", "category")
_REASON_FIELDS = ("reason", "reasoning", "explanation", "rationale", "why", "justification")
_STEP_KEY = re.compile(r"^\s*(?:step)?[\s_#-]*(\d+)\s*$", re.I)
_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n?(.*?)```", re.S)


class AnswerError(ValueError):
    """The critic's answer is not a valid set of labels; the message is shown to it on re-ask."""


# -- the schema -------------------------------------------------------------------------------


def answer_schema(
    keys: list[str], max_reason_chars: int = REASON_MAX_CHARS, order: str = "reason-first"
) -> dict[str, Any]:
    """The JSON schema of an answer: an object with exactly `keys`, each {reason, label}.

    One required property per step (rather than an array) lets grammar-constrained servers
    guarantee the shape, so only the labels themselves are left to the model. Requests with the
    same keys share one (read-only) schema object, so the client's per-schema work is done once.
    """
    if order not in ANSWER_ORDERS:
        raise ValueError(f"unknown answer order {order!r}; known: {', '.join(ANSWER_ORDERS)}")
    return _answer_schema(tuple(keys), max_reason_chars, order)


@functools.lru_cache(maxsize=1024)
def _answer_schema(keys: tuple[str, ...], max_reason_chars: int, order: str) -> dict[str, Any]:
    label = {"type": "string", "enum": list(LABELS)}
    reason = {"type": "string", "maxLength": max_reason_chars}
    fields = ("reason", "label") if order == "reason-first" else ("label", "reason")
    item = {
        "type": "object",
        "properties": {f: (reason if f == "reason" else label) for f in fields},
        "required": list(fields),
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {k: item for k in keys},
        "required": list(keys),
        "additionalProperties": False,
    }


def item_example(order: str = "reason-first") -> dict[str, str]:
    """One step's entry as a shape, not an answer (small models copy example values verbatim)."""
    if order == "label-first":
        return {"label": "<label>", "reason": "<why, briefly>"}
    return {"reason": "<why, briefly>", "label": "<label>"}


# -- reading an answer ------------------------------------------------------------------------


@dataclass
class ReadAnswer:
    """What an answer held for the steps asked: valid labels, and what is missing and why."""

    steps: dict[str, StepVerdict] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every step asked for has a valid label."""
        return not self.missing

    def error(self) -> str:
        """Why the answer is incomplete, as told to the model on re-ask."""
        parts = list(self.problems)
        unexplained = [k for k in self.missing if not any(f"step {k}:" in p for p in parts)]
        if unexplained:
            parts.insert(0, f"steps {', '.join(unexplained)} are missing")
        return "; ".join(parts)


def read_answer(content: str, keys: list[str], window: list[str] | None = None) -> ReadAnswer:
    """The labels in `content` for the steps `keys`, in any shape the module docstring lists.

    `window` are all the steps of the request (a re-ask asks for some of them only; an answer
    that repeats the others is fine, they are ignored). Raises `AnswerError` when no usable
    JSON is found at all or when the answer names a step outside the window; otherwise returns
    what was usable and what is still missing.
    """
    data = _json_in(content)
    mapping = _as_mapping(data, keys)
    if mapping is None:
        raise AnswerError(
            "the answer must be a JSON object keyed by step number (or a list of "
            "{step, reason, label})"
        )
    allowed = set(keys) | set(window or ())
    extra = [k for k in mapping if k not in allowed]
    if extra:
        missing = [k for k in keys if k not in mapping]
        parts = [f"steps {', '.join(missing)} are missing"] if missing else []
        parts.append(f"keys {', '.join(extra[:10])} are not steps you were asked to judge")
        raise AnswerError(
            f"wrong steps: {'; '.join(parts)} (expected exactly {len(keys)} keys: "
            f"{json.dumps(keys)})"
        )
    out = ReadAnswer()
    for k in keys:
        if k not in mapping:
            out.missing.append(k)
            continue
        step, problem = _step(k, mapping[k])
        if step is None:
            out.missing.append(k)
            out.problems.append(f"step {k}: {problem} (labels are {', '.join(LABELS)})")
        else:
            out.steps[k] = step
    return out


def parse_answer(content: str, keys: list[str]) -> list[StepVerdict]:
    """The step verdicts in `content`, all of `keys`, or `AnswerError` saying what is wrong."""
    answer = read_answer(content, keys)
    if not answer.complete:
        if not answer.problems:
            raise AnswerError(
                f"wrong steps: steps {', '.join(answer.missing)} are missing (expected exactly "
                f"{len(keys)} keys: {json.dumps(keys)})"
            )
        raise AnswerError(answer.error())
    return [answer.steps[k] for k in keys]


def _json_in(content: str) -> Any:
    """The JSON value in an answer: the whole text, a fenced block, or the first object or list
    followed (or preceded) by prose."""
    text = (content or "").strip()
    # strict=False: a raw newline or tab inside a reason (which grammar-constrained servers
    # let through) does not make the labels unreadable.
    decoder = json.JSONDecoder(strict=False)
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as e:
        first_error = e
    for block in _FENCE.findall(text):
        try:
            return decoder.decode(block.strip())
        except json.JSONDecodeError:
            continue
    starts = sorted(i for i in (text.find("{"), text.find("[")) if i >= 0)
    for start in starts:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict | list) and value:
            return value
    e = first_error
    raise AnswerError(f"the answer is not valid JSON ({e.msg} at position {e.pos})")


def _step_number(key: Any) -> str | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return str(key)
    if isinstance(key, str):
        m = _STEP_KEY.match(key)
        return str(int(m[1])) if m else None
    return None


def _as_mapping(data: Any, keys: list[str], depth: int = 0) -> dict[str, Any] | None:
    """Normalise an answer's JSON value to step number -> entry, or None if its shape is unknown."""
    if isinstance(data, dict):
        numbered = {_step_number(k): v for k, v in data.items()}
        if None not in numbered:
            return numbered  # type: ignore[return-value]
        if depth == 0:
            inner = [v for v in data.values() if isinstance(v, dict | list) and v]
            if len(inner) == 1:
                return _as_mapping(inner[0], keys, depth + 1)
        return None
    if isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        numbers = [_step_number(next((x[f] for f in _STEP_FIELDS if f in x), None)) for x in data]
        if all(n is not None for n in numbers):
            out: dict[str, Any] = {}
            for n, x in zip(numbers, data, strict=True):
                out.setdefault(n, x)  # type: ignore[arg-type]
            return out
        if len(data) == len(keys) and not any(f in x for x in data for f in _STEP_FIELDS):
            return dict(zip(keys, data, strict=True))
    return None


def _step(key: str, entry: Any) -> tuple[StepVerdict | None, str]:
    """One step's verdict from its entry, or (None, what is wrong with it)."""
    if isinstance(entry, str):
        label, reason = entry, ""
    elif isinstance(entry, dict):
        label = next((entry[f] for f in _LABEL_FIELDS if f in entry), None)
        reason = next((entry[f] for f in _REASON_FIELDS if f in entry), "")
        if label is None:
            return None, "label: Field required"
    else:
        return None, f"value: expected {{reason, label}}, got {type(entry).__name__}"
    if not isinstance(label, str) or label.strip().lower() not in LABELS:
        return None, f"label: {json.dumps(label)} is not a label"
    reason = reason if isinstance(reason, str) else json.dumps(reason)
    return (
        StepVerdict(
            index=int(key),
            label=label.strip().lower(),  # type: ignore[arg-type]
            reason=reason.strip()[:REASON_MAX_CHARS],
        ),
        "",
    )
