"""`srft toy eval`: success of trained students on fresh episodes, with intervals and pairings.

Every student plays the *same* episodes (same seeds) greedily and sampled at temperature 1, so
differences between students are paired; the intervals and pairings are the product's
(`srft.evaluate.rollout_stats`) and the result is a rollout-results file (`srft.files.rollouts`,
`environment: toy`), which `srft report --rollout` and the pipeline read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from srft.evaluate.rollout_stats import merge_rollouts, pair_all, paired_difference, rate, wilson
from srft.files.rollouts import ROLLOUTS_FORMAT, ROLLOUTS_VERSION, parse_rollouts, write_rollouts
from srft.toy.env import LEVELS
from srft.toy.generate import episodes as make_episodes
from srft.toy.probe import run_probes
from srft.toy.protocol import STEP_LIMIT
from srft.toy.rollout import SKILLS, WRONG_EDITS, EpisodeRollout, load_student, rollout

DEFAULT_EVAL_SEED = 9_999

# The statistics are the product's (`srft.evaluate.rollout_stats`), re-exported for the
# experiment scripts (experiments/toy/).
__all__ = [
    "evaluate_paths",
    "evaluate_students",
    "format_table",
    "merge_evaluations",
    "paired_difference",
    "rate",
    "summarise",
    "wilson",
    "write_eval",
]


def summarise(runs: list[EpisodeRollout]) -> dict[str, Any]:
    """Success (overall and per level), error and wrong-edit rates of one student's rollouts."""
    steps = sum(r.steps for r in runs)
    kinds = [set(r.wrong_edit_kinds()) for r in runs]  # each replays the episode's grep
    per_level = {}
    for level in sorted({r.episode.level for r in runs}):
        sub = [r for r in runs if r.episode.level == level]
        per_level[str(level)] = rate(sum(r.resolved for r in sub), len(sub))
    return {
        "success": rate(sum(r.resolved for r in runs), len(runs)),
        "per_level": per_level,
        "submitted": sum(r.stop == "submitted" for r in runs) / max(1, len(runs)),
        "error_rate": sum(r.errors for r in runs) / max(1, steps),
        "wrong_edit_episodes": sum(bool(k) for k in kinds) / max(1, len(runs)),
        # Share of episodes with at least one wrong edit of each kind (`WRONG_EDITS`).
        "wrong_edit_kinds": {
            kind: sum(kind in k for k in kinds) / max(1, len(runs)) for kind in WRONG_EDITS
        },
        "mean_steps": steps / max(1, len(runs)),
        # Share of episodes showing each sub-skill at least once (`EpisodeRollout.skills`).
        "skills": {
            name: sum(r.skills()[name] for r in runs) / max(1, len(runs)) for name in SKILLS
        },
    }


def evaluate_students(
    students: dict[str, tuple[Any, Any]],
    *,
    episodes: int,
    seed: int = DEFAULT_EVAL_SEED,
    levels: tuple[int, ...] = LEVELS,
    temperatures: Sequence[float] = (0.0, 1.0),
    batch_size: int = 128,
    max_steps: int = STEP_LIMIT,
    max_new_tokens: int = 64,
    keep_episodes: bool = False,
    probes: int = 0,
) -> dict[str, Any]:
    """Roll every student out on the same fresh episodes; per-mode summaries and pairings.

    `probes` > 0 also runs that many teacher-forced decision probes per decision
    (`srft.toy.probe`) on each student.
    """
    eps = make_episodes(episodes, seed=seed, levels=levels)
    modes: dict[str, Any] = {}
    for temperature in temperatures:
        mode = "greedy" if temperature == 0 else f"T={temperature:g}"
        outcomes: dict[str, list[bool]] = {}
        per_student: dict[str, Any] = {}
        for name, (model, tokenizer) in students.items():
            runs = rollout(
                model,
                tokenizer,
                eps,
                temperature=temperature,
                seed=seed,
                batch_size=batch_size,
                max_steps=max_steps,
                max_new_tokens=max_new_tokens,
            )
            outcomes[name] = [r.resolved for r in runs]
            per_student[name] = summarise(runs)
            per_student[name]["outcomes"] = outcomes[name]
            if keep_episodes:
                per_student[name]["episodes"] = [r.to_dict() for r in runs]
        modes[mode] = {"students": per_student, "paired": pair_all(outcomes)}
    probe_results = (
        {name: run_probes(m, t, n=probes, seed=seed) for name, (m, t) in students.items()}
        if probes
        else {}
    )
    return {
        "format": ROLLOUTS_FORMAT,
        "version": ROLLOUTS_VERSION,
        "environment": "toy",
        "episodes": episodes,
        "seed": seed,
        "step_limit": max_steps,
        "settings": {"levels": list(levels)},
        "modes": modes,
        "probes": probe_results,
    }


def evaluate_paths(
    models: dict[str, str | Path], *, tokenizer: str | Path | None = None, **kwargs: Any
) -> dict[str, Any]:
    """`evaluate_students` for model or run folders given by path."""
    students = {name: load_student(path, tokenizer) for name, path in models.items()}
    result = evaluate_students(students, **kwargs)
    result["models"] = {name: str(path) for name, path in models.items()}
    return result


def write_eval(result: dict[str, Any], path: str | Path) -> None:
    """Write an eval result as a rollout-results file (`srft.files.rollouts`)."""
    write_rollouts(path, parse_rollouts(result))


def merge_evaluations(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`srft.evaluate.rollout_stats.merge_rollouts` on results as JSON data (old `srft.toy-eval`
    ones too), as JSON data: what the experiment scripts keep in their records."""
    return merge_rollouts(results).model_dump(mode="json")


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of success rates and paired differences, per mode."""
    lines = []
    for mode, data in result["modes"].items():
        lines.append(f"[{mode}] {result['episodes']} episodes, seed {result['seed']}")
        for name, s in data["students"].items():
            r = s["success"]
            levels = " ".join(f"L{lv}={v['rate']:.1%}" for lv, v in s["per_level"].items())
            lines.append(
                f"  {name:<16} success {r['rate']:6.1%} [{r['lo']:.1%}, {r['hi']:.1%}]  {levels}  "
                f"errors/step {s['error_rate']:.2f}  wrong-edit eps {s['wrong_edit_episodes']:.1%}"
            )
            if "skills" in s:
                skills = "  ".join(f"{k} {v:.0%}" for k, v in s["skills"].items())
                lines.append(f"  {'':<16} episodes with: {skills}")
            if "wrong_edit_kinds" in s:
                kinds = "  ".join(f"{k} {v:.0%}" for k, v in s["wrong_edit_kinds"].items())
                lines.append(f"  {'':<16} wrong edits: {kinds}")
        for pair, d in data["paired"].items():
            lines.append(f"  {pair:<30} {d['diff']:+.1%} [{d['lo']:+.1%}, {d['hi']:+.1%}]")
    for name, probes in result.get("probes", {}).items():
        text = "  ".join(
            f"{p}: prefers right {v['prefers_right']:.0%} (margin {v['margin']:+.2f})"
            for p, v in probes.items()
        )
        lines.append(f"[probe] {name:<16} {text}")
    return "\n".join(lines)
