"""OpenAI-compatible chat completions: structured-output negotiation, retries, rate limits.

Written on an HTTP client directly (aiohttp, see `ChatClient`) rather than the `openai` package because the critic needs what that
client hides: the raw status and body of a refused `response_format` (to fall back to another
one), `Retry-After` honoured exactly, our own backoff with jitter across several servers, and
the raw answer text kept even when it is not what we asked for.

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
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

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
        """A JSON-ready copy."""
        return {
            "requests": self.requests,
            "preflight": self.preflight,
            "retries": self.retries,
            "failed_requests": self.failed_requests,
            "format_fallbacks": self.format_fallbacks,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "statuses": dict(sorted(self.statuses.items())),
        }


class RateLimiter:
    """A token bucket refilled continuously at `per_minute`; `acquire(n)` waits for n units.

    A request larger than the whole bucket is let through when the bucket is full (and drives it
    negative), so one oversized prompt cannot block forever.
    """

    def __init__(self, per_minute: float) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.capacity = float(per_minute)
        self.level = self.capacity
        self.rate = per_minute / 60.0
        self.last = time.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self, amount: float = 1.0) -> None:
        """Wait until `amount` units are available, then take them."""
        async with self.lock:
            while True:
                now = time.monotonic()
                self.level = min(self.capacity, self.level + (now - self.last) * self.rate)
                self.last = now
                need = min(amount, self.capacity)
                if self.level >= need:
                    self.level -= amount
                    return
                await asyncio.sleep((need - self.level) / self.rate)


@dataclass
class Endpoint:
    """One server (`base_url` ends before `/chat/completions`, e.g. `http://host:8000/v1`)."""

    base_url: str
    response_format: str | None = None
    in_flight: int = 0


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
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.store = store
        self._api_key = api_key
        self.key_hint = key_hint
        self._checked = False
        self._preflight_lock = asyncio.Lock()
        self.request_limit = RateLimiter(requests_per_minute) if requests_per_minute else None
        self.token_limit = RateLimiter(tokens_per_minute) if tokens_per_minute else None
        self.stats = ClientStats()
        self._next = 0
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        # aiohttp rather than httpx (which the openai client uses): the critic keeps dozens of
        # requests in flight from one event loop, and httpx/httpcore spend ~3 ms of pure-Python
        # CPU per request, which caps a 200 ms server at ~0.8 of concurrency/latency on a busy
        # core; aiohttp's C HTTP parser costs a fraction of that (vLLM's serving benchmark uses
        # it for the same reason). The semaphore bounds requests in flight to `concurrency`.
        self.session = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 30.0)),
            connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency),
        )
        self.in_flight = asyncio.Semaphore(concurrency)
        for ep in self.endpoints:
            ep.response_format = self.forced_format or (
                store.get_format(ep.base_url, model) if store is not None else None
            )

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
        # Least busy server first; ties broken round-robin so load spreads evenly.
        self._next += 1
        n = len(self.endpoints)
        order = [self.endpoints[(self._next + i) % n] for i in range(n)]
        return min(order, key=lambda ep: ep.in_flight)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2**attempt) * random.uniform(0.5, 1.0)

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
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": PREFLIGHT_PROMPT}],
            "max_tokens": 1,
            "temperature": 0.0,
        }
        self.stats.preflight += 1
        try:
            async with self.session.post(f"{ep.base_url}/chat/completions", json=body) as answer:
                status, text = answer.status, await answer.text()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            raise ServerUnusable(ep.base_url, f"cannot connect: {_describe(e)}") from e
        except (TimeoutError, aiohttp.ClientError):
            return  # reachable but slow or flaky: the run's retries deal with that
        self._check_usable(ep, status, text)

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
                f"HTTP {status}, no chat-completions endpoint at {ep.base_url}/chat/completions "
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
        attempt = 0
        kind_of_error = "unknown"
        while True:
            if self.request_limit:
                await self.request_limit.acquire(1)
            if self.token_limit:
                await self.token_limit.acquire(estimated_tokens + max_tokens)
            await self.in_flight.acquire()
            ep = self._pick()  # after waiting for a slot, so "least busy" is current
            kind = ep.response_format or RESPONSE_FORMATS[0]
            body: dict[str, Any] = {
                "model": self.model,
                "messages": messages,
                "max_tokens": max_tokens,
                "temperature": temperature,
            }
            fmt = response_format_body(kind, schema)
            if fmt is not None:
                body["response_format"] = fmt
            error: str
            retry_after: float | None = None
            ep.in_flight += 1
            self.stats.requests += 1
            response: _Response | None = None
            try:
                async with self.session.post(
                    f"{ep.base_url}/chat/completions", json=body
                ) as answer:
                    response = _Response(answer.status, await answer.text(), answer.headers)
            except (TimeoutError, aiohttp.ClientError) as e:
                error = _describe(e)
                kind_of_error = _kind_of(e)
                self.stats.statuses[type(e).__name__] += 1
            finally:
                ep.in_flight -= 1
                self.in_flight.release()
            if response is not None:
                self.stats.statuses[str(response.status_code)] += 1
                text = response.text
                if response.status_code == 200:
                    parsed = self._parse(text)
                    if isinstance(parsed, Completion):
                        parsed.response_format = kind
                        if ep.response_format is None:
                            ep.response_format = kind
                            if self.store is not None and self.forced_format is None:
                                self.store.put_format(ep.base_url, self.model, kind)
                        return parsed
                    error, kind_of_error = parsed, "malformed-body"
                elif self._refuses_format(response.status_code, text, kind):
                    self._fall_back(ep, kind)
                    continue
                elif response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
                    error = f"HTTP {response.status_code}: {text[:300]}"
                    kind_of_error = f"http-{response.status_code}"
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                else:
                    self.stats.failed_requests += 1
                    self._check_usable(ep, response.status_code, text)
                    raise RequestFailed(
                        self.redact(
                            f"{ep.base_url} refused the request: HTTP "
                            f"{response.status_code}: {text[:500]}"
                        ),
                        f"http-{response.status_code}",
                    )
            if attempt >= self.max_retries:
                self.stats.failed_requests += 1
                raise RequestFailed(
                    self.redact(f"{error} (after {attempt} retries)"), kind_of_error
                )
            attempt += 1
            self.stats.retries += 1
            delay = self._backoff(attempt - 1)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.max_retry_after))
            await asyncio.sleep(delay)

    def _parse(self, text: str) -> Completion | str:
        import json

        try:
            data = json.loads(text)
            message = data["choices"][0]["message"]
            content = message.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return f"malformed response body: {text[:200]!r}"
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
    import json

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
