"""The statistics of toy evaluations: Wilson intervals, paired differences, merging results.

Every student plays the *same* episodes (same seeds), so differences between students are
paired: per episode, d = success(A) - success(B) in {-1, 0, 1}. Success rates get Wilson 95%
score intervals (sound near 0% and 100%, where the Wald interval collapses); paired differences
get the Wald interval of the mean of d, which is what the paired design buys (the two rates' own
intervals overlap far more than their difference's). A few lines of closed-form arithmetic,
so written here rather than pulling in scipy/statsmodels; no torch, so the report can use them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

TOY_EVAL_FORMAT = "srft.toy-eval"
TOY_EVAL_VERSION = 1
Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (0..1); (0, 1) when n is 0."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_difference(
    a: Sequence[bool] | Sequence[float], b: Sequence[bool] | Sequence[float], z: float = Z95
) -> dict[str, float]:
    """Mean of a - b over the same cases, with a 95% normal interval.

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


# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (standard tables).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t: the table to 30 degrees of freedom, then the
    Cornish-Fisher expansion around the normal quantile (within 1e-3 there)."""
    if df < 1:
        raise ValueError("Student's t needs at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    z = Z95
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


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


def rate(successes: int, n: int) -> dict[str, float]:
    """A proportion with its Wilson interval."""
    lo, hi = wilson(successes, n)
    return {"rate": successes / n if n else 0.0, "lo": lo, "hi": hi, "k": successes, "n": n}


def merge_evaluations(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One evaluation from several, each of some students on the same episodes (e.g. one file
    per student, as the pipeline writes them): students in order, pairs recomputed from the
    per-episode outcomes for every pair of students.

    Raises ValueError when the results were not run on the same episodes (count, seed, levels,
    step limit) or share no mode, since their students could not be paired.
    """
    if not results:
        raise ValueError("no evaluations to merge")
    first = results[0]
    key = ("episodes", "seed", "levels", "step_limit")
    for r in results:
        if r.get("format") != TOY_EVAL_FORMAT:
            raise ValueError(f"not a {TOY_EVAL_FORMAT} result (format {r.get('format')!r})")
        if [r.get(k) for k in key] != [first.get(k) for k in key]:
            raise ValueError(
                "evaluations to merge must be on the same episodes "
                f"({', '.join(key)}): {[first.get(k) for k in key]} vs {[r.get(k) for k in key]}"
            )
    modes_in_all = [m for m in first["modes"] if all(m in r["modes"] for r in results)]
    if not modes_in_all:
        raise ValueError("the evaluations share no mode (greedy, T=...)")
    merged: dict[str, Any] = {
        k: v for k, v in first.items() if k not in ("modes", "probes", "models")
    }
    merged["modes"] = {}
    for mode in modes_in_all:
        students: dict[str, Any] = {}
        for r in results:
            for name, student in r["modes"][mode]["students"].items():
                if name in students:
                    raise ValueError(f"student {name!r} is in more than one evaluation")
                students[name] = dict(student)
        names = list(students)
        merged["modes"][mode] = {
            "students": students,
            "paired": {
                f"{a} - {b}": paired_difference(students[a]["outcomes"], students[b]["outcomes"])
                for i, a in enumerate(names)
                for b in names[i + 1 :]
            },
        }
    merged["probes"] = {n: v for r in results for n, v in r.get("probes", {}).items()}
    if any("models" in r for r in results):
        merged["models"] = {n: p for r in results for n, p in r.get("models", {}).items()}
    return merged
