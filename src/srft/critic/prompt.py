"""Prompt rendering for the LLM critic: the template, hindsight, truncation, windows, schema.

The prompt is a versioned Jinja template shipped in `templates/<version>/` (`system.j2`,
`user.j2`); a user can point `--prompt-dir` at a folder with their own two files, and the
verdicts then record `custom-<hash>` as the prompt version. The critic judges with hindsight: the
outcome, the submitted patch, the evaluation result and an optional reference patch are shown
unless switched off, and `used` in every verdict records which of them the prompt held.

Texts longer than the budget allows are cut head+tail with an explicit marker, so the critic
sees both how a long output starts and how it ends (where errors usually are). The cut length
is the largest that keeps the request within `max_prompt_tokens`.

Requests are planned per *mode*: `whole` (one request labels every step), `window` (contiguous
windows of steps, each labelled once, each preceded by a few earlier steps as context, the task
always included) and `per-step` (one request per step, with the steps before it as context).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2

from srft.critic.answers import (  # re-exported: the answer's schema and reader live there
    ANSWER_ORDERS,
    REASON_MAX_CHARS,
    AnswerError,
    answer_schema,
    item_example,
    parse_answer,
)
from srft.critic.tokens import TokenCounter
from srft.files.corpus import Trajectory

PROMPT_VERSION = "v1"
Mode = Literal["whole", "window", "per-step"]
MODES: tuple[str, ...] = ("whole", "window", "per-step")
__all__ = ["ANSWER_ORDERS", "AnswerError", "PromptBuilder", "answer_schema", "parse_answer"]


class PromptTooLong(ValueError):
    """The trajectory cannot be shown within the token budget in the chosen mode."""


# -- the template -----------------------------------------------------------------------------


class PromptTemplate:
    """The system and user templates, and the version recorded in every verdict."""

    def __init__(self, system: str, user: str, version: str) -> None:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        self.system_source, self.user_source = system, user
        self.system = env.from_string(system)
        self.user = env.from_string(user)
        self.version = version

    @classmethod
    def builtin(cls, version: str = PROMPT_VERSION) -> PromptTemplate:
        """The template shipped with srft."""
        folder = resources.files("srft.critic") / "templates" / version
        if not folder.is_dir():
            raise FileNotFoundError(f"no built-in prompt version {version!r}")
        return cls(
            (folder / "system.j2").read_text(encoding="utf-8"),
            (folder / "user.j2").read_text(encoding="utf-8"),
            version,
        )

    @classmethod
    def from_dir(cls, folder: str | Path) -> PromptTemplate:
        """A user's template: `system.j2` and `user.j2` in `folder` (same variables as built-in)."""
        folder = Path(folder)
        try:
            system = (folder / "system.j2").read_text(encoding="utf-8")
            user = (folder / "user.j2").read_text(encoding="utf-8")
        except OSError as e:
            raise FileNotFoundError(
                f"{folder}: a prompt folder needs system.j2 and user.j2: {e}"
            ) from e
        digest = hashlib.sha256((system + "\0" + user).encode()).hexdigest()[:10]
        return cls(system, user, f"custom-{digest}")


# -- hindsight --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hindsight:
    """Which privileged information the critic sees (each can be switched off)."""

    outcome: bool = True
    patch: bool = True
    evaluation: bool = True
    reference_patches: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """For the cache key: what is switched on, and which reference patches were given."""
        refs = hashlib.sha256(
            json.dumps(self.reference_patches, sort_keys=True).encode()
        ).hexdigest()[:12]
        return {
            "outcome": self.outcome,
            "patch": self.patch,
            "evaluation": self.evaluation,
            "reference_patches": refs if self.reference_patches else None,
        }


def load_reference_patches(path: str | Path) -> dict[str, str]:
    """Gold patches by instance id: a JSON object `{id: patch}`, or JSON/JSONL rows with
    `instance_id` and `patch` (the SWE-bench / SWE-smith dataset shape)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        rows = data if isinstance(data, list) else None
        if isinstance(data, dict):
            if not all(isinstance(v, str) for v in data.values()):
                raise ValueError(f"{path}: a JSON object must map instance ids to patch strings")
            return dict(data)
    except json.JSONDecodeError:
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not valid JSON: {e}") from e
    out: dict[str, str] = {}
    for n, row in enumerate(rows or [], start=1):
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("instance_id"), str)
            or not (isinstance(row.get("patch"), str))
        ):
            raise ValueError(f"{path}: row {n} needs string 'instance_id' and 'patch'")
        out[row["instance_id"]] = row["patch"]
    return out


# -- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One request's share of a trajectory: label steps [start, end), show [context, start)."""

    start: int
    end: int
    context: int

    @property
    def keys(self) -> list[str]:
        """The answer's keys: the labelled step numbers as strings."""
        return [str(i) for i in range(self.start, self.end)]


@dataclass
class CriticRequest:
    """A rendered chat request for one window, with its answer schema and size estimate."""

    window: Window
    messages: list[dict[str, str]]
    schema: dict[str, Any]
    estimated_tokens: int
    cut_to: int | None  # the per-text token cap applied (None: nothing was cut)


def shorten(text: str, cap: int | None, count: Callable[[str], int]) -> str:
    """`text` cut to about `cap` tokens, keeping head and tail around an explicit marker."""
    if cap is None or not text:
        return text
    tokens = count(text)
    if tokens <= cap:
        return text
    chars = max(1, int(len(text) * cap / tokens))
    head, tail = text[: chars // 2], text[len(text) - chars // 2 :]
    return f"{head}\n[... {len(text) - len(head) - len(tail)} characters omitted ...]\n{tail}"


@dataclass(kw_only=True, eq=False)
class PromptBuilder:
    """Renders the requests of a trajectory in a mode, within the token budget."""

    template: PromptTemplate = field(default_factory=PromptTemplate.builtin)
    hindsight: Hindsight = field(default_factory=Hindsight)
    counter: TokenCounter = field(default_factory=TokenCounter)
    max_prompt_tokens: int = 100_000
    max_text_tokens: int = 4_000
    min_text_tokens: int = 32
    window_overlap: int = 2
    max_window_steps: int = 50
    # Grammar-constrained servers enforce this length, which bounds completion tokens.
    max_reason_chars: int = REASON_MAX_CHARS
    # Constrained decoding generates properties in schema order: reason first makes the
    # model argue before it decides.
    answer_order: str = "reason-first"

    def __post_init__(self) -> None:
        if self.answer_order not in ANSWER_ORDERS:
            raise ValueError(
                f"unknown answer order {self.answer_order!r}; known: {', '.join(ANSWER_ORDERS)}"
            )

    def schema(self, keys: list[str]) -> dict[str, Any]:
        """The answer schema for the steps `keys` (a re-ask asks only for the missing ones)."""
        return answer_schema(keys, self.max_reason_chars, self.answer_order)

    def describe(self) -> dict[str, Any]:
        """Everything about rendering that changes the requests (part of the job's identity)."""
        return {
            "prompt_version": self.template.version,
            "template": hashlib.sha256(
                (self.template.system_source + self.template.user_source).encode()
            ).hexdigest()[:12],
            "hindsight": self.hindsight.describe(),
            "tokens": self.counter.describe(),
            "max_prompt_tokens": self.max_prompt_tokens,
            "max_text_tokens": self.max_text_tokens,
            "window_overlap": self.window_overlap,
            "max_window_steps": self.max_window_steps,
            "max_reason_chars": self.max_reason_chars,
            "answer_order": self.answer_order,
        }

    # -- hindsight sections -------------------------------------------------------------------

    def used(self, trajectory: Trajectory) -> dict[str, bool]:
        """Which privileged inputs the prompt of `trajectory` holds."""
        h = self.hindsight
        return {
            "outcome": h.outcome,
            "patch": h.patch and bool(trajectory.metadata.patch),
            "evaluation": h.evaluation and bool(trajectory.outcome.details),
            "reference_patch": bool(
                trajectory.instance_id and trajectory.instance_id in h.reference_patches
            ),
        }

    def _sections(self, trajectory: Trajectory, cap: int | None) -> dict[str, str]:
        used = self.used(trajectory)
        # Patches and evaluation reports can be long; they get a share of the budget.
        share = self.max_prompt_tokens // 6
        part = share if cap is None else min(share, max(cap * 2, self.min_text_tokens))
        out = {"outcome": "", "evaluation": "", "patch": "", "reference_patch": ""}
        if used["outcome"]:
            status = trajectory.outcome.status
            meaning = {
                "resolved": "resolved: the submitted patch passed the task's tests",
                "unresolved": "unresolved: the submitted patch did not pass the task's tests",
                "unknown": "unknown: it is not known whether the patch solved the task",
            }[status]
            exit_status = trajectory.metadata.exit_status
            out["outcome"] = meaning + (
                f" (agent exit status: {exit_status})" if exit_status else ""
            )
        if used["evaluation"]:
            details = evaluation_text(trajectory.outcome.details)
            out["evaluation"] = shorten(details, part, self.counter)
        if used["patch"]:
            out["patch"] = shorten(trajectory.metadata.patch or "", part, self.counter)
        if used["reference_patch"]:
            ref = self.hindsight.reference_patches[trajectory.instance_id or ""]
            out["reference_patch"] = shorten(ref, part, self.counter)
        return out

    # -- steps --------------------------------------------------------------------------------

    def render_step(self, trajectory: Trajectory, index: int, cap: int | None) -> str:
        """Step `index` as the critic sees it: reasoning, action, observation(s), each cut to `cap`."""
        a = trajectory.step_assistant(index)
        parts = [f"## Step {index}"]
        if a.reasoning and a.reasoning.strip():
            parts.append("Reasoning:\n" + shorten(a.reasoning.strip(), cap, self.counter))
        if a.content.strip():
            parts.append("Assistant:\n" + shorten(a.content.strip(), cap, self.counter))
        for call in a.tool_calls:
            if call.arguments_valid:
                args = json.dumps(call.arguments, ensure_ascii=False)
            else:
                args = f"{call.arguments} [these arguments are not valid JSON]"
            parts.append(f"Tool call: {call.name} {shorten(args, cap, self.counter)}")
        observations = trajectory.step_observations(index)
        for o in observations:
            head = "Observation"
            if o.exit_code is not None:
                head += f" (exit code {o.exit_code})"
            if o.interrupt:
                head += f" [interrupted by the agent framework: {o.interrupt}]"
            parts.append(head + ":\n" + shorten(o.content, cap, self.counter))
        if not observations:
            parts.append("Observation: (none)")
        return "\n".join(parts)

    def render(self, trajectory: Trajectory, window: Window, cap: int | None) -> CriticRequest:
        """The chat request for `window` with every text cut to `cap` tokens."""
        keys = window.keys
        # A shape, not an answer: small models copy example values verbatim.
        example = {k: item_example(self.answer_order) for k in keys[:2]}
        user = self.template.user.render(
            task=shorten(trajectory.task, None if cap is None else cap * 4, self.counter),
            **self._sections(trajectory, cap),
            context_steps=[
                self.render_step(trajectory, i, cap) for i in range(window.context, window.start)
            ],
            steps=[self.render_step(trajectory, i, cap) for i in range(window.start, window.end)],
            first=window.start,
            last=window.end - 1,
            count=window.end - window.start,
            keys=json.dumps(keys),
            example=json.dumps(example),
        )
        system = self.template.system.render(item=json.dumps(item_example(self.answer_order)))
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return CriticRequest(
            window,
            messages,
            self.schema(keys),
            self.counter.messages(messages),
            cap,
        )

    def header_tokens(self, trajectory: Trajectory, cap: int | None = None) -> int:
        """Tokens of the fixed part of a prompt (instructions, task, hindsight; no steps), with
        texts cut to `cap`."""
        empty = Window(0, 0, 0)
        return self.render(trajectory, empty, cap).estimated_tokens

    def fit(
        self, trajectory: Trajectory, window: Window, max_cap: int | None = None
    ) -> CriticRequest | None:
        """`window` rendered with the largest text cap (at most `max_cap`) that fits the budget,
        or None when even the smallest cap does not fit."""
        whole = self.render(trajectory, window, max_cap)
        if whole.estimated_tokens <= self.max_prompt_tokens:
            return whole
        top = whole.estimated_tokens if max_cap is None else max_cap
        lo, hi = self.min_text_tokens, max(self.min_text_tokens, top)
        best = self.render(trajectory, window, lo)
        if best.estimated_tokens > self.max_prompt_tokens:
            return None
        while lo < hi:  # largest cap whose rendering fits
            mid = (lo + hi + 1) // 2
            req = self.render(trajectory, window, mid)
            if req.estimated_tokens <= self.max_prompt_tokens:
                lo, best = mid, req
            else:
                hi = mid - 1
        return best

    # -- modes --------------------------------------------------------------------------------

    def plan(self, trajectory: Trajectory, mode: Mode) -> list[CriticRequest]:
        """The requests that label every step of `trajectory` once; `PromptTooLong` if impossible."""
        n = len(trajectory.steps)
        if mode == "whole":
            req = self.fit(trajectory, Window(0, n, 0))
            if req is None:
                raise PromptTooLong(
                    f"the whole trajectory ({n} steps) does not fit {self.max_prompt_tokens} "
                    f"prompt tokens even with every text cut to {self.min_text_tokens} tokens; "
                    "label it in windows (--mode window; the llm critic does so by itself)"
                )
            return [req]
        # Texts are cut so that a window holds several steps (a step is about two texts), not
        # one huge observation per request.
        cap = min(self.max_text_tokens, max(self.min_text_tokens, self.max_prompt_tokens // 16))
        sizes = [self.counter(self.render_step(trajectory, i, cap)) + 2 for i in range(n)]
        header = self.header_tokens(trajectory, cap)
        room = int(self.max_prompt_tokens * 0.95) - header
        requests: list[CriticRequest] = []
        if mode == "per-step":
            for i in range(n):
                context, used = i, sizes[i]
                while context > 0 and used + sizes[context - 1] <= room:
                    context -= 1
                    used += sizes[context]
                requests.append(
                    self._fit_dropping_context(trajectory, Window(i, i + 1, context), cap)
                )
            return requests
        if mode != "window":
            raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        start = 0
        while start < n:
            context = max(0, start - self.window_overlap)
            used = sum(sizes[context:start]) + sizes[start]
            end = start + 1
            while end < n and end - start < self.max_window_steps and used + sizes[end] <= room:
                used += sizes[end]
                end += 1
            requests.append(
                self._fit_dropping_context(trajectory, Window(start, end, context), cap)
            )
            start = end
        return requests

    def _fit_dropping_context(
        self, trajectory: Trajectory, window: Window, cap: int
    ) -> CriticRequest:
        while True:
            req = self.fit(trajectory, window, cap)
            if req is not None:
                return req
            if window.context >= window.start:
                raise PromptTooLong(
                    f"steps {window.start}..{window.end - 1} do not fit {self.max_prompt_tokens} "
                    f"prompt tokens even with every text cut to {self.min_text_tokens} tokens"
                )
            window = Window(window.start, window.end, window.context + 1)


# The SWE-bench harness's test groups, in the order a critic needs them, and what each means.
_TEST_GROUPS = {
    "FAIL_TO_PASS": "tests the fix had to make pass",
    "PASS_TO_PASS": "tests that had to keep passing",
    "FAIL_TO_FAIL": "tests that failed before and after",
    "PASS_TO_FAIL": "tests that passed before and after",
}


def evaluation_text(details: dict[str, Any]) -> str:
    """The evaluation section: the outcome's details, with the harness's per-test results
    (`tests_status`) as lists of failing then passing tests per group.

    Failing tests come first in each group, and the groups in the order above, so that when a
    long PASS_TO_PASS list is cut to the prompt budget, what the critic needs most (which
    required tests still fail) survives.
    """
    lines = []
    for key, value in details.items():
        if key != "tests_status":
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    status = details.get("tests_status")
    if isinstance(status, dict):
        lines.append("Tests run on the submitted patch (SWE-bench harness):")
        groups = [g for g in _TEST_GROUPS if g in status]
        groups += [g for g in status if g not in _TEST_GROUPS]
        for group in groups:
            result = status[group] if isinstance(status[group], dict) else {}
            failing = [str(t) for t in result.get("failure") or []]
            passing = [str(t) for t in result.get("success") or []]
            if not failing and not passing:
                continue
            meaning = _TEST_GROUPS.get(group, "")
            lines.append(
                f"{group}{f' ({meaning})' if meaning else ''}: "
                f"{len(failing)} failing, {len(passing)} passing"
            )
            lines.extend(f"  FAILING {name}" for name in failing)
            lines.extend(f"  passing {name}" for name in passing)
    return "\n".join(lines)
