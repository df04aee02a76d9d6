"""The statistics of rollouts: Wilson intervals, paired differences, t intervals, merging files.

No environment is needed: the results here are written by hand, as any environment would.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from srft.evaluate.rollout_stats import (
    Z95,
    merge_rollouts,
    paired_difference,
    rate,
    seed_level_difference,
    t975,
    wilson,
)
from srft.files.base import FileFormatError
from srft.files.rollouts import read_rollouts, write_rollouts


def closed_form_wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The hand-written Wilson interval srft used before scipy (the same formula)."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def test_the_scipy_wilson_interval_equals_the_closed_form_it_replaced() -> None:
    for n in (1, 2, 3, 7, 10, 20, 50, 101, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            assert wilson(k, n) == pytest.approx(closed_form_wilson(k, n), abs=1e-9), (k, n)


def test_the_normal_quantile_is_scipys() -> None:
    from scipy.stats import norm

    assert norm.ppf(0.975) == pytest.approx(Z95, abs=1e-12)


def test_wilson_interval_matches_known_values() -> None:
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4)
    assert hi == pytest.approx(0.7634, abs=1e-4)


def test_wilson_interval_at_zero_successes_is_not_degenerate() -> None:
    lo, hi = wilson(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(0.2775, abs=1e-4)


def test_wilson_interval_without_trials_is_everything() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


def test_paired_difference_of_identical_outcomes_is_exactly_zero() -> None:
    d = paired_difference([True, False, True], [True, False, True])
    assert (d["diff"], d["lo"], d["hi"]) == (0.0, 0.0, 0.0)


def test_paired_difference_is_the_mean_of_per_episode_differences() -> None:
    a = [True] * 30 + [False] * 70
    b = [False] * 10 + [True] * 10 + [False] * 80
    d = paired_difference(a, b)
    assert d["diff"] == pytest.approx(0.20)
    assert d["lo"] < 0.20 < d["hi"]
    assert d["lo"] > 0


def test_paired_difference_of_margins_keeps_fractions() -> None:
    d = paired_difference([1.5, -0.25, 2.0], [0.5, -0.75, 1.0])
    assert d["diff"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    assert d["lo"] < d["diff"] < d["hi"]


def test_paired_difference_needs_equal_lengths() -> None:
    with pytest.raises(ValueError, match="equally long"):
        paired_difference([True], [True, False])


def test_students_t_quantiles_match_the_tables_and_approach_the_normal() -> None:
    assert t975(1) == pytest.approx(12.706, abs=1e-3)
    assert t975(7) == pytest.approx(2.365, abs=1e-3)
    assert t975(40) == pytest.approx(2.021, abs=1e-3)
    assert t975(120) == pytest.approx(1.980, abs=1e-3)
    assert t975(31) < t975(30)
    with pytest.raises(ValueError, match="degree of freedom"):
        t975(0)


def test_a_seed_level_interval_is_wider_when_seeds_disagree() -> None:
    # Same mean difference, but one policy only wins in some seeds.
    steady = seed_level_difference([0.3, 0.4, 0.3, 0.4])
    split = seed_level_difference([-0.9, 1.2, -0.3, 1.4])
    assert steady["diff"] == pytest.approx(split["diff"])
    assert steady["lo"] > 0
    assert split["lo"] < 0 < split["hi"]
    # Known value: mean 0.35, sd 0.0577, t(3) = 3.182 -> half-width 0.0919.
    assert steady["hi"] - steady["diff"] == pytest.approx(3.182 * 0.057735 / 2, abs=1e-4)
    with pytest.raises(ValueError, match="two seeds"):
        seed_level_difference([1.0])


# -- rollout-results files -------------------------------------------------------------------


def result(name: str, outcomes: list[bool], *, seed: int = 7, **extra) -> dict:
    """A one-model rollout result as an environment writes it."""
    return {
        "format": "srft.rollouts",
        "version": 1,
        "environment": "grid",
        "episodes": len(outcomes),
        "seed": seed,
        "step_limit": 5,
        "settings": {"size": 3},
        "modes": {
            "greedy": {
                "students": {
                    name: {"success": rate(sum(outcomes), len(outcomes)), "outcomes": outcomes}
                    | extra
                },
                "paired": {},
            }
        },
    }


A = [True, True, False, True]
B = [False, True, False, False]


def test_results_of_one_model_each_merge_and_pair_episode_by_episode() -> None:
    merged = merge_rollouts([result("a", A, error_rate=0.5), result("b", B)])
    greedy = merged.modes["greedy"]
    assert list(greedy.students) == ["a", "b"]
    assert greedy.paired["a - b"].diff == pytest.approx(0.5)
    # An environment's own measures ride along.
    assert greedy.students["a"].model_dump()["error_rate"] == 0.5


def test_results_on_different_episodes_do_not_merge() -> None:
    with pytest.raises(ValueError, match="same episodes"):
        merge_rollouts([result("a", A), result("b", B, seed=8)])


def test_a_model_in_two_results_is_refused_not_overwritten() -> None:
    with pytest.raises(ValueError, match="more than one evaluation"):
        merge_rollouts([result("a", A), result("a", A)])


def test_a_written_file_reads_back_the_same(tmp_path: Path) -> None:
    merged = merge_rollouts([result("a", A), result("b", B)])
    path = write_rollouts(tmp_path / "rollout" / "ab.json", merged)
    assert read_rollouts(path) == merged
    assert path.read_text(encoding="utf-8").startswith('{\n "format": "srft.rollouts"')


def test_an_old_toy_eval_file_reads_as_the_toy_environment(tmp_path: Path) -> None:
    old = result("a", A)
    old = {
        "format": "srft.toy-eval",
        "version": 1,
        "episodes": 4,
        "probes": {},
        "seed": 7,
        "levels": [1, 2, 3],
        "step_limit": 5,
        "modes": old["modes"],
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old, indent=1) + "\n", encoding="utf-8")
    results = read_rollouts(path)
    assert results.environment == "toy" and results.settings == {"levels": [1, 2, 3]}
    assert results.modes["greedy"].students["a"].outcomes == A


def test_a_file_of_another_format_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "eval.json"
    path.write_text('{"format": "srft.eval", "version": 1}\n', encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"eval\.json: not an srft rollout-results file"):
        read_rollouts(path)
