"""The `published` critic: the per-message train flags a dataset was published with, as verdicts.

Some datasets ship their own loss mask: OpenAI fine-tuning rows put `weight: 0|1` on assistant
messages, others a boolean `train`, nebius SWE-agent-trajectories a `mask` per turn. Ingest keeps
them per step in `metadata.extra.published_train`; this critic turns a trained step into `good`
and an untrained one into `mistake`, so a user can start from the published mask (any policy
then masks those steps) and compare it with an LLM critic's labels (`srft critic-eval --pred
llm.jsonl --gold published.jsonl`).

A trajectory without flags, or with a step that has none, gets a `failed` verdict saying so: an
unflagged step is never taken to be `good`.
"""

from __future__ import annotations

from srft.files.corpus import Trajectory
from srft.files.verdicts import CriticInfo, StepVerdict, Verdict

FLAGS_KEY = "published_train"


class PublishedCritic:
    """The critic behind the registry name `published` (no options, no I/O)."""

    name = "published"

    def info(self) -> CriticInfo:
        return CriticInfo(name="published", model=None, prompt_version=None, mode="imported")

    def judge(self, trajectory: Trajectory) -> Verdict:
        """The published flags of `trajectory` as labels, or a failed verdict saying why not."""
        flags = trajectory.metadata.extra.get(FLAGS_KEY)
        error = None
        if not isinstance(flags, list):
            error = "the source published no per-message train flags for this trajectory"
        elif len(flags) != len(trajectory.steps):
            error = f"{len(flags)} published flags for {len(trajectory.steps)} steps"
        elif any(not isinstance(flag, bool) for flag in flags):
            missing = next(i for i, flag in enumerate(flags) if not isinstance(flag, bool))
            error = f"step {missing} has no published train flag"
        if error is not None:
            return Verdict(
                trajectory_id=trajectory.id, critic=self.info(), status="failed", error=error
            )
        steps = [
            StepVerdict(
                index=i,
                label="good" if flag else "mistake",
                reason="published: trained" if flag else "published: not trained (masked)",
            )
            for i, flag in enumerate(flags)
        ]
        return Verdict(trajectory_id=trajectory.id, critic=self.info(), steps=steps)
