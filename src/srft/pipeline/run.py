"""`srft run` as a Python function: load a config, build its graph, run it, summarise.

The CLI (`srft run`, `srft demo`) is a thin layer over `run_config` and `run_demo`, so a notebook
or another tool can drive a whole run the same way.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from srft.memory import return_freed_memory
from srft.pipeline.config import RunConfig, load_config
from srft.pipeline.graph import StageOutcome, run_stages
from srft.pipeline.stages import build_graph

DEMO_CONFIG = "demo.yaml"


@dataclass
class RunResult:
    """What a run did and where its results are."""

    run_dir: Path
    outcomes: list[StageOutcome]

    @property
    def ran(self) -> list[str]:
        """Keys of the stages that did work (ran or resumed) in this invocation."""
        return [o.key for o in self.outcomes if o.decision != "skip"]

    @property
    def report(self) -> Path | None:
        """The report, if this run writes one."""
        path = self.run_dir / "report.html"
        return path if path.exists() else None

    @property
    def comparison(self) -> Path:
        """The comparison table (markdown)."""
        return self.run_dir / "comparison.md"


def run_config(
    config: RunConfig | str | Path,
    *,
    force: Iterable[str] = (),
    log: Callable[[str], None] = print,
) -> RunResult:
    """Run every stage of `config` (a loaded config or a YAML path) that is not up to date.

    The whole config is checked first (`check.check_config`): a misspelt name or a missing file
    fails here, before the first stage, not after an hour of training.
    """
    config = checked_config(config)
    return_freed_memory()  # the stages train and evaluate in this process (srft.memory)
    run_dir = Path(config.run_dir)
    outcomes = run_stages(
        build_graph(config),
        run_dir,
        config=config.recorded(),
        force=force,
        log=log,
    )
    return RunResult(run_dir=run_dir, outcomes=outcomes)


def checked_config(config: RunConfig | str | Path) -> RunConfig:
    """`config` loaded (from a YAML path) and checked; `ConfigError` names every problem."""
    from srft.pipeline.check import check_config

    where = "<config>" if isinstance(config, RunConfig) else str(config)
    if not isinstance(config, RunConfig):
        config = load_config(config)
    check_config(config, where)
    return config


def demo_config_text() -> str:
    """The demo config shipped in the package (`srft/pipeline/demo/demo.yaml`)."""
    return (
        resources.files("srft.pipeline").joinpath("demo", DEMO_CONFIG).read_text(encoding="utf-8")
    )


def prepare_demo(folder: Path) -> Path:
    """Put the demo config into `folder` (kept if already there, so edits survive); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / DEMO_CONFIG
    if not target.exists():
        with resources.as_file(
            resources.files("srft.pipeline").joinpath("demo", DEMO_CONFIG)
        ) as src:
            shutil.copyfile(src, target)
    return target


def demo_unavailable() -> str | None:
    """Why the demo cannot run here (its environment plug-in is not installed), or None."""
    import yaml

    from srft.evaluate.environment import EnvironmentUnavailable, get_environment

    name = yaml.safe_load(demo_config_text())["environment"]["name"]
    try:
        get_environment(name)
    except EnvironmentUnavailable as e:
        return f"the demo plays in the {name!r} environment, which is not available: {e}"
    return None


def run_demo(
    folder: Path, *, force: Iterable[str] = (), log: Callable[[str], None] = print
) -> RunResult:
    """The embedded demo: toy trajectories, the rules critic, SmolLM2 + LoRA, the report."""
    return run_config(prepare_demo(folder), force=force, log=log)
