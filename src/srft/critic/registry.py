"""The critic registry: every critic is reachable by name, so a new one is one new module.

A critic labels every step of a trajectory. Offline critics (`rules`, `file`, `published`)
answer at once and implement `judge(trajectory) -> Verdict`. The `llm` critic talks to a server
and implements `ajudge(trajectory) -> Verdict` as a coroutine; `srft.critic.run.run_critic`
drives either kind. `CRITICS` maps a name to the critic's factory (called with the critic's
options); the built-ins are imported on first use, so `rules` never pulls in the HTTP stack,
and a third-party package adds a critic through the `srft.critics` entry-point group.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from srft.files.corpus import Trajectory
from srft.files.verdicts import CriticInfo, Verdict
from srft.registry import Registry


@runtime_checkable
class Critic(Protocol):
    """An offline critic: one verdict per trajectory, no I/O beyond what it was built with."""

    name: str

    def info(self) -> CriticInfo:
        """The identity recorded in every verdict this critic writes."""
        ...

    def judge(self, trajectory: Trajectory) -> Verdict:
        """Label every step of `trajectory` (or return a `failed` verdict saying why not)."""
        ...


@runtime_checkable
class AsyncCritic(Protocol):
    """A critic that needs the network: `ajudge` is awaited, many at a time."""

    name: str

    def info(self) -> CriticInfo: ...

    async def ajudge(self, trajectory: Trajectory) -> Verdict: ...


class UnknownCritic(ValueError):
    """A critic name no module provides; the message lists the known ones."""


CRITICS: Registry[Callable[..., Any]] = Registry("critic", "srft.critics", error=UnknownCritic)
CRITICS.lazy("rules", "srft.critic.rules:RulesCritic")
CRITICS.lazy("file", "srft.critic.file:FileCritic")
CRITICS.lazy("llm", "srft.critic.llm:build_llm_critic")
CRITICS.lazy("published", "srft.critic.published:PublishedCritic")


def critic_names() -> list[str]:
    """The names `get_critic` accepts."""
    return CRITICS.names()


def get_critic(name: str, **options: Any) -> Critic | AsyncCritic:
    """Build the critic called `name` with its options (e.g. `labels_from=` for `file`)."""
    return CRITICS.get(name)(**options)


def critic_options(name: str) -> list[str]:
    """The option names the critic `name` accepts: its factory's keywords, or, for a factory
    that passes its options on (`**options`), the names its `option_names()` lists."""
    factory = CRITICS.get(name)
    listed = getattr(factory, "option_names", None)
    if callable(listed):
        return list(listed())
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [n for n, p in inspect.signature(factory).parameters.items() if p.kind in kinds]
