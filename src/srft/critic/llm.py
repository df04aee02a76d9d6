"""The `llm` critic: step labels from any OpenAI-compatible chat server.

For each trajectory the prompt builder plans one or more requests (per mode); each request's
answer is looked up in the store by the request's hash and only sent when missing; every answer
is validated and, when invalid, the critic is re-asked with the validation error (a bounded
number of times, and only for the steps still missing) before the trajectory is marked
`failed`. A trajectory is `ok` only when every one of its steps got a label from the model:
there is no default label.

With `samples` K > 1 every request is asked K times at a temperature above 0; each step's label
is the majority of the samples that labelled it and its `confidence` the share that agree (the
step's `votes` are kept too), so a policy can mask only what the critic is sure about.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
from pathlib import Path
from typing import Any

from srft.critic.answers import AnswerError, read_answer
from srft.critic.batch import BatchWriter, DeferredToBatch
from srft.critic.client import ChatClient
from srft.critic.prompt import MODES, CriticRequest, Mode, PromptBuilder, PromptTooLong
from srft.critic.store import CriticStore, stable_hash
from srft.critic.vote import vote_step
from srft.files.corpus import Trajectory
from srft.files.verdicts import CriticInfo, StepVerdict, Verdict

REASK = (
    "Your answer could not be used for steps {keys}: {error}. Answer again for those steps "
    "only, with only the JSON object: its keys are exactly {keys}, each value {item}."
)
REASK_ITEMS = {
    "reason-first": '{"reason": a short sentence, "label": one of good, unnecessary, mistake, '
    "recover}",
    "label-first": '{"label": one of good, unnecessary, mistake, recover, "reason": a short '
    "sentence}",
}
SAMPLE_TEMPERATURE = 0.7


def sampling_temperature(temperature: float | None, samples: int) -> float:
    """The temperature to ask at: as given, else 0 for one sample and `SAMPLE_TEMPERATURE` for
    several (samples at temperature 0 would all be the same answer, so that is refused)."""
    if samples < 1:
        raise ValueError("samples must be at least 1")
    if temperature is None:
        temperature = SAMPLE_TEMPERATURE if samples > 1 else 0.0
    if samples > 1 and temperature <= 0:
        raise ValueError(
            f"--samples {samples} needs a temperature above 0 (samples at temperature 0 "
            "are the same answer)"
        )
    return temperature


class _Attempts:
    """One sample's answers for one request: labels so far, usage, and the last error."""

    def __init__(self) -> None:
        self.labels: dict[str, StepVerdict] = {}
        self.spent = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        self.error: str | None = None
        self.raw: str | None = None

    def count(self, usage: dict[str, Any]) -> None:
        """Count one answer (stored or fresh) and the tokens it cost."""
        self.spent["requests"] += 1
        self.spent["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
        self.spent["completion_tokens"] += int(usage.get("completion_tokens") or 0)


class LLMCritic:
    """The critic behind the registry name `llm` (see module docstring).

    `start(store)` must be awaited before `ajudge` (it opens the connection pool inside the
    running event loop) and `close()` after.
    """

    name = "llm"

    def __init__(
        self,
        *,
        model: str,
        base_urls: list[str] | str,
        mode: Mode = "whole",
        api_key_env: str = "OPENAI_API_KEY",
        prompt: PromptBuilder | None = None,
        max_reasks: int = 2,
        temperature: float | None = None,
        samples: int = 1,
        max_tokens: int = 8192,
        tokens_per_step: int = 100,
        concurrency: int = 8,
        emit_batch: str | Path | None = None,
        **client_options: Any,
    ) -> None:
        """`client_options` are the HTTP client's (`ChatClient`: timeout, retries, rate limits,
        response format), checked here so that a misspelt one fails before anything runs."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        self.model = model
        self.base_urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        self.mode = mode
        self.api_key_env = api_key_env
        self.prompt = prompt or PromptBuilder()
        self.max_reasks = max_reasks
        self.samples = samples
        self.temperature = sampling_temperature(temperature, samples)
        self.max_tokens = max_tokens
        self.tokens_per_step = tokens_per_step
        self.client_options = {"concurrency": concurrency, **client_options}
        inspect.signature(ChatClient).bind_partial(**self.client_options)  # TypeError naming it
        # Twice as many trajectories in progress as requests in flight (the client's semaphore
        # bounds those to `concurrency`): a worker rendering a prompt or storing a verdict
        # would otherwise leave its request slot idle, and at 32 slots that idles ~10% of them.
        self.workers = 2 * concurrency
        response_format = client_options.get("response_format", "auto")
        self.batch = BatchWriter(emit_batch, response_format) if emit_batch else None
        self.client: ChatClient | None = None
        self.store: CriticStore | None = None
        self.cache_hits = 0
        self.reasks = 0
        self.resent_invalid = 0
        self.window_fallbacks = 0
        # Answers that could not be (fully) used, for `<verdicts>.invalid-answers.jsonl`.
        self.invalid_answers: list[dict[str, Any]] = []

    # -- identity ---------------------------------------------------------------------------

    def info(self, trajectory: Trajectory | None = None, mode: str | None = None) -> CriticInfo:
        """Model, prompt version, mode and (for a trajectory) the hindsight its prompt held.

        `mode` is the mode a trajectory was actually judged in, when it differs from the
        critic's (a `whole` trajectory that only fitted in windows)."""
        return CriticInfo(
            name="llm",
            model=self.model,
            prompt_version=self.prompt.template.version,
            mode=mode or self.mode,
            used=self.prompt.used(trajectory) if trajectory is not None else {},
        )

    def job_key(self) -> str:
        """A hash of every setting that changes the verdicts (not the servers or limits)."""
        return stable_hash(
            {
                "critic": "llm",
                "model": self.model,
                "mode": self.mode,
                "prompt": self.prompt.describe(),
                "max_reasks": self.max_reasks,
                "temperature": self.temperature,
                "samples": self.samples,
                "max_tokens": self.max_tokens,
                "tokens_per_step": self.tokens_per_step,
            }
        )

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, store: CriticStore) -> None:
        """Open the client; read the API key from the environment variable named at init."""
        self.store = store
        api_key = os.environ.get(self.api_key_env) or None
        self.client = ChatClient(
            self.base_urls,
            self.model,
            api_key=api_key,
            store=store,
            key_hint=self.api_key_env,
            **self.client_options,
        )

    async def close(self) -> None:
        """Close the client and finish the batch file."""
        if self.client is not None:
            await self.client.aclose()
        if self.batch is not None:
            self.batch.close()

    # -- judging ----------------------------------------------------------------------------

    async def ajudge(self, trajectory: Trajectory, *, fresh: bool = False) -> Verdict:
        """All step labels of `trajectory`, or a failed verdict (invalid answers, too long).

        `fresh`: the trajectory failed before, so a stored answer that could not be used is
        asked again instead of replayed (stored usable answers are still reused, so no paid
        request is repeated). Raises `RequestFailed` when a server gave no answer,
        `ServerUnusable` when no request can succeed, and `DeferredToBatch` when requests went
        to the batch file instead.
        """
        try:
            mode, requests = self.plan(trajectory)
        except PromptTooLong as e:
            info = self.info(trajectory)
            return Verdict(
                trajectory_id=trajectory.id,
                critic=info,
                status="failed",
                error=str(e),
                failure="prompt-too-long",
            )
        info = self.info(trajectory, mode)
        results = await asyncio.gather(
            *(self._ask(r, trajectory.id, fresh) for r in requests), return_exceptions=True
        )
        usage = {
            "requests": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "estimated_prompt_tokens": sum(r.estimated_tokens for r in requests),
        }
        steps: list[StepVerdict] = []
        failure: tuple[str, str | None] | None = None
        for request, result in zip(requests, results, strict=True):
            if isinstance(result, BaseException):  # RequestFailed, DeferredToBatch, or a bug
                raise result
            labels, error, raw, spent = result
            for key in usage.keys() - {"estimated_prompt_tokens"}:
                usage[key] += spent[key]
            if error is not None and failure is None:
                w = request.window
                failure = (f"steps {w.start}..{w.end - 1}: {error}", raw)
            steps.extend(labels or [])
        if failure is not None:
            return Verdict(
                trajectory_id=trajectory.id,
                critic=info,
                status="failed",
                error=failure[0],
                failure="invalid-answer",
                raw_response=failure[1],
                usage=usage,
            )
        return Verdict(trajectory_id=trajectory.id, critic=info, steps=steps, usage=usage)

    def plan(self, trajectory: Trajectory) -> tuple[str, list[CriticRequest]]:
        """The mode and requests for a trajectory.

        In `whole` mode a trajectory that does not fit the budget even with every text cut to
        the minimum is judged in windows instead (its verdict records `mode: window`, the
        summary counts it): failing it would drop a trajectory the user asked to label, and a
        window still shows the task and every step, uncut further.
        """
        try:
            return self.mode, self.prompt.plan(trajectory, self.mode)
        except PromptTooLong:
            if self.mode != "whole":
                raise
        requests = self.prompt.plan(trajectory, "window")
        self.window_fallbacks += 1
        return "window", requests

    def completion_budget(self, steps: int) -> int:
        """The completion tokens a request labelling `steps` steps may use."""
        return min(self.max_tokens, 64 + self.tokens_per_step * steps)

    def estimate(self, trajectory: Trajectory) -> tuple[int, int, int]:
        """(requests, estimated prompt tokens, completion tokens at most) of judging
        `trajectory` once, every answer valid: what `srft run --dry-run` adds up."""
        _mode, requests = self.plan(trajectory)
        prompt = sum(r.estimated_tokens for r in requests)
        completion = sum(self.completion_budget(len(r.window.keys)) for r in requests)
        return len(requests), prompt, completion

    async def _ask(
        self, request: CriticRequest, trajectory_id: str, fresh: bool
    ) -> tuple[list[StepVerdict] | None, str | None, str | None, dict[str, int]]:
        """(labels, None, None, usage) or (None, error, last raw answer, usage), over all
        samples: a step's label is the majority of the samples that completed."""
        runs = await asyncio.gather(
            *(self._ask_sample(request, trajectory_id, s, fresh) for s in range(self.samples))
        )
        spent = {k: sum(r.spent[k] for r in runs) for k in runs[0].spent}
        complete = [r for r in runs if r.error is None]
        if not complete:
            return None, runs[0].error, runs[0].raw, spent
        if self.samples == 1:
            return [complete[0].labels[k] for k in request.window.keys], None, None, spent
        return (
            [vote_step([r.labels[k] for r in complete]) for k in request.window.keys],
            None,
            None,
            spent,
        )

    async def _ask_sample(
        self, request: CriticRequest, trajectory_id: str, sample: int, fresh: bool
    ) -> _Attempts:
        """One sample: ask, then re-ask for the steps still missing, up to `max_reasks` times."""
        keys = request.window.keys
        missing = keys
        out = _Attempts()
        messages = list(request.messages)
        for attempt in range(self.max_reasks + 1):
            schema = request.schema if missing == keys else self.prompt.schema(missing)
            content = await self._answer(messages, schema, missing, sample, fresh, out)
            try:
                answer = read_answer(content, missing, keys)
            except AnswerError as e:
                error = str(e)
            else:
                out.labels.update(answer.steps)
                missing = answer.missing
                if not missing:
                    return out
                error = answer.error()
            self.invalid_answers.append(
                {
                    "trajectory_id": trajectory_id,
                    "steps": missing,
                    "sample": sample,
                    "attempt": attempt,
                    "error": error,
                    "content": content,
                }
            )
            out.raw = content
            if attempt < self.max_reasks:
                self.reasks += 1
                messages = self._reask(messages, content, error, missing)
        out.error = f"no valid answer after {self.max_reasks + 1} tries: {error}"
        return out

    async def _answer(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        missing: list[str],
        sample: int,
        fresh: bool,
        out: _Attempts,
    ) -> str:
        """The answer to one request, counted in `out`: the stored one when the store holds it
        (unless `fresh` and it could not be used), else asked now (or deferred to the batch)."""
        assert self.store is not None, "start() was not awaited"
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "schema": schema,
            "max_tokens": self.completion_budget(len(missing)),
            "temperature": self.temperature,
        }
        if self.samples > 1:
            body["sample"] = sample
        key = stable_hash(body)
        stored = self.store.get_answer(key)
        if stored is not None and fresh and not _usable(stored[0], missing):
            stored = None  # it failed this trajectory before: ask again, do not replay it
            self.resent_invalid += 1
        if stored is not None:
            self.cache_hits += 1
            content, usage = stored
        else:
            content, usage = await self._send(key, body, fresh)
        out.count(usage)
        return content

    async def _send(self, key: str, body: dict[str, Any], fresh: bool) -> tuple[str, dict]:
        """Send one request (or add it to the batch file) and store its answer at once."""
        assert self.client is not None and self.store is not None, "start() was not awaited"
        if self.batch is not None:
            self.batch.add(key, body)
            raise DeferredToBatch(key)
        messages = body["messages"]
        done = await self.client.complete(
            messages,
            body["schema"],
            max_tokens=body["max_tokens"],
            temperature=self.temperature,
            estimated_tokens=self.prompt.counter.messages(messages),
        )
        content, usage = self.client.redact(done.content), done.usage
        self.store.put_answer(key, self.model, content, usage, replace=fresh)
        return content, usage

    def _reask(
        self, messages: list[dict[str, str]], content: str, error: str, missing: list[str]
    ) -> list[dict[str, str]]:
        """The conversation so far, the unusable answer, and the request to fix `missing`."""
        reask = REASK.format(
            error=error, keys=json.dumps(missing), item=REASK_ITEMS[self.prompt.answer_order]
        )
        return [
            *messages,
            {"role": "assistant", "content": content},
            {"role": "user", "content": reask},
        ]

    def accounting(self) -> dict[str, Any]:
        """The client's counters plus cache hits and re-asks, for the summary."""
        out: dict[str, Any] = self.client.stats.as_dict() if self.client else {}
        out["cache_hits"] = self.cache_hits
        out["reasks"] = self.reasks
        out["resent_invalid"] = self.resent_invalid
        out["invalid_answers"] = len(self.invalid_answers)
        out["whole_to_window"] = self.window_fallbacks
        out["response_formats"] = self.client.formats() if self.client else {}
        if self.batch is not None:
            out["batch_requests_written"] = self.batch.count
            out["batch_file"] = str(self.batch.path)
        return out


# `PromptBuilder`'s own settings, passed on from the flat options as they are.
PROMPT_OPTIONS = (
    "max_prompt_tokens",
    "max_text_tokens",
    "window_overlap",
    "max_window_steps",
    "max_reason_chars",
    "answer_order",
)


def build_llm_critic(
    *,
    prompt_dir: str | Path | None = None,
    outcome: bool = True,
    patch: bool = True,
    evaluation: bool = True,
    reference_patches: str | Path | None = None,
    tokenizer: str | Path | None = None,
    chars_per_token: float = 4.0,
    **options: Any,
) -> LLMCritic:
    """An `LLMCritic` from flat settings (the CLI's flags, or `critic.options` of a run config).

    The prompt settings (these keywords and `PROMPT_OPTIONS`) build its `PromptBuilder`;
    everything else goes to `LLMCritic`.
    """
    from srft.critic.prompt import Hindsight, PromptTemplate, load_reference_patches
    from srft.critic.tokens import TokenCounter

    if "prompt" in options:
        return LLMCritic(**options)
    template = PromptTemplate.from_dir(prompt_dir) if prompt_dir else PromptTemplate.builtin()
    refs = load_reference_patches(reference_patches) if reference_patches else {}
    builder = PromptBuilder(
        template=template,
        hindsight=Hindsight(
            outcome=outcome, patch=patch, evaluation=evaluation, reference_patches=refs
        ),
        counter=TokenCounter(chars_per_token=chars_per_token, tokenizer=tokenizer),
        **{key: options.pop(key) for key in PROMPT_OPTIONS if key in options},
    )
    return LLMCritic(prompt=builder, **options)


def llm_option_names() -> list[str]:
    """Every setting `build_llm_critic` takes: its own, the prompt's, the critic's and the HTTP
    client's (what a config check lists after "allowed:")."""
    not_settings = {"prompt", "options", "client_options", "api_key", "store", "key_hint"}
    names = [
        *inspect.signature(build_llm_critic).parameters,
        *PROMPT_OPTIONS,
        *inspect.signature(LLMCritic).parameters,
        *inspect.signature(ChatClient).parameters,
    ]
    return [n for n in dict.fromkeys(names) if n not in not_settings]


build_llm_critic.option_names = llm_option_names  # type: ignore[attr-defined]


def _usable(content: str, keys: list[str]) -> bool:
    """Whether a stored answer labels every step of `keys` (shapes as `read_answer` reads)."""
    try:
        return read_answer(content, keys).complete
    except AnswerError:
        return False
