"""`srft run --dry-run`: what a run would do, and what its critic would cost, without doing it.

Prints the stage plan (run, skip or resume, and why, from the manifest: see `graph.plan_stages`)
and the critic's requests and tokens. The estimate renders the critic's real prompts (the same
`PromptBuilder` plans, windows and truncation the run would use) and counts their tokens by the
critic's own estimate; completion tokens are the budget the critic would ask for. It needs the
corpus: the run folder's own `corpus.jsonl` when ingest is up to date, else the inputs are
ingested (or the environment's trajectories generated) into a temporary folder then deleted.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from srft.pipeline.actions import generate_action, ingest_action
from srft.pipeline.config import TRUE_LABELS, RunConfig
from srft.pipeline.graph import PlannedStage, StageContext, plan_stages
from srft.pipeline.stages import build_graph

# Critics known to send nothing, so the dry run need not build them (the `file` critic reads its
# labels when built). Any other critic is built: one without an `estimate` method is offline too.
OFFLINE_CRITICS = frozenset({"rules", "file", "published"})


@dataclass
class CriticEstimate:
    """What the critic stage would send: requests, prompt and completion tokens."""

    critic: str
    trajectories: int
    requests: int
    prompt_tokens: int
    completion_tokens: int
    source: str
    offline: bool = False

    def line(self) -> str:
        """One line for the dry-run output."""
        if self.offline:
            return (
                f"critic `{self.critic}`: offline, 0 requests, 0 tokens "
                f"({self.trajectories} trajectories, {self.source})"
            )
        return (
            f"critic `{self.critic}`: {self.requests} requests for {self.trajectories} "
            f"trajectories, ~{self.prompt_tokens:,} prompt tokens + up to "
            f"{self.completion_tokens:,} completion tokens ({self.source})"
        )


def estimate_critic(config: RunConfig, corpus: Path, source: str) -> CriticEstimate:
    """The critic's requests and tokens over `corpus`, planned as the run would plan them."""
    from srft.files.corpus import CORPUS

    trajectories = list(CORPUS.read(corpus))
    name = config.critic.name
    if name in OFFLINE_CRITICS:
        return CriticEstimate(name, len(trajectories), 0, 0, 0, source, offline=True)
    from srft.critic.registry import get_critic

    critic = get_critic(name, **config.critic.options)
    estimate = getattr(critic, "estimate", None)
    if estimate is None:  # a critic that sends no requests
        return CriticEstimate(name, len(trajectories), 0, 0, 0, source, offline=True)
    requests = prompt = completion = 0
    for trajectory in trajectories:
        n, p, c = estimate(trajectory)
        requests, prompt, completion = requests + n, prompt + p, completion + c
    return CriticEstimate(name, len(trajectories), requests, prompt, completion, source)


def _corpus_for_estimate(
    config: RunConfig, run_dir: Path, plan: list[PlannedStage], scratch: Path
) -> tuple[Path, str]:
    decisions = {p.key: p.decision for p in plan}
    corpus = run_dir / "corpus.jsonl"
    if decisions.get("ingest") == "skip" and corpus.exists():
        return corpus, f"counted on {corpus}"
    ctx = StageContext(run_dir=scratch, key="dry-run", resume=False, log=lambda _m: None)
    if not config.inputs:  # the environment generates them
        generate_action(config)(ctx)
    ingest_action(config)(ctx)
    return scratch / "corpus.jsonl", "counted on the inputs, ingested into a temporary folder"


def dry_run(config: RunConfig, *, force: Iterable[str] = ()) -> list[str]:
    """The lines `srft run --dry-run` prints: the stage plan, then the critic's cost."""
    run_dir = Path(config.run_dir)
    plan = plan_stages(build_graph(config), run_dir, force=force)
    width = max(len(p.key) for p in plan)
    lines = [f"Plan for {run_dir} ({sum(p.decision != 'skip' for p in plan)} of {len(plan)} "
             "stages would run):"]  # fmt: skip
    lines += [f"  {p.decision:<6} {p.key:<{width}}  {p.reason}" for p in plan]
    critic_runs = any(p.key == "critic" and p.decision != "skip" for p in plan)
    if config.critic.options.get("labels_from") == TRUE_LABELS:
        lines.append("critic `file`: the environment's true labels, 0 requests, 0 tokens")
    elif not critic_runs:
        lines.append("critic: up to date, 0 requests")
    else:
        with tempfile.TemporaryDirectory(prefix="srft-dry-run-") as scratch:
            corpus, source = _corpus_for_estimate(config, run_dir, plan, Path(scratch))
            lines.append(estimate_critic(config, corpus, source).line())
    return lines
