"""The stages of `srft run` and the graph a run config makes of them.

    [generate] -> ingest -> critic -> split -> build/<row> -> train/<row> -> eval/<row> --+
                                          |                          |                     |
                                          |                          +-> [rollout/<row>] --+
                                          +-> build/heldout -> eval/base ------------------+
                                                               [rollout/base] -------------+
                                                                                           v
                                                                          compare -> report

The graph is declared as data: `FAMILIES` lists, in run order, the small functions that each
add one family of stages (or none) for a config, from the facts about the run that `RunShape`
computes once. What each stage does is its action (`actions.py`); only files pass between
stages, so each one can be rerun, skipped or replaced alone. The bracketed stages, and
`truth`/`critic-quality`, belong to a run with an `environment` (`srft.evaluate.environment`).

Run-folder layout (paths relative to the run folder):

    <environment>/             generated trajectories, outcomes and true labels (`toy/` for the
                               toy testbed; runs whose environment generates them)
    corpus.jsonl               ingest
    verdicts.jsonl             critic
    truth.verdicts.jsonl       the environment's true labels as verdicts (for `labels: truth`)
    critic-quality.json        the critic's agreement with the true labels
    split/train.jsonl          training corpus (held-out instances removed) and its verdicts
    split/heldout.jsonl        held-out corpus and its verdicts (`*.verdicts.jsonl`)
    datasets/<row>/            build, one per policy row; datasets/heldout/ for evaluation
    runs/<row>/                train (train.json, metrics.jsonl, checkpoints/, model/)
    eval/<row>.json            held-out NLL of one student; eval/base.json of the base model
    eval.json                  all of them in one file (base model first)
    rollout/<row>.json         with `environment.rollout.episodes`: the student rolled out in the
                               environment (`srft.rollouts`); rollout/base.json of the base model
    handoff/<row>/             with `handoff.enabled`: the student's SWE-bench hand-off
    comparison.json / .md      the policy comparison table
    report.html                the report
    manifest.json              what ran, with which input hashes
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from srft.evaluate.environment import generates_trajectories
from srft.pipeline import actions
from srft.pipeline.actions import (
    BASE,
    CRITIC_QUALITY,
    HELDOUT,
    HELDOUT_POLICY,
    TRUTH_VERDICTS,
    model_fingerprint,
    rollout_names,
    tokenizer_files,
    uses_truth,
)
from srft.pipeline.config import TRUE_LABELS, RunConfig
from srft.pipeline.graph import Stage

SPLIT_TRUTH = ["split/train.truth.verdicts.jsonl", "split/heldout.truth.verdicts.jsonl"]


@dataclass
class RunShape:
    """What a run config decides about its graph, computed once for all the stage families."""

    config: RunConfig
    generates: bool  # an environment generates the trajectories (the `generate` stage)
    true_labels: bool  # ... with their true labels (`truth`, `critic-quality`)
    truth: bool  # some policy row reads the true labels
    rows: list[str]
    student: dict[str, Any]  # what identifies the untrained student (`model_fingerprint`)
    tokenizer_inputs: list[str]
    rollouts: list[str]  # the models rolled out: `base` and / or the rows
    compare_after: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, config: RunConfig) -> RunShape:
        environment = config.environment.plugin() if config.environment is not None else None
        shape = cls(
            config=config,
            generates=environment is not None and generates_trajectories(environment),
            true_labels=config.has_true_labels,
            truth=uses_truth(config),
            rows=[p.key for p in config.policies],
            student=model_fingerprint(config.train.model),
            tokenizer_inputs=tokenizer_files(config.tokenizer),
            rollouts=rollout_names(config),
        )
        shape.compare_after = [
            *(f"build/{r}" for r in shape.rows),
            *(f"train/{r}" for r in shape.rows),
        ]
        if config.evaluate.enabled:
            shape.compare_after += [*shape.evaluated_base(), *(f"eval/{r}" for r in shape.rows)]
        return shape

    def evaluated_base(self) -> list[str]:
        """`eval/base` when the untrained student is evaluated, else nothing."""
        evaluate = self.config.evaluate
        return [f"eval/{BASE}"] if evaluate.enabled and evaluate.base_model else []

    def labelled(self) -> list[str]:
        """The stages whose verdicts the builds read."""
        return ["ingest", "critic", *(["truth"] if self.truth else [])]

    def build_settings(self) -> dict[str, Any]:
        """The settings every build shares (the policy's own are added per row)."""
        build = self.config.build.model_dump(mode="json", exclude={"tokenizer"})
        return {**build, "tokenizer": self.config.tokenizer}

    def handoff_keys(self) -> list[str]:
        return [f"handoff/{r}" for r in self.rows] if self.config.handoff.enabled else []


# -- the families of stages, in run order ------------------------------------------------------


def generate_stages(shape: RunShape) -> list[Stage]:
    """The environment's trajectories, outcomes and true labels."""
    spec = shape.config.environment
    if spec is None or not shape.generates:
        return []
    settings = spec.model_dump(mode="json", include={"name", "settings"})
    action = actions.generate_action(shape.config)
    return [Stage("generate", "generate", action, outputs=[spec.name], settings=settings)]


def ingest_stages(shape: RunShape) -> list[Stage]:
    config = shape.config
    return [
        Stage(
            "ingest",
            "ingest",
            actions.ingest_action(config),
            outputs=["corpus.jsonl"],
            clean=["corpus.jsonl", "corpus.rejects.jsonl"],
            settings={
                "inputs": config.inputs,
                "labels": config.labels,
                "format": config.format,
                "skip_invalid": config.skip_invalid,
            },
            inputs=[*config.inputs, *config.labels],
            after=["generate"] if shape.generates else [],
        )
    ]


def critic_stages(shape: RunShape) -> list[Stage]:
    critic = shape.config.critic
    labels_from = critic.options.get("labels_from")
    from_truth = labels_from == TRUE_LABELS
    return [
        Stage(
            "critic",
            "critic",
            actions.critic_action(shape.config),
            outputs=["verdicts.jsonl"],
            clean=["verdicts.jsonl", "verdicts.summary.json", "verdicts.sqlite"],
            # The failure switch decides whether the run goes on, not what the verdicts are.
            settings=critic.model_dump(mode="json", exclude={"on_partial_failure"}),
            inputs=[labels_from] if isinstance(labels_from, str) and not from_truth else [],
            after=["ingest", *(["generate"] if from_truth else [])],
        )
    ]


def truth_stages(shape: RunShape) -> list[Stage]:
    """The true labels as run-keyed verdicts (the environment's are keyed by instance): what the
    critic is scored against, and the verdicts of `labels: truth` rows."""
    if not shape.true_labels:
        return []
    truth = Stage(
        "truth",
        "truth",
        actions.truth_action(shape.config),
        outputs=[TRUTH_VERDICTS],
        clean=[TRUTH_VERDICTS, "truth.verdicts.summary.json", "truth.verdicts.sqlite"],
        after=["ingest", "generate"],
    )
    quality = Stage(
        "critic-quality",
        "critic-quality",
        actions.critic_quality_action(shape.config),
        outputs=[CRITIC_QUALITY],
        after=["critic", "truth"],
    )
    return [truth, quality]


def split_stages(shape: RunShape) -> list[Stage]:
    """Training and held-out corpora and verdicts, when the students are evaluated."""
    evaluate = shape.config.evaluate
    if not evaluate.enabled:
        return []
    outputs = [
        f"split/{side}{kind}"
        for side in ("train", HELDOUT)
        for kind in (".jsonl", ".verdicts.jsonl")
    ]
    return [
        Stage(
            "split",
            "split",
            actions.split_action(shape.config),
            outputs=[*outputs, *(SPLIT_TRUTH if shape.truth else [])],
            clean=["split"],
            settings={"fraction": evaluate.heldout_fraction, "seed": evaluate.seed},
            after=shape.labelled(),
        )
    ]


def student_stages(shape: RunShape) -> list[Stage]:
    """One dataset and one student per policy row."""
    config = shape.config
    if config.evaluate.enabled:
        corpus, after = "split/train.jsonl", ["split"]
        verdicts_of = {"critic": "split/train.verdicts.jsonl", "truth": SPLIT_TRUTH[0]}
    else:
        corpus, after = "corpus.jsonl", shape.labelled()
        verdicts_of = {"critic": "verdicts.jsonl", "truth": TRUTH_VERDICTS}
    stages = []
    for policy in config.policies:
        row = policy.key
        build = actions.build_action(
            config,
            corpus,
            verdicts_of[policy.labels],
            policy.name,
            policy.options,
            f"datasets/{row}",
        )
        settings = {**shape.build_settings(), "policy": policy.name, "options": policy.options}
        if policy.labels == "truth":
            settings["labels"] = "truth"
        stages.append(
            Stage(
                f"build/{row}",
                "build",
                build,
                outputs=[f"datasets/{row}"],
                settings=settings,
                inputs=shape.tokenizer_inputs,
                after=after,
            )
        )
        stages.append(train_stage(shape, row))
    return stages


def train_stage(shape: RunShape, row: str) -> Stage:
    train = shape.config.train
    return Stage(
        f"train/{row}",
        "train",
        actions.train_action(shape.config, row),
        outputs=[f"runs/{row}/model", f"runs/{row}/metrics.jsonl"],
        clean=[f"runs/{row}"],
        settings={"model": shape.student, "options": train.options, "launcher": train.launcher},
        after=[f"build/{row}"],
        resumable=True,
    )


def heldout_stages(shape: RunShape) -> list[Stage]:
    """The held-out dataset and the NLL of the base model and of every student on it."""
    config = shape.config
    if not config.evaluate.enabled:
        return []
    heldout = actions.build_action(
        config,
        "split/heldout.jsonl",
        "split/heldout.verdicts.jsonl",
        HELDOUT_POLICY,
        {},
        f"datasets/{HELDOUT}",
    )
    stages = [
        Stage(
            f"build/{HELDOUT}",
            "build",
            heldout,
            outputs=[f"datasets/{HELDOUT}"],
            settings={**shape.build_settings(), "policy": HELDOUT_POLICY, "options": {}},
            inputs=shape.tokenizer_inputs,
            after=["split"],
        )
    ]
    options = config.evaluate.options
    for key in shape.evaluated_base():
        action = actions.eval_action(config, BASE, config.train.model)
        stages.append(
            Stage(
                key,
                "evaluate",
                action,
                outputs=[f"{key}.json"],
                settings={"model": shape.student, "options": options},
                after=[f"build/{HELDOUT}"],
            )
        )
    for row in shape.rows:
        action = actions.eval_action(config, row, None)
        stages.append(
            Stage(
                f"eval/{row}",
                "evaluate",
                action,
                outputs=[f"eval/{row}.json"],
                settings={"options": options},
                after=[f"build/{HELDOUT}", f"train/{row}"],
            )
        )
    return stages


def rollout_stages(shape: RunShape) -> list[Stage]:
    """The closed loop: each model rolled out in the environment."""
    spec = shape.config.environment
    if spec is None:
        return []
    stages = []
    for name in shape.rollouts:
        base = name == BASE
        model = shape.config.train.model if base else None
        settings = {
            "environment": spec.name,
            **spec.rollout.model_dump(mode="json"),
            **({"model": shape.student} if base else {}),
        }
        stages.append(
            Stage(
                f"rollout/{name}",
                "rollout",
                actions.rollout_action(shape.config, name, model),
                outputs=[f"rollout/{name}.json"],
                settings=settings,
                after=[] if base else [f"train/{name}"],
            )
        )
    return stages


def handoff_stages(shape: RunShape) -> list[Stage]:
    settings = shape.config.handoff.model_dump(mode="json")
    return [
        Stage(
            key,
            "handoff",
            actions.handoff_action(shape.config, row),
            outputs=[key],
            settings=settings,
            after=[f"train/{row}"],
        )
        for row, key in zip(shape.rows, shape.handoff_keys(), strict=False)
    ]


def compare_stages(shape: RunShape) -> list[Stage]:
    config = shape.config
    outputs = [
        "comparison.json",
        "comparison.md",
        *(["eval.json"] if config.evaluate.enabled else []),
    ]
    return [
        Stage(
            "compare",
            "compare",
            actions.compare_action(config, shape.rows),
            outputs=outputs,
            settings={"rows": shape.rows, "base": config.evaluate.base_model},
            after=shape.compare_after,
        )
    ]


def report_stages(shape: RunShape) -> list[Stage]:
    config = shape.config
    if not config.report.enabled:
        return []
    after = [
        "ingest",
        "critic",
        *(["critic-quality"] if shape.true_labels else []),
        "compare",
        *shape.compare_after,
        *(f"rollout/{n}" for n in shape.rollouts),
        *shape.handoff_keys(),
    ]
    return [
        Stage(
            "report",
            "report",
            actions.report_action(config, shape.rows),
            outputs=["report.html"],
            settings=config.report.model_dump(mode="json") | {"name": config.name},
            after=after,
        )
    ]


# The graph, in run order: every stage comes after the ones it reads.
FAMILIES: tuple[Callable[[RunShape], list[Stage]], ...] = (
    generate_stages,
    ingest_stages,
    critic_stages,
    truth_stages,
    split_stages,
    student_stages,
    heldout_stages,
    rollout_stages,
    handoff_stages,
    compare_stages,
    report_stages,
)


def build_graph(config: RunConfig) -> list[Stage]:
    """The stages of a run, in an order where every stage comes after the ones it reads."""
    shape = RunShape.of(config)
    return [stage for family in FAMILIES for stage in family(shape)]
