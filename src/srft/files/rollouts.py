"""`rollout/<model>.json`: models rolled out in an environment, with success rates and pairings.

Closed-loop evaluation writes this file (`srft toy eval`, and the `rollout/*` stages of
`srft run`): every model plays the *same* episodes of one environment (same count, seed and
episode settings) in one or more decoding modes (`greedy`, `T=1`, ...). Per mode and model it
keeps the success rate with its Wilson 95% interval and the per-episode `outcomes`, so files
written one model at a time can be merged and every pair of models compared episode by episode
(`srft.evaluate.rollout_stats`). Besides `success`, a model's record keeps whatever measures
its environment adds (the toy's error and wrong-edit rates, per level, ...): the report shows
the ones it knows and the file carries the rest.

The environment-neutral successor of the toy's `srft.toy-eval` v1 file: `read_rollouts` still
reads those (they become `environment: toy`, their `levels` its `settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srft.files.base import FileFormatError, JsonDocument

ROLLOUTS_FORMAT = "srft.rollouts"
ROLLOUTS_VERSION = 1
# What `srft toy eval` wrote before rollouts became environment-neutral.
LEGACY_FORMAT = "srft.toy-eval"
LEGACY_VERSION = 1


class Rate(BaseModel):
    """A proportion `k / n` with its Wilson 95% interval (`lo`, `hi`)."""

    rate: float = Field(description="`k / n` (0..1; 0 when `n` is 0).")
    lo: float = Field(description="The Wilson 95% interval's lower bound (0..1).")
    hi: float = Field(description="The Wilson 95% interval's upper bound (0..1).")
    k: int = Field(description="Successes.")
    n: int = Field(description="Cases (episodes).")


class Difference(BaseModel):
    """The mean paired difference of two models over the same `n` cases, with a 95% interval."""

    diff: float = Field(description="Mean per-case difference `a - b` (for success as 0/1: -1..1).")
    lo: float = Field(description="The 95% normal interval's lower bound.")
    hi: float = Field(description="The 95% normal interval's upper bound.")
    n: int = Field(description="Cases paired (the episodes both models played).")


class ModelRollouts(BaseModel):
    """One model's rollouts in one mode; further keys are the environment's own measures."""

    model_config = ConfigDict(extra="allow")

    success: Rate
    outcomes: list[bool] | None = Field(
        None,
        description="Success per episode, in episode order: what pairs models episode by "
        "episode (a merged result the report shows drops them once paired).",
    )


class ModeRollouts(BaseModel):
    """Every model of one decoding mode, and the paired difference of each pair (`"a - b"`)."""

    model_config = ConfigDict(extra="forbid")

    students: dict[str, ModelRollouts]
    paired: dict[str, Difference] = Field(default_factory=dict)


class RolloutResults(BaseModel):
    """A rollout-results file (format `srft.rollouts`)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["srft.rollouts"] = ROLLOUTS_FORMAT
    version: Literal[1] = ROLLOUTS_VERSION
    environment: str = Field(description="The environment plug-in the models played in.")
    episodes: int = Field(description="Episodes each model played, the same for all.")
    seed: int = Field(description="Seed of the episodes (and of sampling).")
    step_limit: int | None = Field(None, description="Turns per episode before it is cut off.")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="The environment's further settings that decide the episodes (toy: levels).",
    )
    modes: dict[str, ModeRollouts]
    probes: dict[str, Any] = Field(
        default_factory=dict, description="Environment-specific probes of each model, by model."
    )
    models: dict[str, str] = Field(
        default_factory=dict, description="Where each model was loaded from, by name."
    )

    def episode_set(self) -> list[Any]:
        """What must be equal for two results to be on the same episodes (and so pairable)."""
        return [self.environment, self.episodes, self.seed, self.step_limit, self.settings]


ROLLOUTS = JsonDocument(
    name="rollout/<model>.json", model=RolloutResults, what="an srft rollout-results file", written_by="srft toy eval --out; srft run (rollout stages)",
    format=ROLLOUTS_FORMAT, version=ROLLOUTS_VERSION, indent=1, doc="docs/run.md",
)  # fmt: skip
# The same file read without a header check, so a legacy `srft.toy-eval` file can be converted.
_ANY_HEADER = JsonDocument(
    name=ROLLOUTS.name, model=RolloutResults, what=ROLLOUTS.what, written_by=ROLLOUTS.written_by
)

FILES = (ROLLOUTS,)


def from_toy_eval(data: Mapping[str, Any]) -> dict[str, Any]:
    """A legacy `srft.toy-eval` v1 result as `srft.rollouts` data (the toy, its levels)."""
    known = {"format", "version", "levels", "episodes", "seed", "step_limit", "modes"}
    return {
        "format": ROLLOUTS_FORMAT,
        "version": ROLLOUTS_VERSION,
        "environment": "toy",
        "episodes": data.get("episodes"),
        "seed": data.get("seed"),
        "step_limit": data.get("step_limit"),
        "settings": {"levels": data["levels"]} if "levels" in data else {},
        "modes": data.get("modes"),
        **{k: v for k, v in data.items() if k not in known},
    }


def parse_rollouts(data: Mapping[str, Any]) -> RolloutResults:
    """Validate rollout results (either format); `ValueError` with the reason otherwise."""
    if data.get("format") == LEGACY_FORMAT and data.get("version") == LEGACY_VERSION:
        data = from_toy_eval(data)
    return ROLLOUTS.validate(dict(data))


def read_rollouts(path: str | Path) -> RolloutResults:
    """The rollout results of `path`; `FileFormatError` naming the path otherwise."""
    data = _ANY_HEADER.load(path)
    try:
        return parse_rollouts(data)
    except ValueError as e:
        raise FileFormatError(path, str(e)) from e


def write_rollouts(path: str | Path, results: RolloutResults) -> Path:
    """Write `results` to `path` atomically (its folder created)."""
    return ROLLOUTS.write(path, results)
