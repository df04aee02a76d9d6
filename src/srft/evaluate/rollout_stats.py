"""The statistics of rollouts: Wilson intervals, paired differences, merging result files.

Every model plays the *same* episodes (same seeds), so differences between models are paired:
per episode, d = success(A) - success(B) in {-1, 0, 1}. Success rates get Wilson 95% score
intervals (sound near 0% and 100%, where the Wald interval collapses); paired differences get
the normal interval of the mean of d, which is what the paired design buys (the two rates' own
intervals overlap far more than their difference's). Over training seeds, a Student-t interval.
The quantiles and the Wilson interval come from scipy.stats; no torch, so the report can merge
rollout files without the training stack.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from srft.files.rollouts import ModeRollouts, RolloutResults, parse_rollouts

Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975), a constant (a test checks it)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a binomial proportion (0..1); (0, 1) when n is 0."""
    if n == 0:
        return (0.0, 1.0)
    from scipy.stats import binomtest

    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return (max(0.0, float(ci.low)), min(1.0, float(ci.high)))


def rate(successes: int, n: int) -> dict[str, float]:
    """A proportion with its Wilson interval (a `srft.files.rollouts.Rate`)."""
    lo, hi = wilson(successes, n)
    return {"rate": successes / n if n else 0.0, "lo": lo, "hi": hi, "k": successes, "n": n}


def paired_difference(
    a: Sequence[bool] | Sequence[float], b: Sequence[bool] | Sequence[float], z: float = Z95
) -> dict[str, float]:
    """Mean of a - b over the same cases, with a 95% normal interval (`z` its quantile).

    The cases are episodes (success as 0/1) or decision probes (log-probability margins).
    """
    if len(a) != len(b) or not a:
        raise ValueError("paired differences need two equally long, non-empty outcome lists")
    d = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    n = len(d)
    mean = sum(d) / n
    var = sum((x - mean) ** 2 for x in d) / (n - 1) if n > 1 else 0.0
    half = z * math.sqrt(var / n)
    return {"diff": mean, "lo": mean - half, "hi": mean + half, "n": n}


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError("Student's t needs at least one degree of freedom")
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def seed_level_difference(per_seed: Sequence[float]) -> dict[str, float]:
    """Mean of per-seed differences with a 95% t interval over seeds.

    A training seed is the unit of replication: two students of the same seed share an
    initialisation and a data order, students of different seeds share nothing. Pooling every
    (seed, case) pair measures how sure we are about *these* students; this interval measures
    how sure we are that the *policy* gives better students, so it is the one to read when
    seeds disagree.
    """
    n = len(per_seed)
    if n < 2:
        raise ValueError("a seed-level interval needs at least two seeds")
    # The same mean and standard error as a paired difference against 0, with Student's t.
    return paired_difference(per_seed, [0.0] * n, z=t975(n - 1))


def pair_all(outcomes: Mapping[str, Sequence[bool]]) -> dict[str, dict[str, float]]:
    """The paired difference of every pair of models, as `"a - b"` in the models' order."""
    names = list(outcomes)
    return {
        f"{a} - {b}": paired_difference(outcomes[a], outcomes[b])
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }


def merge_rollouts(results: Sequence[RolloutResults | Mapping[str, Any]]) -> RolloutResults:
    """One result from several, each of some models on the same episodes (e.g. one file per
    model, as the pipeline writes them): models in order, pairs recomputed from the per-episode
    outcomes for every pair of models.

    Raises ValueError when the results were not run on the same episodes (environment, count,
    seed, step limit, settings) or share no mode, since their models could not be paired.
    """
    parsed = [r if isinstance(r, RolloutResults) else parse_rollouts(r) for r in results]
    if not parsed:
        raise ValueError("no evaluations to merge")
    first = parsed[0]
    for r in parsed:
        if r.episode_set() != first.episode_set():
            raise ValueError(
                "evaluations to merge must be on the same episodes (environment, episodes, "
                f"seed, step_limit, settings): {first.episode_set()} vs {r.episode_set()}"
            )
    modes = [m for m in first.modes if all(m in r.modes for r in parsed)]
    if not modes:
        raise ValueError("the evaluations share no mode (greedy, T=...)")
    return first.model_copy(
        update={
            "modes": {mode: _merge_mode([r.modes[mode] for r in parsed]) for mode in modes},
            "probes": {n: v for r in parsed for n, v in r.probes.items()},
            "models": {n: p for r in parsed for n, p in r.models.items()},
        }
    )


def _merge_mode(parts: Sequence[ModeRollouts]) -> ModeRollouts:
    students: dict[str, Any] = {}
    for part in parts:
        for name, student in part.students.items():
            if name in students:
                raise ValueError(f"student {name!r} is in more than one evaluation")
            students[name] = student.model_copy()
    outcomes = {name: s.outcomes for name, s in students.items()}
    missing = [name for name, o in outcomes.items() if o is None]
    if missing and len(students) > 1:
        raise ValueError(f"student {missing[0]!r} has no per-episode outcomes to pair")
    return ModeRollouts.model_validate(
        {"students": students, "paired": pair_all(outcomes) if not missing else {}}
    )
