"""The critic registry: every critic is reachable by name, so a new one is one new module.

A critic labels every step of a trajectory. Offline critics (`rules`, `file`) answer at once
and implement `judge(trajectory) -> Verdict`. The `llm` critic talks to a server and implements
`ajudge(trajectory) -> Verdict` as a coroutine; `srft.critic.run.run_critic` drives either kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from srft.files.corpus import Trajectory
from srft.files.verdicts import CriticInfo, Verdict


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


# name -> "module:factory"; imported lazily so `rules` never pulls in the HTTP stack.
_FACTORIES: dict[str, str] = {
    "rules": "srft.critic.rules:RulesCritic",
    "file": "srft.critic.file:FileCritic",
    "llm": "srft.critic.llm:build_llm_critic",
    "published": "srft.critic.published:PublishedCritic",
}


def register_critic(name: str, factory: str | Callable[..., Any]) -> None:
    """Make a critic available under `name` (`factory` is a callable or "module:attribute")."""
    if callable(factory):
        _registered[name] = factory
    else:
        _FACTORIES[name] = factory


_registered: dict[str, Callable[..., Any]] = {}


def critic_names() -> list[str]:
    """The names `get_critic` accepts."""
    return sorted({*_FACTORIES, *_registered})


def get_critic(name: str, **options: Any) -> Critic | AsyncCritic:
    """Build the critic called `name` with its options (e.g. `labels_from=` for `file`)."""
    if name in _registered:
        return _registered[name](**options)
    if name not in _FACTORIES:
        raise ValueError(f"unknown critic {name!r}; known: {', '.join(critic_names())}")
    module, attr = _FACTORIES[name].split(":")
    return getattr(importlib.import_module(module), attr)(**options)
