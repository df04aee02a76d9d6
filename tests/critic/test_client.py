"""Pieces of the chat client: Retry-After, rate limits, the response_format spellings."""

from __future__ import annotations

import asyncio
import email.utils
import time

from srft.critic.client import RateLimiter, parse_retry_after, response_format_body
from srft.critic.prompt import answer_schema


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert parse_retry_after("3") == 3.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after(later) <= 31
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_a_rate_limit_lets_a_minutes_worth_through_then_paces_the_rest():
    async def take(n: int) -> float:
        limiter = RateLimiter(per_minute=600)  # 10 per second
        started = time.monotonic()
        for _ in range(n):
            await limiter.acquire(1)
        return time.monotonic() - started

    assert asyncio.run(take(600)) < 0.5
    assert asyncio.run(take(603)) >= 0.25


def test_json_schema_drops_max_length_for_strict_servers_and_json_object_keeps_it():
    schema = answer_schema(["0"], max_reason_chars=50)
    strict = response_format_body("json_schema", schema)
    assert strict["json_schema"]["strict"] is True
    assert "maxLength" not in str(strict)
    inline = response_format_body("json_object", schema)
    assert inline == {"type": "json_object", "schema": schema}
    assert response_format_body("plain", schema) is None
