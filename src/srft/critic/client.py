"""OpenAI-compatible chat completions: structured-output negotiation, retries, rate limits.

Written on an HTTP client directly (aiohttp, see `ChatClient`) rather than the `openai` package because the critic needs what that
client hides: the raw status and body of a refused `response_format` (to fall back to another
one), `Retry-After` honoured exactly, and the raw answer text kept even when it is not what we
asked for. Retries and backoff are tenacity's (`_retry_policy`), the request and token rate
limits aiolimiter's; what stays ours is what neither library knows: which failures are worth a
retry, the wait that honours `Retry-After`, and spreading requests over several servers.

Structured output is negotiated per endpoint, most specific first, and the choice is
remembered (in memory and in the store):

1. `json_schema`: `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}` (OpenAI,
   vLLM, SGLang);
2. `json_object` with the schema inlined: `{"type": "json_object", "schema": ...}`
   (llama-cpp-python's server, which answers type `json_schema` with HTTP 500);
3. `plain`: no `response_format`; the prompt alone asks for the JSON object.

A server that refuses a format (HTTP 400/422/500/501 whose body names the response format or
schema) is asked again at once with the next one; that is not counted as a retry.

Failures are sorted by what a retry can do about them. Before the first request of a run each
server gets one tiny preflight request (`max_tokens` 1): an unreachable server (connection
refused, DNS failure), a refused key (401/403) or a wrong path or model (404) raises
`ServerUnusable`, which stops the whole run, because every request would fail the same way. The
same statuses later in a run stop it too. Timeouts, 408/409/429/5xx, dropped connections and
unreadable bodies are retried with backoff (at least `Retry-After`); any other refusal (a 400
for a prompt over the context window) fails only its trajectory, at once. Every failure carries
a short `kind` (`http-503`, `timeout`, `connection`, ...) so a run can count them per reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

import aiohttp
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base

RESPONSE_FORMATS: tuple[str, ...] = ("json_schema", "json_object", "plain")
RETRYABLE_STATUS = frozenset({408, 409, 429})
_FORMAT_WORDS = ("response_format", "json_schema", "schema", "grammar", "json_object")


class RequestFailed(RuntimeError):
    """A request that did not get an answer (retries exhausted, or refused). Its trajectory is
    failed for this run, recorded as failed (not final), so a rerun asks again.

    `kind` is the failure's short stable key (`http-503`, `timeout`, `connection`,
    `malformed-body`, `http-400`, ...)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Transient(Exception):
    """A failure a retry may cure (timeout, 429, 5xx, dropped connection, unreadable body).

    Raised by one attempt for the retry policy to act on; never leaves the client (exhausted
    retries become `RequestFailed`). `retry_after` is the server's `Retry-After`, in seconds."""

    def __init__(self, message: str, kind: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class ServerUnusable(RuntimeError):
    """A server no request can succeed against (unreachable, key refused, wrong path or model).

    Raised by the preflight and by the same answers during a run; it stops the run (exit status
    2 on the command line) instead of failing every trajectory one by one."""

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(f"{endpoint}: {reason}")
        self.endpoint = endpoint
        self.reason = reason


PREFLIGHT_PROMPT = "srft preflight: reply with OK."
_MODEL_WORDS = ("does not exist", "not found", "unknown model", "invalid model", "no such model")


@dataclass
class Completion:
    """A server's answer: the message text, `usage`, and the format it was asked in."""

    content: str
    usage: dict[str, Any]
    response_format: str


@dataclass
class ClientStats:
    """What the client did: HTTP attempts, retries, fallbacks, failures and tokens billed."""

    requests: int = 0
    preflight: int = 0
    retries: int = 0
    failed_requests: int = 0
    format_fallbacks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (statuses sorted, so the summary file is stable)."""
        return {**asdict(self), "statuses": dict(sorted(self.statuses.items()))}


def rate_limit(per_minute: float | None) -> AsyncLimiter | None:
    """A limiter that lets a minute's worth through at once, then paces to `per_minute`
    (None: no limit). Take from it with `take`."""
    if per_minute is None:
        return None
    if per_minute <= 0:
        raise ValueError("a rate limit must be positive")
    return AsyncLimiter(per_minute, time_period=60.0)


async def take(limit: AsyncLimiter | None, amount: float) -> None:
    """Wait until `limit` has room for `amount`, then take it.

    aiolimiter refuses an amount larger than the whole bucket; such a request (one oversized
    prompt against a token limit) waits for the bucket to empty and takes all of it instead of
    blocking forever."""
    if limit is not None:
        await limit.acquire(min(amount, limit.max_rate))


@dataclass
class Endpoint:
    """One server (`base_url` ends before `/chat/completions`, e.g. `http://host:8000/v1`)."""

    base_url: str
    response_format: str | None = None
    in_flight: int = 0

    @property
    def url(self) -> str:
        """Where chat completions are posted."""
        return f"{self.base_url}/chat/completions"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _AtLeastRetryAfter(wait_base):
    """The backoff, or the server's `Retry-After` (capped) when that is longer.

    tenacity's waits know nothing of the failure they follow; this one reads `retry_after` from
    the `_Transient` the attempt raised."""

    def __init__(self, backoff: wait_base, cap: float) -> None:
        self.backoff = backoff
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = self.backoff(retry_state)
        error = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        return delay


def _equal_jitter(base: float, cap: float) -> wait_base:
    """`min(cap, base * 2**n)` scaled by a uniform 0.5..1 after the n+1-th failure: half the
    wait fixed (so retries do back off), half random (so clients that failed together do not
    retry together)."""
    return wait_exponential(multiplier=base / 2, max=cap / 2) + wait_random_exponential(
        multiplier=base / 2, max=cap / 2
    )


_STRICT: dict[int, tuple[Any, Any]] = {}


def _strict_schema(schema: dict[str, Any]) -> Any:
    """`schema` without `maxLength`, computed once per schema object.

    The prompt builder hands every request of a window size the same schema object, and this
    runs once per request on the event loop, where a full walk per request showed in profiles.
    The identity check guards against a reused `id` after the original was freed.
    """
    hit = _STRICT.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    if len(_STRICT) > 1024:
        _STRICT.clear()
    stripped = _without_max_length(schema)
    _STRICT[id(schema)] = (schema, stripped)
    return stripped


def _without_max_length(schema: Any) -> Any:
    # OpenAI's strict json_schema mode rejects `maxLength`; grammar-based servers honour it.
    if isinstance(schema, dict):
        return {k: _without_max_length(v) for k, v in schema.items() if k != "maxLength"}
    if isinstance(schema, list):
        return [_without_max_length(v) for v in schema]
    return schema


def response_format_body(kind: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The `response_format` field for a negotiation level (None for `plain`)."""
    if kind == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {
                "name": "step_labels",
                "schema": _strict_schema(schema),
                "strict": True,
            },
        }
    if kind == "json_object":
        return {"type": "json_object", "schema": schema}
    if kind == "plain":
        return None
    raise ValueError(f"unknown response format {kind!r}; known: {', '.join(RESPONSE_FORMATS)}")


@dataclass
class _Request:
    """One completion asked of `complete`, whichever server and format end up serving it."""

    messages: list[dict[str, str]]
    schema: dict[str, Any]
    max_tokens: int
    temperature: float
    tokens: float  # what it costs against the token rate limit

    def body(self, model: str, kind: str) -> dict[str, Any]:
        """The JSON body asking in format `kind`."""
        body: dict[str, Any] = {
            "model": model,
            "messages": self.messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        fmt = response_format_body(kind, self.schema)
        if fmt is not None:
            body["response_format"] = fmt
        return body


@dataclass
class _Response:
    """What the critic needs of an HTTP answer, read whole before the connection is reused."""

    status_code: int
    text: str
    headers: Any


class ChatClient:
    """Async chat-completions client over one or more OpenAI-compatible servers."""

    def __init__(
        self,
        base_urls: list[str],
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 6,
        concurrency: int = 8,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        response_format: str = "auto",
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        max_retry_after: float = 600.0,
        store: Any = None,
        key_hint: str | None = None,
    ) -> None:
        if not base_urls:
            raise ValueError("at least one --base-url is needed")
        if response_format != "auto" and response_format not in RESPONSE_FORMATS:
            raise ValueError(f"unknown response format {response_format!r}")
        self.model = model
        self.endpoints = [Endpoint(u.rstrip("/")) for u in base_urls]
        self.forced_format = None if response_format == "auto" else response_format
        self.store = store
        self._api_key = api_key
        self.key_hint = key_hint
        self._checked = False
        self._preflight_lock = asyncio.Lock()
        self.request_limit = rate_limit(requests_per_minute)
        self.token_limit = rate_limit(tokens_per_minute)
        self.stats = ClientStats()
        self._next = 0
        self._retrying = self._retry_policy(max_retries, backoff_base, backoff_max, max_retry_after)
        self.session = self._session(api_key, timeout, concurrency)
        self.in_flight = asyncio.Semaphore(concurrency)
        for ep in self.endpoints:
            ep.response_format = self.forced_format or (
                store.get_format(ep.base_url, model) if store is not None else None
            )

    @staticmethod
    def _session(api_key: str | None, timeout: float, concurrency: int) -> aiohttp.ClientSession:
        """The HTTP session: JSON, the key as a bearer token, `concurrency` connections.

        aiohttp rather than httpx (which the openai client uses): the critic keeps dozens of
        requests in flight from one event loop, and httpx/httpcore spend ~3 ms of pure-Python
        CPU per request, which caps a 200 ms server at ~0.8 of concurrency/latency on a busy
        core; aiohttp's C HTTP parser costs a fraction of that (vLLM's serving benchmark uses
        it for the same reason)."""
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 30.0)),
            connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency),
        )

    def _retry_policy(
        self, max_retries: int, base: float, cap: float, max_retry_after: float
    ) -> AsyncRetrying:
        """tenacity: `_Transient` failures retried up to `max_retries` times, each after the
        equal-jitter backoff or `Retry-After` (up to `max_retry_after`), whichever is longer;
        anything else (a refusal, `ServerUnusable`) goes straight through."""
        return AsyncRetrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(max_retries + 1),
            wait=_AtLeastRetryAfter(_equal_jitter(base, cap), max_retry_after),
            before_sleep=self._count_retry,
            retry_error_callback=self._give_up,
        )

    def _count_retry(self, _: RetryCallState) -> None:
        self.stats.retries += 1

    def _give_up(self, retry_state: RetryCallState) -> NoReturn:
        """Retries exhausted: the last failure, as `RequestFailed`."""
        error = retry_state.outcome.exception() if retry_state.outcome else None
        assert isinstance(error, _Transient)
        self.stats.failed_requests += 1
        retries = retry_state.attempt_number - 1
        raise RequestFailed(self.redact(f"{error} (after {retries} retries)"), error.kind)

    async def aclose(self) -> None:
        """Close the HTTP session and its connections."""
        await self.session.close()

    def redact(self, text: str) -> str:
        """`text` with the API key replaced, for anything that is logged or written."""
        if self._api_key and text:
            text = text.replace(self._api_key, "[REDACTED]")
        return text

    def formats(self) -> dict[str, str | None]:
        """The structured-output format each endpoint ended up with."""
        return {ep.base_url: ep.response_format for ep in self.endpoints}

    def _pick(self) -> Endpoint:
        """The least busy server, ties broken round-robin so load spreads evenly.

        Ours because neither the openai client nor aiohttp spreads requests over several base
        URLs."""
        self._next += 1
        n = len(self.endpoints)
        order = [self.endpoints[(self._next + i) % n] for i in range(n)]
        return min(order, key=lambda ep: ep.in_flight)

    async def preflight(self) -> None:
        """Check every server once, before the first real request; `ServerUnusable` if one
        cannot serve (see the module docstring). Slow or overloaded answers pass: the run's
        retries handle those."""
        async with self._preflight_lock:
            if self._checked:
                return
            for ep in self.endpoints:
                await self._preflight(ep)
            self._checked = True

    async def _preflight(self, ep: Endpoint) -> None:
        question = _Request([{"role": "user", "content": PREFLIGHT_PROMPT}], {}, 1, 0.0, 0)
        self.stats.preflight += 1
        try:
            response = await self._post(ep, question.body(self.model, "plain"))
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            raise ServerUnusable(ep.base_url, f"cannot connect: {_describe(e)}") from e
        except (TimeoutError, aiohttp.ClientError):
            return  # reachable but slow or flaky: the run's retries deal with that
        self._check_usable(ep, response.status_code, response.text)

    def _check_usable(self, ep: Endpoint, status: int, text: str) -> None:
        """Raise `ServerUnusable` for an answer that every request would get."""
        detail = self.redact(_error_message(text))
        if status in (401, 403):
            hint = f" (the key is read from ${self.key_hint})" if self.key_hint else ""
            raise ServerUnusable(ep.base_url, f"HTTP {status}, the key was refused{hint}: {detail}")
        lower = detail.lower()
        names_model = "model" in lower and any(w in lower for w in _MODEL_WORDS)
        if status == 404 or (status in (400, 422) and names_model):
            if names_model:
                raise ServerUnusable(
                    ep.base_url, f"HTTP {status}, unknown model {self.model!r}: {detail}"
                )
            raise ServerUnusable(
                ep.base_url,
                f"HTTP {status}, no chat-completions endpoint at {ep.url} "
                f"(does --base-url end in /v1?): {detail}",
            )

    async def complete(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        estimated_tokens: int = 0,
    ) -> Completion:
        """Ask for a completion; retries transient faults, negotiates the format; never returns
        without an answer (raises `RequestFailed` instead, or `ServerUnusable`)."""
        if not self._checked:
            await self.preflight()
        request = _Request(
            messages, schema, max_tokens, temperature, tokens=estimated_tokens + max_tokens
        )
        # A copy per call: a tenacity policy keeps its attempt state on itself.
        return await self._retrying.copy()(self._attempt, request)

    async def _attempt(self, request: _Request) -> Completion:
        """One try, which may take several requests: a refused format is asked again at once in
        the next one (a fallback, not a retry)."""
        while True:
            ep, kind, response = await self._send(request)
            completion = self._read(ep, kind, response)
            if completion is not None:
                return completion

    async def _send(self, request: _Request) -> tuple[Endpoint, str, _Response]:
        """Post `request` to the least busy server, within the rate limits and `concurrency`;
        a transport failure is `_Transient`."""
        await take(self.request_limit, 1)
        await take(self.token_limit, request.tokens)
        async with self.in_flight:
            ep = self._pick()  # after waiting for a slot, so "least busy" is current
            kind = ep.response_format or RESPONSE_FORMATS[0]
            ep.in_flight += 1
            self.stats.requests += 1
            try:
                response = await self._post(ep, request.body(self.model, kind))
            except (TimeoutError, aiohttp.ClientError) as e:
                self.stats.statuses[type(e).__name__] += 1
                raise _Transient(_describe(e), _kind_of(e)) from e
            finally:
                ep.in_flight -= 1
        self.stats.statuses[str(response.status_code)] += 1
        return ep, kind, response

    async def _post(self, ep: Endpoint, body: dict[str, Any]) -> _Response:
        async with self.session.post(ep.url, json=body) as answer:
            return _Response(answer.status, await answer.text(), answer.headers)

    def _read(self, ep: Endpoint, kind: str, response: _Response) -> Completion | None:
        """The completion in `response`; None when the server refused format `kind` (the
        endpoint has fallen back, ask again); `_Transient` for a failure worth a retry,
        `RequestFailed` or `ServerUnusable` for a refusal."""
        status, text = response.status_code, response.text
        if status == 200:
            completion = self._parse(text)
            completion.response_format = kind
            self._remember(ep, kind)
            return completion
        if self._refuses_format(status, text, kind):
            self._fall_back(ep, kind)
            return None
        if status in RETRYABLE_STATUS or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise _Transient(f"HTTP {status}: {text[:300]}", f"http-{status}", retry_after)
        self.stats.failed_requests += 1
        self._check_usable(ep, status, text)
        raise RequestFailed(
            self.redact(f"{ep.base_url} refused the request: HTTP {status}: {text[:500]}"),
            f"http-{status}",
        )

    def _parse(self, text: str) -> Completion:
        """The completion in a 200 body (its tokens counted); `_Transient` when unreadable."""
        try:
            data = json.loads(text)
            message = data["choices"][0]["message"]
            content = message.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise _Transient(f"malformed response body: {text[:200]!r}", "malformed-body") from None
        usage = data.get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        self.stats.prompt_tokens += prompt
        self.stats.completion_tokens += completion
        return Completion(
            content=content,
            usage={"prompt_tokens": prompt, "completion_tokens": completion},
            response_format="",
        )

    def _remember(self, ep: Endpoint, kind: str) -> None:
        """The first answered format of an endpoint is its format from now on (and in the
        store, unless the format was forced)."""
        if ep.response_format is None:
            ep.response_format = kind
            if self.store is not None and self.forced_format is None:
                self.store.put_format(ep.base_url, self.model, kind)

    def _refuses_format(self, status: int, text: str, kind: str) -> bool:
        if self.forced_format is not None or kind == "plain":
            return False
        if status not in (400, 422, 500, 501):
            return False
        lower = text.lower()
        return any(word in lower for word in _FORMAT_WORDS)

    def _fall_back(self, ep: Endpoint, kind: str) -> None:
        following = RESPONSE_FORMATS[RESPONSE_FORMATS.index(kind) + 1]
        # Concurrent requests may all be refused; only the first moves the endpoint down.
        if ep.response_format in (None, kind):
            ep.response_format = following
            self.stats.format_fallbacks += 1
            if self.store is not None:
                with contextlib.suppress(Exception):
                    self.store.put_format(ep.base_url, self.model, following)


def _describe(error: BaseException) -> str:
    """`Type: message` of a transport error (aiohttp's messages are sometimes empty)."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _kind_of(error: BaseException) -> str:
    """The failure kind of a transport error."""
    if isinstance(error, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return "connection"
    if isinstance(error, TimeoutError):
        return "timeout"
    return "dropped-connection"  # the server closed the connection or cut the body


def _error_message(text: str) -> str:
    """The `error.message` of an OpenAI-style error body, else the body's start."""
    try:
        data = json.loads(text)
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else None
        if message is None:
            message = data.get("detail") or data.get("message") or data.get("error")
        if isinstance(message, str):
            return message[:300]
    except (ValueError, AttributeError, TypeError, KeyError):
        pass
    return text.strip()[:300]
