"""Masking policies: which trajectories are kept, and which of their steps are trained.

A policy sees one trajectory and its verdict (or none) and returns a `Decision`. It never
touches tokens: the builder turns decisions into loss masks, the same way for every policy, so
comparing policies compares only their choices. Each row of the paper's table is one policy
(`../shared/docs/method.md`):

- `sft`: every trajectory, every step trained (outcome ignored: that is the baseline's point).
- `rft`: resolved trajectories only, every step trained.
- `srft`: resolved trajectories fully trained, unresolved ones kept with the critic's
  `mistake` steps masked.
- `srft-unresolved-only`: the paper's ablation, unresolved trajectories only, critic-masked.
- `srft-resolved-only`: its mirror, rft with the critic's `mistake` steps of the resolved
  trajectories masked (a resolved run's recovered mistakes are mistakes too).
- `rule-mask`: every trajectory, steps that the offline rule critic flags masked (SWE-Lego's
  error masking); needs no verdicts file.

A trajectory with an `unknown` outcome is never taken for resolved: the critic policies drop it
unless told to judge it like an unresolved one.

Policies live in the `POLICIES` registry (`srft.registry`, entry-point group `srft.policies`):
adding one is a `Policy` subclass with a `name`, an `Options` model and a `choose` method,
registered with `@POLICIES.register(name)`; a third-party package adds one without editing srft
by declaring, in its pyproject.toml,

    [project.entry-points."srft.policies"]
    my-policy = "my_package.policies:MyPolicy"

after which `srft build --policy my-policy` and the run config's `policies` find it.

Every policy takes `max_resolved_per_instance` and `max_unresolved_per_instance`: a corpus
sampled k times per task (pass@k) can hold many near-identical resolved runs of easy tasks, which
would dominate training. The cap keeps the first N kept runs of each instance and outcome in
corpus order (unknown-outcome runs a policy keeps count as unresolved: they are judged like
them) and drops the rest as `dropped:cap-resolved` / `dropped:cap-unresolved`. The count lives
in the policy object, so one object serves one build (`make_policy` per build).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from srft.files.corpus import Trajectory
from srft.files.verdicts import Label, Verdict
from srft.registry import Registry


class PolicyError(ValueError):
    """A policy name or option that does not exist, or input the policy cannot decide on."""


@dataclass(frozen=True)
class Decision:
    """What a policy decided for one trajectory.

    `trained[i]` says whether step i's assistant part is trained; `labels[i]` is the critic's
    label for step i where one is known (kept in the dataset for reports). `reason` is a short
    stable key used for the statistics (e.g. `resolved`, `dropped:unresolved`).
    """

    keep: bool
    trained: tuple[bool, ...]
    labels: tuple[str | None, ...]
    reason: str


Outcome = Literal["resolved", "unresolved", "unknown"]
OUTCOMES: tuple[Outcome, ...] = ("resolved", "unresolved", "unknown")


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_resolved_per_instance: int | None = Field(
        None, ge=1, description="keep at most this many resolved runs of each instance"
    )
    max_unresolved_per_instance: int | None = Field(
        None,
        ge=1,
        description="keep at most this many unresolved (or unknown-outcome) runs of each instance",
    )


def cap_key(trajectory: Trajectory) -> tuple[str, str]:
    """What the runs-per-instance caps count a kept trajectory under: (instance, outcome)."""
    outcome = "resolved" if trajectory.outcome.status == "resolved" else "unresolved"
    return (trajectory.instance_id or f"trajectory:{trajectory.id}", outcome)


class Policy(ABC):
    """Base of all policies: a name, validated options, and `decide`.

    `decide` is `judge` (the policy's choice, a pure function of one trajectory and its verdict,
    so a build may run it in worker processes) followed by `cap` (the runs-per-instance caps,
    which count the runs kept so far and so run once per build, in corpus order).
    """

    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = _Options
    # Whether a verdict must exist for the trajectories the policy judges.
    needs_verdicts: ClassVar[bool] = False
    # The outcomes the policy keeps at all; a trajectory of another is `dropped:<outcome>`.
    kept_outcomes: ClassVar[tuple[Outcome, ...]] = OUTCOMES

    def __init__(self, options: BaseModel) -> None:
        self.options = options
        self._kept: Counter[tuple[str, str]] = Counter()  # (instance, outcome) -> runs kept

    @property
    def has_caps(self) -> bool:
        """Whether a runs-per-instance cap is set (so `cap` may drop a judged trajectory)."""
        return any(
            getattr(self.options, f"max_{outcome}_per_instance", None) is not None
            for outcome in ("resolved", "unresolved")
        )

    def decide(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        """Decide for one trajectory (`judge`), then apply the runs-per-instance caps (`cap`).

        Call it once per trajectory, in corpus order: the caps count the runs kept so far.
        """
        return self.cap(cap_key(trajectory), self.judge(trajectory, verdict))

    def judge(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        """The policy's decision before the caps: outcomes it never keeps are dropped, the
        others are the policy's `choose`."""
        status = trajectory.outcome.status
        if status not in self.kept_outcomes:
            return _drop(trajectory, verdict, status)
        return self.choose(trajectory, verdict)

    def cap(self, key: tuple[str, str], decision: Decision) -> Decision:
        """`decision`, or a drop when its run is one too many for its instance and outcome;
        `key` is the trajectory's `cap_key`."""
        if not decision.keep:
            return decision
        outcome = key[1]
        limit = getattr(self.options, f"max_{outcome}_per_instance", None)
        if limit is not None and self._kept[key] >= limit:
            return Decision(
                False, (False,) * len(decision.trained), decision.labels, f"dropped:cap-{outcome}"
            )
        self._kept[key] += 1
        return decision

    @abstractmethod
    def choose(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        """The policy's own decision for a trajectory of one of its `kept_outcomes`."""

    def describe(self) -> dict[str, Any]:
        """Name and fully resolved options, for the build manifest."""
        return {"name": self.name, "options": self.options.model_dump(mode="json")}


POLICIES: Registry[type[Policy]] = Registry("policy", "srft.policies", error=PolicyError)


def policy_names() -> list[str]:
    """The registered policy names, sorted."""
    return POLICIES.names()


def make_policy(name: str, options: dict[str, Any] | None = None) -> Policy:
    """The policy called `name` with `options` validated (unknown options are errors)."""
    if name not in POLICIES.names():
        raise PolicyError(f"unknown policy {name!r}; choose one of {', '.join(policy_names())}")
    cls = POLICIES.get(name)  # a plug-in that cannot be imported fails here, with the reason
    try:
        opts = cls.Options.model_validate(options or {})
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "options"
        raise PolicyError(f"policy {name!r}: option {loc}: {err['msg']}") from e
    return cls(opts)


def _labels_of(verdict: Verdict | None, n: int) -> tuple[str | None, ...]:
    if verdict is None or verdict.status != "ok":
        return (None,) * n
    return tuple(verdict.labels())


def _all(trajectory: Trajectory, verdict: Verdict | None, reason: str, trained: bool) -> Decision:
    n = len(trajectory.steps)
    return Decision(True, (trained,) * n, _labels_of(verdict, n), reason)


def _drop(trajectory: Trajectory, verdict: Verdict | None, reason: str) -> Decision:
    n = len(trajectory.steps)
    return Decision(False, (False,) * n, _labels_of(verdict, n), f"dropped:{reason}")


@POLICIES.register("sft")
class SFT(Policy):
    """Every trajectory, every step trained: the no-filter, no-mask baseline."""

    name = "sft"

    def choose(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        return _all(trajectory, verdict, trajectory.outcome.status, True)


@POLICIES.register("rft")
class RFT(Policy):
    """Rejection fine-tuning: resolved trajectories only, every step trained."""

    name = "rft"
    kept_outcomes = ("resolved",)

    def choose(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        return _all(trajectory, verdict, "resolved", True)


class CriticOptions(_Options):
    """Options shared by the critic-masked policies."""

    mask: list[Label] = Field(
        default_factory=lambda: ["mistake"], description="step labels whose loss is masked"
    )
    min_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="mask a flagged step only when the critic's confidence in its label "
        "(agreement over `--samples`) reaches this; a flagged step below it is trained like a "
        "good one. Steps judged once carry no confidence and are masked as labelled",
    )
    on_failed: Literal["drop", "train", "mask"] = Field(
        "drop",
        description="a trajectory whose critic call failed: drop it, train it fully, or keep "
        "it as context with every step masked",
    )


class UnresolvedCriticOptions(CriticOptions):
    """Options of the critic-masked policies that judge unresolved trajectories."""

    unknown_outcome: Literal["drop", "judge"] = Field(
        "drop",
        description="a trajectory of unknown outcome: drop it, or judge it like an "
        "unresolved one (never treated as resolved)",
    )


class _CriticPolicy(Policy):
    needs_verdicts = True
    Options = CriticOptions

    def _judged(self, trajectory: Trajectory, verdict: Verdict | None, reason: str) -> Decision:
        opts = self.options
        n = len(trajectory.steps)
        if verdict is None:
            raise PolicyError(
                f"trajectory {trajectory.id!r} has no verdict; policy {self.name!r} needs one "
                f"for {reason} trajectories (run `srft critic` on the same corpus)"
            )
        if verdict.status != "ok":
            if opts.on_failed == "drop":
                return _drop(trajectory, verdict, "critic-failed")
            return Decision(
                True,
                (opts.on_failed == "train",) * n,
                (None,) * n,
                f"critic-failed:{opts.on_failed}",
            )
        masked = set(opts.mask)
        threshold = opts.min_confidence
        trained = tuple(
            s.label not in masked
            or (threshold is not None and s.confidence is not None and s.confidence < threshold)
            for s in verdict.steps
        )
        return Decision(True, trained, tuple(verdict.labels()), f"{reason}:judged")

    def _judged_unless_unknown(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        """An unresolved trajectory judged; an unknown-outcome one dropped unless the options
        say to judge it like an unresolved one."""
        status = trajectory.outcome.status
        if status == "unknown" and self.options.unknown_outcome == "drop":
            return _drop(trajectory, verdict, "unknown")
        return self._judged(trajectory, verdict, status)


@POLICIES.register("srft")
class SRFT(_CriticPolicy):
    """Step rejection fine-tuning: resolved trajectories trained, unresolved ones critic-masked."""

    name = "srft"

    class Options(UnresolvedCriticOptions):
        judge_resolved: bool = Field(
            False, description="mask the critic's flagged steps in resolved trajectories too"
        )

    def choose(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        if trajectory.outcome.status != "resolved":
            return self._judged_unless_unknown(trajectory, verdict)
        if self.options.judge_resolved:
            return self._judged(trajectory, verdict, "resolved")
        return _all(trajectory, verdict, "resolved", True)


@POLICIES.register("srft-unresolved-only")
class SRFTUnresolvedOnly(_CriticPolicy):
    """The paper's ablation: unresolved trajectories only, critic-masked."""

    name = "srft-unresolved-only"
    Options = UnresolvedCriticOptions
    kept_outcomes = ("unresolved", "unknown")

    def choose(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        return self._judged_unless_unknown(trajectory, verdict)


@POLICIES.register("srft-resolved-only")
class SRFTResolvedOnly(_CriticPolicy):
    """Rejection fine-tuning with the critic's flagged steps masked: resolved trajectories only.

    A resolved run often reached its fix after a wrong edit and a recovery; `rft` trains that
    wrong edit. This policy keeps rft's data and masks such steps, so it separates what masking
    does from what adding the unresolved runs does (`srft`).
    """

    name = "srft-resolved-only"
    kept_outcomes = ("resolved",)

    def choose(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        return self._judged(trajectory, verdict, "resolved")


@POLICIES.register("rule-mask")
class RuleMask(Policy):
    """Every trajectory kept; steps the offline rule critic labels in `mask` are masked.

    The rule critic runs here, so no verdicts file is needed; a given one is ignored for the
    mask (the labels recorded in the dataset are the rules' labels).
    """

    name = "rule-mask"

    class Options(_Options):
        mask: list[Label] = Field(default_factory=lambda: ["mistake"])
        outcomes: list[Outcome] = Field(
            default_factory=lambda: ["resolved", "unresolved", "unknown"],
            description="which outcomes to keep",
        )

    def choose(self, trajectory: Trajectory, verdict: Verdict | None) -> Decision:
        from srft.critic.rules import judge_rules

        status = trajectory.outcome.status
        rules = judge_rules(trajectory)
        if status not in self.options.outcomes:
            return _drop(trajectory, rules, status)
        masked = set(self.options.mask)
        trained = tuple(label not in masked for label in rules.labels())
        return Decision(True, trained, tuple(rules.labels()), f"{status}:rules")
