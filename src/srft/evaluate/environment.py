"""Closed-loop evaluation: environments that students are rolled out in, as plug-ins.

Held-out NLL (`srft.evaluate.nll`) says how a student scores steps it is shown; only rolling it
out as an agent says whether it solves tasks. An `Environment` does that: given models, it plays
the same episodes with each and writes a rollout-results file (`srft.files.rollouts`), which the
report shows and `srft.evaluate.rollout_stats` pairs episode by episode. An environment that can
also *produce* training trajectories (a `TrajectorySource`: scripted episodes with earned
outcomes and the true label of every step) can feed a whole `srft run` by itself, and its true
labels let a run score the critic.

Environments are found by name in `ENVIRONMENTS` (the `srft.environments` entry-point group), so
an environment lives in its own package: srft's toy testbed (`srft.toy.environment`) registers
itself from pyproject.toml and nothing in the product imports it. A SWE-bench hand-off could be
one too: its `rollout` would serve each model, run the agent on the benchmark's instances and
score the patches with the harness (what `srft evaluate handoff` now writes commands for),
writing the same file with `environment: swe-bench`.

A run config names one: `environment: {name: toy, settings: {...}, rollout: {...}}`.
`settings` is the environment's own schema (`Environment.settings_model`), `rollout` the
`RolloutSettings` below, the same for every environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from srft.files.rollouts import RolloutResults
from srft.registry import Registry, UnknownName


class RolloutSettings(BaseModel):
    """Roll each student (and the base model) out in the environment on fresh episodes, the same
    episodes for all: the closed loop's success rates, with paired differences, in the report."""

    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(
        0, ge=0, description="Fresh episodes per model; 0 turns the rollouts off."
    )
    temperatures: list[float] = Field(
        default_factory=lambda: [0.0],
        description="Decoding temperatures, one rollout of every episode each; 0 is greedy.",
    )
    step_limit: int = Field(8, ge=1, description="Turns per episode before it is cut off.")
    max_new_tokens: int = Field(64, ge=8, description="Longest reply per turn, in tokens.")
    seed: int = Field(
        9_999, description="Seed of the fresh episodes (and of sampling); not the generator's."
    )

    @field_validator("temperatures")
    @classmethod
    def _temperatures(cls, value: list[float]) -> list[float]:
        if not value or any(t < 0 for t in value):
            raise ValueError("give at least one temperature, each >= 0")
        return value


@dataclass(frozen=True)
class GeneratedFiles:
    """Where a `TrajectorySource` put what it generated, in formats `srft ingest` reads."""

    trajectories: Path  # a file or folder of trajectories
    outcomes: Path  # their outcome labels (`srft ingest --labels`)
    labels: Path | None = None  # true step labels as `srft.verdicts`, keyed by instance id


class Environment(Protocol):
    """Something students can be rolled out in (see the module docstring)."""

    name: str
    # The schema of `environment.settings` in a run config (unknown keys should be errors).
    settings_model: type[BaseModel]

    def rollout(
        self, models: Mapping[str, str], settings: RolloutSettings, out: Path
    ) -> RolloutResults:
        """Play the same episodes with every model (name -> model or `srft train` run folder)
        and write the results to `out` (`srft.files.rollouts`)."""
        ...


@runtime_checkable
class TrajectorySource(Protocol):
    """An environment that also produces training trajectories with known outcomes."""

    # Whether `generate` writes true step labels (a run can then score its critic).
    true_labels: bool

    def generate(self, out_dir: Path, settings: BaseModel) -> Any:
        """Write trajectories, outcomes (and true labels) under `out_dir`; return a summary
        (a dataclass, model or mapping) that the run manifest keeps."""
        ...

    def generated(self, out_dir: Path) -> GeneratedFiles:
        """The files `generate` wrote under `out_dir` (read back after a skipped generate)."""
        ...


class EnvironmentUnavailable(UnknownName):
    """An environment that is not installed, or that cannot do what a run asks of it."""


ENVIRONMENTS: Registry[Environment] = Registry(
    "environment", "srft.environments", error=EnvironmentUnavailable
)


def get_environment(name: str) -> Environment:
    """The environment registered as `name`; `EnvironmentUnavailable` listing the known ones."""
    return ENVIRONMENTS.get(name)


def generates_trajectories(environment: Environment) -> bool:
    """Whether `environment` can feed a run by itself (see `TrajectorySource`)."""
    return isinstance(environment, TrajectorySource)


def has_true_labels(environment: Environment) -> bool:
    """Whether `environment` generates trajectories with the true label of every step."""
    return isinstance(environment, TrajectorySource) and environment.true_labels
