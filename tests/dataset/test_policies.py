"""The masking policies: which trajectories are kept and which steps are trained."""

from __future__ import annotations

import pytest

from srft.dataset.policies import POLICIES, PolicyError, make_policy, policy_names

from .conftest import trajectory, verdict

TURNS = [{"say": "a", "obs": "x"}, {"say": "b", "obs": "y"}, {"say": "c"}]
LABELS = ["good", "mistake", "unnecessary"]


def _traj(outcome: str):
    return trajectory(TURNS, outcome=outcome)


def test_registry_has_the_policies_of_the_method_and_the_resolved_only_mirror():
    assert policy_names() == [
        "rft",
        "rule-mask",
        "sft",
        "srft",
        "srft-resolved-only",
        "srft-unresolved-only",
    ]


def test_every_policy_is_registered_under_the_name_it_writes_into_the_manifest():
    assert all(cls.name == name for name, cls in POLICIES.items())


def test_caps_apply_after_the_policy_judged_so_judging_can_run_anywhere():
    policy = make_policy("sft", {"max_resolved_per_instance": 1})
    judged = [policy.judge(_traj("resolved"), None) for _ in range(2)]
    assert [d.keep for d in judged] == [True, True]  # judge counts nothing
    kept = [policy.decide(_traj("resolved"), None).reason for _ in range(2)]
    assert kept == ["resolved", "dropped:cap-resolved"]


def test_unknown_policy_is_an_error_naming_the_choices():
    with pytest.raises(PolicyError, match="unknown policy 'srf'; choose one of rft, rule-mask"):
        make_policy("srf")


def test_unknown_option_is_an_error_naming_policy_and_option():
    with pytest.raises(PolicyError, match="policy 'srft': option judge_resolve"):
        make_policy("srft", {"judge_resolve": True})


def test_sft_trains_every_step_of_every_outcome():
    for outcome in ("resolved", "unresolved", "unknown"):
        d = make_policy("sft").decide(_traj(outcome), None)
        assert d.keep and d.trained == (True, True, True)


def test_rft_keeps_only_resolved_trajectories():
    rft = make_policy("rft")
    assert rft.decide(_traj("resolved"), None).trained == (True, True, True)
    assert not rft.decide(_traj("unresolved"), None).keep
    assert rft.decide(_traj("unknown"), None).reason == "dropped:unknown"


def test_srft_masks_mistakes_of_unresolved_trajectories():
    d = make_policy("srft").decide(_traj("unresolved"), verdict("t1", LABELS))
    assert d.keep and d.trained == (True, False, True)
    assert d.labels == tuple(LABELS)


def test_srft_trains_resolved_trajectories_fully_but_records_their_labels():
    d = make_policy("srft").decide(_traj("resolved"), verdict("t1", LABELS))
    assert d.trained == (True, True, True) and d.labels == tuple(LABELS)


def test_srft_judges_resolved_trajectories_when_asked():
    d = make_policy("srft", {"judge_resolved": True}).decide(
        _traj("resolved"), verdict("t1", LABELS)
    )
    assert d.trained == (True, False, True)


def test_srft_can_mask_unnecessary_steps_too():
    policy = make_policy("srft", {"mask": ["mistake", "unnecessary"]})
    assert policy.decide(_traj("unresolved"), verdict("t1", LABELS)).trained == (True, False, False)


def test_srft_drops_unknown_outcomes_by_default_never_treating_them_as_resolved():
    d = make_policy("srft").decide(_traj("unknown"), verdict("t1", LABELS))
    assert not d.keep and d.reason == "dropped:unknown"


def test_srft_judges_unknown_outcomes_like_unresolved_ones_when_asked():
    d = make_policy("srft", {"unknown_outcome": "judge"}).decide(
        _traj("unknown"), verdict("t1", LABELS)
    )
    assert d.keep and d.trained == (True, False, True)


@pytest.mark.parametrize(
    ("on_failed", "keep", "trained"),
    [("drop", False, (False,) * 3), ("train", True, (True,) * 3), ("mask", True, (False,) * 3)],
)
def test_srft_handles_a_failed_critic_call_as_configured(on_failed, keep, trained):
    d = make_policy("srft", {"on_failed": on_failed}).decide(
        _traj("unresolved"), verdict("t1", [], status="failed")
    )
    assert (d.keep, d.trained) == (keep, trained)


def test_srft_without_a_verdict_for_an_unresolved_trajectory_is_an_error():
    with pytest.raises(
        PolicyError, match="trajectory 't1' has no verdict; policy 'srft' needs one"
    ):
        make_policy("srft").decide(_traj("unresolved"), None)


def test_srft_unresolved_only_drops_resolved_and_masks_unresolved():
    policy = make_policy("srft-unresolved-only")
    assert not policy.decide(_traj("resolved"), verdict("t1", LABELS)).keep
    assert policy.decide(_traj("unresolved"), verdict("t1", LABELS)).trained == (True, False, True)


def test_srft_resolved_only_keeps_rfts_trajectories_and_masks_their_mistakes():
    policy = make_policy("srft-resolved-only")
    assert policy.decide(_traj("resolved"), verdict("t1", LABELS)).trained == (True, False, True)
    assert not policy.decide(_traj("unresolved"), verdict("t1", LABELS)).keep
    assert policy.decide(_traj("unknown"), None).reason == "dropped:unknown"


def test_srft_resolved_only_has_no_unknown_outcome_option_since_it_never_judges_them():
    with pytest.raises(PolicyError, match="option unknown_outcome"):
        make_policy("srft-resolved-only", {"unknown_outcome": "judge"})


def test_rule_mask_masks_steps_whose_observation_shows_an_error_without_verdicts():
    traj = trajectory(
        [
            {"say": "run", "call": "python x.py", "obs": "ok", "obs_role": "user"},
            {"say": "run", "call": "pyhton x.py", "obs": "bash: pyhton: command not found"},
            {"say": "done"},
        ],
        outcome="resolved",
    )
    d = make_policy("rule-mask").decide(traj, None)
    assert d.keep and d.trained == (True, False, True)
    assert d.labels[1] == "mistake"


def test_srft_with_min_confidence_masks_only_the_mistakes_the_critic_is_sure_of():
    sampled = verdict("t1", ["mistake", "mistake", "mistake"])
    sampled.steps[0].confidence = 1.0
    sampled.steps[1].confidence = 0.5  # the samples disagreed: trained like a good step
    sampled.steps[2].confidence = 0.67
    policy = make_policy("srft", {"min_confidence": 0.67})
    d = policy.decide(_traj("unresolved"), sampled)
    assert d.trained == (False, True, False)
    assert d.labels == ("mistake",) * 3


def test_min_confidence_takes_a_step_judged_once_at_face_value():
    d = make_policy("srft", {"min_confidence": 0.9}).decide(
        _traj("unresolved"), verdict("t1", LABELS)
    )
    assert d.trained == (True, False, True)


def test_min_confidence_must_be_a_share():
    with pytest.raises(PolicyError, match="min_confidence"):
        make_policy("srft", {"min_confidence": 1.5})


def _run(instance: str, n: int, outcome: str):
    run = trajectory(TURNS, id=f"{instance}@{n}", outcome=outcome)
    run.instance_id = instance
    return run


def test_runs_per_instance_are_capped_separately_for_resolved_and_unresolved():
    policy = make_policy("sft", {"max_resolved_per_instance": 2, "max_unresolved_per_instance": 1})
    runs = [_run("a__b-1", n, "resolved") for n in range(3)]
    runs += [_run("a__b-1", n, "unresolved") for n in range(3, 5)]
    runs += [_run("c__d-2", n, "resolved") for n in range(5, 8)]
    reasons = [policy.decide(run, None).reason for run in runs]
    assert reasons == [
        "resolved", "resolved", "dropped:cap-resolved",
        "unresolved", "dropped:cap-unresolved",
        "resolved", "resolved", "dropped:cap-resolved",
    ]  # fmt: skip


def test_the_cap_counts_only_runs_the_policy_keeps():
    policy = make_policy("rft", {"max_resolved_per_instance": 1})
    runs = [_run("a__b-1", 0, "unresolved"), _run("a__b-1", 1, "resolved")]
    assert [policy.decide(run, None).keep for run in runs] == [False, True]


def test_a_cap_below_one_is_an_error():
    with pytest.raises(PolicyError, match="max_resolved_per_instance"):
        make_policy("srft", {"max_resolved_per_instance": 0})
