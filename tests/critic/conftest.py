"""Fixtures of the critic's tests: the fault-injecting chat server and corpus writers."""

from __future__ import annotations

import pytest

from .fake_server import FakeChatServer


@pytest.fixture
def server():
    """A fresh fault-injecting chat-completions server on loopback (all formats accepted)."""
    with FakeChatServer(hang_seconds=5.0) as s:
        yield s
