"""Pieces of the chat client: Retry-After, rate limits, the response_format spellings."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from srft.critic.client import parse_retry_after, rate_limit, response_format_body, take
from srft.critic.prompt import answer_schema


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert parse_retry_after("3") == 3.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after(later) <= 31
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_a_rate_limit_lets_a_minutes_worth_through_then_paces_the_rest():
    async def pace(n: int) -> float:
        limiter = rate_limit(per_minute=600)  # 10 per second
        started = time.monotonic()
        for _ in range(n):
            await take(limiter, 1)
        return time.monotonic() - started

    assert asyncio.run(pace(600)) < 0.5
    assert asyncio.run(pace(603)) >= 0.25


def test_a_request_larger_than_the_whole_bucket_waits_for_it_to_empty_instead_of_forever():
    async def oversized() -> float:
        limiter = rate_limit(per_minute=600)
        await take(limiter, 1)  # 0.1 s of tokens to drain before the bucket is empty
        started = time.monotonic()
        await take(limiter, 10_000)
        return time.monotonic() - started

    assert 0.05 <= asyncio.run(asyncio.wait_for(oversized(), 5)) < 1.0


def test_no_limit_waits_for_nothing_and_a_limit_must_be_positive():
    assert rate_limit(None) is None
    asyncio.run(take(None, 10**9))
    with pytest.raises(ValueError, match="must be positive"):
        rate_limit(0)


def test_json_schema_drops_max_length_for_strict_servers_and_json_object_keeps_it():
    schema = answer_schema(["0"], max_reason_chars=50)
    strict = response_format_body("json_schema", schema)
    assert strict["json_schema"]["strict"] is True
    assert "maxLength" not in str(strict)
    inline = response_format_body("json_object", schema)
    assert inline == {"type": "json_object", "schema": schema}
    assert response_format_body("plain", schema) is None
