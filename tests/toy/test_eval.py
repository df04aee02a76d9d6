"""The statistics of `srft toy eval`: Wilson intervals and paired differences."""

from __future__ import annotations

import pytest

from srft.toy.eval import paired_difference, wilson


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


def test_paired_difference_needs_equal_lengths() -> None:
    with pytest.raises(ValueError, match="equally long"):
        paired_difference([True], [True, False])
