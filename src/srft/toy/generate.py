"""`srft toy generate`: teacher trajectories in real public formats, with outcomes and true labels.

Writes, under one output folder:

- `trajs/<id>/<id>.traj.json`: one mini-swe-agent v1 saved run per episode (what `srft ingest`
  reads; `trajectory_format: mini-swe-agent-1`, `info.exit_status`, `info.submission`);
- `toy.teacher.json`: the outcomes, in the SWE-bench harness run-summary shape
  (`resolved_ids` / `unresolved_ids` ...), which `srft ingest --outcomes` reads;
- `labels.jsonl`: the teacher's true step labels as `srft.verdicts` records (critic
  `toy-teacher`), which `srft critic --critic file --labels-from` imports and `critic-eval` scores
  other critics against;
- `toy.json`: what was generated, how (seed, levels, teacher rates) and the counts.

Episode `i` of a run with seed `s` uses episode seed `s * 1_000_003 + i`, so runs with different
seeds draw disjoint episodes and `toy eval` can pick fresh ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srft.files.verdicts import VERDICTS, CriticInfo, StepVerdict, Verdict
from srft.toy.env import LEVELS, Episode, make_episode
from srft.toy.protocol import (
    STEP_LIMIT,
    SYSTEM_PROMPT,
    assistant_message,
    observation_message,
    task_message,
)
from srft.toy.teacher import TeacherConfig, TeacherRun, config_dict, teach

TOY_DATA_FORMAT = "srft.toy-data"
TOY_DATA_VERSION = 1
TEACHER_MODEL = "toy-teacher"
SUMMARY_FILE = "toy.teacher.json"
LABELS_FILE = "labels.jsonl"
MANIFEST_FILE = "toy.json"


def episode_seed(seed: int, index: int) -> int:
    """The seed of episode `index` in a run seeded `seed` (disjoint across run seeds)."""
    return seed * 1_000_003 + index


def episodes(n: int, *, seed: int, levels: tuple[int, ...] = LEVELS) -> list[Episode]:
    """`n` episodes, levels in round-robin order, deterministic given `seed`."""
    return [make_episode(episode_seed(seed, i), levels[i % len(levels)]) for i in range(n)]


def saved_run(run: TeacherRun, config: TeacherConfig) -> dict[str, Any]:
    """A teacher run as a mini-swe-agent v1 saved run (`*.traj.json` content)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": task_message(run.episode.issue)},
    ]
    for step in run.steps:
        messages.append(
            {"role": "assistant", "content": assistant_message(step.thought, step.command)}
        )
        if step.command == "submit" and step.observation.returncode == 0:
            # mini-swe-agent ends a submitted run with the submission itself as the last message.
            messages.append({"role": "user", "content": step.observation.output})
        else:
            messages.append({"role": "user", "content": observation_message(step.observation)})
    submitted = run.repo is not None and run.repo.submitted
    return {
        "info": {
            "exit_status": "Submitted" if submitted else "LimitsExceeded",
            "submission": run.repo.diff() if run.repo is not None else "",
            "model_stats": {"instance_cost": 0.0, "api_calls": len(run.steps)},
            "mini_version": "1.15.0",
            "config": {
                "agent": {"system_template": SYSTEM_PROMPT, "step_limit": STEP_LIMIT},
                "model": {"model_name": TEACHER_MODEL, "model_kwargs": config_dict(config)},
                "environment": {"toy_level": run.episode.level, "toy_seed": run.episode.seed},
            },
        },
        "messages": messages,
        "trajectory_format": "mini-swe-agent-1",
        "instance_id": run.episode.instance_id,
    }


def true_verdict(run: TeacherRun, config: TeacherConfig) -> Verdict:
    """The teacher's labels for one run as a verdict (trajectory id = instance id, as ingest)."""
    return Verdict(
        trajectory_id=run.episode.instance_id,
        critic=CriticInfo(name=TEACHER_MODEL, model=TEACHER_MODEL, mode="true-labels"),
        steps=[
            StepVerdict(index=i, label=s.label, reason=s.reason)  # type: ignore[arg-type]
            for i, s in enumerate(run.steps)
        ],
    )


def run_summary(runs: list[TeacherRun]) -> dict[str, Any]:
    """The outcomes in the SWE-bench harness run-summary shape (schema_version 2)."""
    ids = [r.episode.instance_id for r in runs]
    resolved = [r.episode.instance_id for r in runs if r.resolved]
    unresolved = [r.episode.instance_id for r in runs if not r.resolved]
    return {
        "total_instances": len(ids),
        "submitted_instances": len(ids),
        "completed_instances": len(ids),
        "resolved_instances": len(resolved),
        "unresolved_instances": len(unresolved),
        "empty_patch_instances": 0,
        "error_instances": 0,
        "completed_ids": ids,
        "incomplete_ids": [],
        "empty_patch_ids": [],
        "submitted_ids": ids,
        "resolved_ids": resolved,
        "unresolved_ids": unresolved,
        "error_ids": [],
        "schema_version": 2,
    }


@dataclass(frozen=True)
class GenerateResult:
    """Where the files went and what they hold."""

    out: Path
    episodes: int
    resolved: int
    steps: int
    labels: dict[str, int]


def generate(
    out: str | Path,
    n: int,
    *,
    seed: int = 0,
    config: TeacherConfig | None = None,
    levels: tuple[int, ...] = LEVELS,
) -> GenerateResult:
    """Play `n` episodes with the teacher and write trajectories, outcomes and true labels."""
    if n < 1:
        raise ValueError(f"the number of episodes must be at least 1, not {n}")
    config = config or TeacherConfig()
    out = Path(out)
    runs = [teach(e, config, e.seed) for e in episodes(n, seed=seed, levels=levels)]
    for run in runs:
        iid = run.episode.instance_id
        folder = out / "trajs" / iid
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(saved_run(run, config), indent=1, ensure_ascii=False)
        (folder / f"{iid}.traj.json").write_text(text + "\n", encoding="utf-8")
    summary = run_summary(runs)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    VERDICTS.write(out / LABELS_FILE, (true_verdict(r, config) for r in runs))
    labels: dict[str, int] = {}
    for r in runs:
        for label in r.labels():
            labels[label] = labels.get(label, 0) + 1
    result = GenerateResult(
        out=out,
        episodes=len(runs),
        resolved=summary["resolved_instances"],
        steps=sum(len(r.steps) for r in runs),
        labels=labels,
    )
    manifest = {
        "format": TOY_DATA_FORMAT,
        "version": TOY_DATA_VERSION,
        "seed": seed,
        "episodes": result.episodes,
        "levels": list(levels),
        "teacher": config_dict(config),
        "resolved": result.resolved,
        "steps": result.steps,
        "labels": labels,
        "files": {"trajectories": "trajs", "outcomes": SUMMARY_FILE, "labels": LABELS_FILE},
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return result
