"""The toy testbed as an environment plug-in (`srft.evaluate.environment`).

Registered under the name `toy` in the `srft.environments` entry-point group (pyproject.toml),
so a run config says `environment: {name: toy, settings: {episodes: 30}}` and the pipeline
never imports this package: it generates the run's trajectories, outcomes and true step labels
(`srft toy generate`) and rolls the students out on fresh episodes (`srft toy eval`).

Importing this module is cheap (pydantic only): the run config is validated against
`ToySettings` before any stage runs, and the teacher and torch load when a stage needs them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from srft.evaluate.environment import GeneratedFiles, RolloutSettings
from srft.files.rollouts import RolloutResults, parse_rollouts, write_rollouts

NAME = "toy"


class ToySettings(BaseModel):
    """Generate the trajectories with the toy testbed (`srft toy generate`) instead of reading
    `inputs`: a closed loop whose outcomes and true step labels are known. Used by the demo."""

    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(24, ge=2, description="How many toy episodes (trajectories) to generate.")
    seed: int = Field(0, description="Generator seed: the same seed gives the same trajectories.")
    levels: list[int] | None = Field(
        None, description="Difficulty levels to draw episodes from (default: all of them)."
    )
    teacher: str | dict[str, float] = Field(
        "default",
        description=(
            "The scripted teacher's noise: a preset name (`default`, `sloppy`) or its rates "
            "(`typo`, `unnecessary`, `first_hit`, `wrong_value`, `premature_submit`, `recover`)."
        ),
    )


class ToyEnvironment:
    """A toy 'fix a config value' environment with a noisy scripted teacher (docs/toy.md)."""

    name = NAME
    settings_model = ToySettings
    true_labels = True

    def generate(self, out_dir: Path, settings: BaseModel) -> Any:
        """Play `settings.episodes` episodes with the teacher (`srft toy generate`)."""
        from srft.toy.generate import generate
        from srft.toy.teacher import TeacherConfig

        assert isinstance(settings, ToySettings)
        teacher = (
            TeacherConfig.preset(settings.teacher)
            if isinstance(settings.teacher, str)
            else TeacherConfig(**settings.teacher)
        )
        extra = {"levels": tuple(settings.levels)} if settings.levels else {}
        return generate(out_dir, settings.episodes, seed=settings.seed, config=teacher, **extra)

    def generated(self, out_dir: Path) -> GeneratedFiles:
        """The files of a generated toy folder, as its `toy.json` lists them."""
        from srft.toy.generate import MANIFEST_FILE

        files = json.loads((out_dir / MANIFEST_FILE).read_text(encoding="utf-8"))["files"]
        return GeneratedFiles(
            trajectories=out_dir / files["trajectories"],
            outcomes=out_dir / files["outcomes"],
            labels=out_dir / files["labels"],
        )

    def rollout(
        self, models: Mapping[str, str], settings: RolloutSettings, out: Path
    ) -> RolloutResults:
        """Every model on the same fresh toy episodes (`srft toy eval`), written to `out`."""
        from srft.toy.eval import evaluate_paths

        result = evaluate_paths(
            dict(models),
            episodes=settings.episodes,
            seed=settings.seed,
            temperatures=tuple(settings.temperatures),
            max_steps=settings.step_limit,
            max_new_tokens=settings.max_new_tokens,
        )
        results = parse_rollouts(result)
        write_rollouts(out, results)
        return results


ENVIRONMENT = ToyEnvironment()
