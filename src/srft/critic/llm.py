"""The `llm` critic: step labels from any OpenAI-compatible chat server.

For each trajectory the prompt builder plans one or more requests (per mode); each request's
answer is looked up in the store by the request's hash and only sent when missing; every answer
is validated and, when invalid, the critic is re-asked with the validation error (a bounded
number of times) before the trajectory is marked `failed`. A trajectory is `ok` only when every
one of its steps got a label from the model: there is no default label.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from srft.corpus.model import Trajectory
from srft.critic.batch import BatchWriter, DeferredToBatch
from srft.critic.client import ChatClient
from srft.critic.prompt import (
    MODES,
    AnswerError,
    CriticRequest,
    Mode,
    PromptBuilder,
    PromptTooLong,
    parse_answer,
)
from srft.critic.store import CriticStore, stable_hash
from srft.critic.verdicts import CriticInfo, StepVerdict, Verdict

REASK = (
    "Your answer could not be used: {error}. Answer again with only the JSON object: "
    'its keys are exactly {keys}, each value {{"label": one of good, unnecessary, mistake, '
    'recover, "reason": a short sentence}}.'
)


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
        temperature: float = 0.0,
        max_tokens: int = 8192,
        tokens_per_step: int = 100,
        concurrency: int = 8,
        timeout: float = 300.0,
        max_retries: int = 6,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        response_format: str = "auto",
        backoff_base: float = 1.0,
        emit_batch: str | Path | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        self.model = model
        self.base_urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        self.mode = mode
        self.api_key_env = api_key_env
        self.prompt = prompt or PromptBuilder()
        self.max_reasks = max_reasks
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.tokens_per_step = tokens_per_step
        self.client_options: dict[str, Any] = {
            "concurrency": concurrency,
            "timeout": timeout,
            "max_retries": max_retries,
            "requests_per_minute": requests_per_minute,
            "tokens_per_minute": tokens_per_minute,
            "response_format": response_format,
            "backoff_base": backoff_base,
        }
        # Twice as many trajectories in progress as requests in flight (the client's semaphore
        # bounds those to `concurrency`): a worker rendering a prompt or storing a verdict
        # would otherwise leave its request slot idle, and at 32 slots that idles ~10% of them.
        self.workers = 2 * concurrency
        self.batch = BatchWriter(emit_batch, response_format) if emit_batch else None
        self.client: ChatClient | None = None
        self.store: CriticStore | None = None
        self.cache_hits = 0
        self.reasks = 0
        self.window_fallbacks = 0

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
            self.base_urls, self.model, api_key=api_key, store=store, **self.client_options
        )

    async def close(self) -> None:
        """Close the client and finish the batch file."""
        if self.client is not None:
            await self.client.aclose()
        if self.batch is not None:
            self.batch.close()

    # -- judging ----------------------------------------------------------------------------

    async def ajudge(self, trajectory: Trajectory) -> Verdict:
        """All step labels of `trajectory`, or a failed verdict (invalid answers, too long).

        Raises `RequestFailed` when a server gave no answer (nothing is then stored, so a rerun
        asks again) and `DeferredToBatch` when requests went to the batch file instead.
        """
        try:
            mode, requests = self._plan(trajectory)
        except PromptTooLong as e:
            info = self.info(trajectory)
            return Verdict(trajectory_id=trajectory.id, critic=info, status="failed", error=str(e))
        info = self.info(trajectory, mode)
        results = await asyncio.gather(*(self._ask(r) for r in requests), return_exceptions=True)
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
                raw_response=failure[1],
                usage=usage,
            )
        return Verdict(trajectory_id=trajectory.id, critic=info, steps=steps, usage=usage)

    def _plan(self, trajectory: Trajectory) -> tuple[str, list[CriticRequest]]:
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

    async def _ask(
        self, request: CriticRequest
    ) -> tuple[list[StepVerdict] | None, str | None, str | None, dict[str, int]]:
        """(labels, None, None, usage) or (None, error, last raw answer, usage) after re-asks."""
        assert self.client is not None and self.store is not None, "start() was not awaited"
        keys = request.window.keys
        messages = list(request.messages)
        max_tokens = min(self.max_tokens, 64 + self.tokens_per_step * len(keys))
        spent = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        error = ""
        content = ""
        for attempt in range(self.max_reasks + 1):
            body = {
                "model": self.model,
                "messages": messages,
                "schema": request.schema,
                "max_tokens": max_tokens,
                "temperature": self.temperature,
            }
            key = stable_hash(body)
            stored = self.store.get_answer(key)
            if stored is not None:
                self.cache_hits += 1
                content, usage = stored
            else:
                if self.batch is not None:
                    self.batch.add(key, body)
                    raise DeferredToBatch(key)
                estimate = self.prompt.count.messages(messages)
                done = await self.client.complete(
                    messages,
                    request.schema,
                    max_tokens=max_tokens,
                    temperature=self.temperature,
                    estimated_tokens=estimate,
                )
                content, usage = self.client.redact(done.content), done.usage
                self.store.put_answer(key, self.model, content, usage)
            spent["requests"] += 1
            spent["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
            spent["completion_tokens"] += int(usage.get("completion_tokens") or 0)
            try:
                return parse_answer(content, keys), None, None, spent
            except AnswerError as e:
                error = str(e)
            if attempt < self.max_reasks:
                self.reasks += 1
                messages = [
                    *messages,
                    {"role": "assistant", "content": content},
                    {"role": "user", "content": REASK.format(error=error, keys=json.dumps(keys))},
                ]
        return None, f"no valid answer after {self.max_reasks + 1} tries: {error}", content, spent

    def accounting(self) -> dict[str, Any]:
        """The client's counters plus cache hits and re-asks, for the summary."""
        out: dict[str, Any] = self.client.stats.as_dict() if self.client else {}
        out["cache_hits"] = self.cache_hits
        out["reasks"] = self.reasks
        out["whole_to_window"] = self.window_fallbacks
        out["response_formats"] = self.client.formats() if self.client else {}
        if self.batch is not None:
            out["batch_requests_written"] = self.batch.count
            out["batch_file"] = str(self.batch.path)
        return out


def build_llm_critic(
    *,
    prompt_dir: str | Path | None = None,
    outcome: bool = True,
    patch: bool = True,
    evaluation: bool = True,
    reference_patches: str | Path | None = None,
    tokenizer: str | Path | None = None,
    chars_per_token: float = 4.0,
    max_prompt_tokens: int = 100_000,
    max_text_tokens: int = 4_000,
    window_overlap: int = 2,
    max_window_steps: int = 50,
    max_reason_chars: int = 300,
    **options: Any,
) -> LLMCritic:
    """An `LLMCritic` from flat settings (the CLI's flags, or `critic.options` of a run config).

    The prompt settings build its `PromptBuilder`; everything else goes to `LLMCritic`.
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
        max_prompt_tokens=max_prompt_tokens,
        max_text_tokens=max_text_tokens,
        window_overlap=window_overlap,
        max_window_steps=max_window_steps,
        max_reason_chars=max_reason_chars,
    )
    return LLMCritic(prompt=builder, **options)
