"""The stages of `srft run` and the graph a run config makes of them.

    [generate] -> ingest -> critic -> split -> build/<row> -> train/<row> -> eval/<row> --+
                                          |                          |                     |
                                          |                          +-> [rollout/<row>] --+
                                          +-> build/heldout -> eval/base ------------------+
                                                               [rollout/base] -------------+
                                                                                           v
                                                                          compare -> report

Every action here is a thin call into a stage's public Python API (the same function its CLI
command calls), with paths inside the run folder; none reaches into another stage's internals.
Only files pass between stages, so each one can be rerun, skipped or replaced alone.

Run-folder layout (paths relative to the run folder):

    toy/                       generated trajectories, outcomes and true labels (toy runs only)
    corpus.jsonl               ingest
    verdicts.jsonl             critic
    truth.verdicts.jsonl       toy runs: the toy's true labels as verdicts (for `labels: truth`)
    critic-quality.json        toy runs: the critic's agreement with the true labels
    split/train.jsonl          training corpus (held-out instances removed) and its verdicts
    split/heldout.jsonl        held-out corpus and its verdicts (`*.verdicts.jsonl`)
    datasets/<row>/            build, one per policy row; datasets/heldout/ for evaluation
    runs/<row>/                train (train.json, metrics.jsonl, checkpoints/, model/)
    eval/<row>.json            held-out NLL of one student; eval/base.json of the base model
    eval.json                  all of them in one file (base model first)
    rollout/<row>.json         toy runs: the student rolled out in the toy environment
                               (`srft toy eval`); rollout/base.json of the base model
    handoff/<row>/             with `handoff.enabled`: the student's SWE-bench hand-off
    comparison.json / .md      the policy comparison table
    report.html                the report
    manifest.json              what ran, with which input hashes
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from srft.pipeline.config import TOY_LABELS, RunConfig, resolve_model
from srft.pipeline.graph import Stage, StageContext

HELDOUT = "heldout"
TRUTH_VERDICTS = "truth.verdicts.jsonl"
CRITIC_QUALITY = "critic-quality.json"
BASE = "base"
# The held-out set is built with `sft` so every held-out step of every trajectory is scored, the
# same tokens for every student; the critic's labels ride along in the `steps` column.
HELDOUT_POLICY = "sft"
# Files that identify a tokenizer; hashing only these keeps a no-op rerun fast on a large model.
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)


def as_summary(value: Any) -> dict[str, Any]:
    """A stage API's summary object (dataclass, pydantic model or mapping) as small JSON data.

    Kept in the manifest, so long lists (per-record rejections, file lists) become their length.
    """
    if value is None:
        return {}
    data = jsonable(value)
    return data if isinstance(data, dict) else {"result": data}


def jsonable(value: Any) -> Any:
    """`value` as small JSON data for the manifest: pydantic converts it (dataclasses, pydantic
    models, counters, paths; anything else as its `str`), then `_shortened` keeps it small.

    A dataclass's fields hidden from its repr stay out, as they always have (a build summary's
    whole dataset manifest): pydantic would include them. Where pydantic spells a value other
    than the converter it replaced did (a tuple key `a,b` not `a:b`, a datetime in ISO form, an
    enum as its value), no stage summary holds one: the manifests of the pipeline tests and of
    an ingest of ../shared/data came out the same.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.repr}
    return _shortened(to_jsonable_python(value, by_alias=False, fallback=str))


def _shortened(data: Any, depth: int = 0) -> Any:
    """JSON data with every list over 20 items replaced by its count and every mapping nested
    deeper than 4 by its size: the manifest says how many records were rejected, not which."""
    if isinstance(data, dict):
        if depth > 4:
            return f"{len(data)} entries"
        return {k: _shortened(v, depth + 1) for k, v in data.items()}
    if isinstance(data, list):
        if len(data) > 20:
            return {"count": len(data)}
        return [_shortened(v, depth + 1) for v in data]
    return data


def model_fingerprint(model: str) -> dict[str, Any]:
    """What identifies a student model in the input hash.

    A local folder is identified by its config and the names and sizes of its files: hashing
    every byte of a multi-GB checkpoint on each rerun would make "nothing to do" slow. A hub id
    is identified by its name (pin a revision by downloading it to a folder).
    """
    path = Path(resolve_model(model))
    if not path.is_dir():
        return {"id": model}
    files = {
        p.relative_to(path).as_posix(): p.stat().st_size
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }
    config = path / "config.json"
    return {
        "name": path.name,
        "files": files,
        "config": config.read_text(encoding="utf-8") if config.is_file() else None,
    }


def tokenizer_files(tokenizer: str) -> list[str]:
    """The tokenizer's own files, hashed by content (a hub id has none: its name is hashed)."""
    path = Path(resolve_model(tokenizer))
    if not path.is_dir():
        return []
    return [str(path / name) for name in _TOKENIZER_FILES if (path / name).is_file()]


# -- actions -----------------------------------------------------------------------------------


def generate_action(config: RunConfig):
    """Toy trajectories, outcomes and true labels (`srft toy generate`)."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.toy.generate import generate
        from srft.toy.teacher import TeacherConfig

        toy = config.toy
        assert toy is not None
        teacher = (
            TeacherConfig.preset(toy.teacher)
            if isinstance(toy.teacher, str)
            else TeacherConfig(**toy.teacher)
        )
        extra = {"levels": tuple(toy.levels)} if toy.levels else {}
        result = generate(ctx.path("toy"), toy.episodes, seed=toy.seed, config=teacher, **extra)
        return as_summary(result)

    return action


def toy_files(toy_dir: Path) -> dict[str, Path]:
    """The files of a generated toy folder (`trajectories`, `outcomes`, `labels`), from `toy.json`."""
    import json

    from srft.toy.generate import MANIFEST_FILE

    files = json.loads((toy_dir / MANIFEST_FILE).read_text(encoding="utf-8"))["files"]
    return {name: toy_dir / rel for name, rel in files.items()}


def ingest_action(config: RunConfig):
    """Corpus JSONL from the inputs and outcome labels (`srft ingest`)."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.corpus.ingest import ingest

        if config.toy is not None:
            files = toy_files(ctx.path("toy"))
            inputs, labels, fmt = [files["trajectories"]], [files["outcomes"]], None
        else:
            inputs, labels, fmt = (
                list(config.inputs),
                [Path(p) for p in config.labels],
                config.format,
            )
        summary = ingest(
            inputs,
            labels=labels,
            output=ctx.path("corpus.jsonl"),
            format=fmt,
            skip_invalid=config.skip_invalid,
            rejects=ctx.path("corpus.rejects.jsonl"),
        )
        ctx.log(f"  read {summary.read}: {summary.accepted} accepted, {summary.rejected} rejected")
        if summary.rejected:
            ctx.log(f"  the rejected records and why: {ctx.path('corpus.rejects.jsonl')}")
        return as_summary(summary)

    return action


def critic_action(config: RunConfig):
    """Verdicts for every trajectory of the corpus (`srft critic`)."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.critic.run import run_critic

        options = dict(config.critic.options)
        if options.get("labels_from") == TOY_LABELS:
            options["labels_from"] = toy_files(ctx.path("toy"))["labels"]
        summary = run_critic(
            ctx.path("corpus.jsonl"), ctx.path("verdicts.jsonl"), config.critic.name, **options
        )
        outcome = summary["outcome"]
        if outcome != "complete":
            reasons = ", ".join(
                f"{kind} {r['count']}" for kind, r in summary["failure_reasons"].items()
            )
            t = summary["trajectories"]
            note = f"critic: {t['failed']} of {t['read']} trajectories failed ({reasons})"
            if outcome == "none" or config.critic.on_partial_failure == "stop":
                # Rerunning `srft run` retries only the failed trajectories (the store keeps
                # the rest), so stopping costs nothing already paid for.
                raise RuntimeError(f"{note}; rerun to retry them")
            ctx.log(f"  {note}; continuing (critic.on_partial_failure: continue)")
        return as_summary(summary)

    return action


def truth_action(config: RunConfig):
    """The toy testbed's true labels as a verdicts file (the `file` critic), for the policy rows
    that read `labels: truth`."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.critic.run import run_critic

        summary = run_critic(
            ctx.path("corpus.jsonl"),
            ctx.path(TRUTH_VERDICTS),
            "file",
            labels_from=toy_files(ctx.path("toy"))["labels"],
        )
        return as_summary(summary)

    return action


def critic_quality_action(config: RunConfig):
    """How far the critic's labels agree with the toy's true ones (`srft critic-eval`)."""

    def action(ctx: StageContext) -> dict[str, Any]:
        import json

        from srft.critic.quality import evaluate_critic

        report = evaluate_critic(ctx.path("verdicts.jsonl"), ctx.path(TRUTH_VERDICTS))
        ctx.path(CRITIC_QUALITY).write_text(json.dumps(report, indent=2), encoding="utf-8")
        return {
            "steps": report["steps"],
            "accuracy": report["accuracy"],
            "mistake_f1": report["mistake_vs_rest"]["f1"],
        }

    return action


def uses_truth(config: RunConfig) -> bool:
    """Whether some policy row reads the toy's true labels."""
    return config.toy is not None and any(p.labels == "truth" for p in config.policies)


def split_action(config: RunConfig):
    """Training and held-out corpora (split by instance id), and their verdicts."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.pipeline.split import split_corpus, split_verdicts

        sides = {side: ctx.path(f"split/{side}.jsonl") for side in ("train", HELDOUT)}
        counts = split_corpus(
            ctx.path("corpus.jsonl"),
            sides["train"],
            sides[HELDOUT],
            fraction=config.evaluate.heldout_fraction,
            seed=config.evaluate.seed,
        )
        split_verdicts(
            ctx.path("verdicts.jsonl"),
            sides,
            {side: ctx.path(f"split/{side}.verdicts.jsonl") for side in sides},
        )
        if uses_truth(config):
            split_verdicts(
                ctx.path(TRUTH_VERDICTS),
                sides,
                {side: ctx.path(f"split/{side}.truth.verdicts.jsonl") for side in sides},
            )
        return counts

    return action


def build_action(
    config: RunConfig, corpus: str, verdicts: str, policy: str, options: dict[str, Any], out: str
):
    """One masked dataset (`srft build`)."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.dataset.build import build_dataset

        summary = build_dataset(
            ctx.path(corpus),
            ctx.path(verdicts),
            policy=policy,
            tokenizer=resolve_model(config.tokenizer, "tokenizer"),
            output=ctx.path(out),
            max_length=config.build.max_length,
            overlong=config.build.overlong,
            chat_template=Path(config.build.chat_template) if config.build.chat_template else None,
            policy_options=options or None,
            **config.build.options,
        )
        return as_summary(summary)

    return action


def train_action(config: RunConfig, row: str):
    """One student (`srft train`), resumed from its last checkpoint after an interruption.

    Without `train.launcher` the trainer runs in this process. With one (e.g. `accelerate launch
    --config_file zero3.yaml --num_processes 8`), the stage writes the trainer's config file and
    runs `<launcher> -m srft.cli train --config FILE` as a subprocess, so one `srft run` drives a
    multi-GPU training while every other stage stays in the single driver process.
    """

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.train.config import TrainConfig

        run = ctx.path(f"runs/{row}")
        resumed = ctx.resume and any(run.glob("checkpoints/step-*"))
        train_config = TrainConfig(
            data=ctx.path(f"datasets/{row}"),
            output_dir=run,
            model=resolve_model(config.train.model),
            tokenizer=resolve_model(config.tokenizer, "tokenizer"),
            # The trainer starts over by itself when an interrupted run left no checkpoint.
            resume=ctx.resume,
            **config.train.options,
        )
        if config.train.launcher is None:
            from srft.train.trainer import train

            train(train_config)
        else:
            launch_training(config.train.launcher, train_config, run / TRAIN_CONFIG_FILE, ctx)
        return {"resumed": resumed, "run": str(run)}

    return action


TRAIN_CONFIG_FILE = "srft-run.train.yaml"


def launch_training(launcher: str, train_config: Any, config_file: Path, ctx: StageContext) -> None:
    """Run `srft train --config config_file` under `launcher`; a failure names the command."""
    import shlex
    import subprocess
    import sys

    import yaml

    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(yaml.safe_dump(train_config.dump(), sort_keys=False), encoding="utf-8")
    words = shlex.split(launcher)
    if words and words[0] in ("python", "python3"):
        words[0] = sys.executable
    command = [*words, "-m", "srft.cli", "train", "--config", str(config_file)]
    ctx.log(f"  $ {shlex.join(command)}")
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`{shlex.join(command)}` exited with status {done.returncode}")


def model_path(ctx: StageContext, name: str, model: str | None) -> str:
    """The model an evaluating stage loads: `model` (the base), or the student of row `name`."""
    return resolve_model(model) if model is not None else str(ctx.path(f"runs/{name}"))


def eval_action(config: RunConfig, name: str, model: str | None):
    """Held-out NLL per step label of one model (`srft evaluate`); `model` None: the student of
    policy row `name`."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.evaluate.nll import evaluate_nll

        path = model_path(ctx, name, model)
        report = evaluate_nll(
            ctx.path(f"datasets/{HELDOUT}"),
            {name: path},
            ctx.path(f"eval/{name}.json"),
            progress=ctx.log,
            **config.evaluate.options,
        )
        overall = report["models"][name]["overall"]
        return {
            "rows": report["dataset"]["rows_evaluated"],
            "nll_per_token": overall["nll_per_token"],
        }

    return action


def rollout_action(config: RunConfig, name: str, model: str | None):
    """The closed loop of a toy run: one model rolled out on fresh toy episodes (the same for
    every model of the run); `model` None: the student of policy row `name`."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.toy.eval import evaluate_paths, write_eval

        assert config.toy is not None
        settings = config.toy.rollout
        path = model_path(ctx, name, model)
        ctx.log(f"  rolling {name} out on {settings.episodes} toy episodes")
        result = evaluate_paths(
            {name: path},
            episodes=settings.episodes,
            seed=settings.seed,
            temperatures=tuple(settings.temperatures),
            max_steps=settings.step_limit,
            max_new_tokens=settings.max_new_tokens,
        )
        write_eval(result, ctx.path(f"rollout/{name}.json"))
        return {
            mode: data["students"][name]["success"]["rate"]
            for mode, data in result["modes"].items()
        }

    return action


def rollout_names(config: RunConfig) -> list[str]:
    """The models a toy run rolls out: the base model (if evaluated) and every policy row."""
    if config.toy is None or not config.toy.rollout.episodes:
        return []
    return [*([BASE] if config.evaluate.base_model else []), *(p.key for p in config.policies)]


def handoff_action(config: RunConfig, row: str):
    """The agent-evaluation hand-off of the student of `row` (`srft evaluate handoff`)."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.evaluate.handoff import write_handoff

        h = write_handoff(
            ctx.run_dir,
            ctx.path(f"runs/{row}"),
            name=row,
            **config.handoff.model_dump(exclude={"enabled"}),
        )
        return {"model_dir": h.model_dir, "merged": h.merged}

    return action


def compare_action(config: RunConfig, rows: list[str]):
    """The policy comparison table and the merged `eval.json`."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.pipeline.compare import compare

        evaluated = config.evaluate.enabled
        table = compare(
            ctx.run_dir,
            rows,
            base=BASE if evaluated and config.evaluate.base_model else None,
            evaluated=evaluated,
        )
        return {"rows": len(table["rows"])}

    return action


def report_action(config: RunConfig, rows: list[str]):
    """The static HTML report (`srft report`)."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.report.build import write_report

        eval_json = ctx.path("eval.json")
        write_report(
            ctx.path("report.html"),
            corpus=ctx.path("corpus.jsonl"),
            verdicts=ctx.path("verdicts.jsonl"),
            datasets={row: ctx.path(f"datasets/{row}") for row in rows},
            runs={row: ctx.path(f"runs/{row}") for row in rows},
            eval_json=eval_json if eval_json.exists() else None,
            rollouts=[ctx.path(f"rollout/{n}.json") for n in rollout_names(config)],
            handoffs={row: ctx.path(f"handoff/{row}") for row in rows}
            if config.handoff.enabled
            else None,
            critic_quality=ctx.path(CRITIC_QUALITY) if config.toy is not None else None,
            settings=config.model_dump(mode="json", exclude_none=True),
            title=config.report.title or config.name or f"srft run {ctx.run_dir.name}",
        )
        return {}

    return action


# -- the graph ---------------------------------------------------------------------------------


def build_graph(config: RunConfig) -> list[Stage]:
    """The stages of a run, in an order where every stage comes after the ones it reads."""
    stages: list[Stage] = []
    source: list[str] = []
    if config.toy is not None:
        stages.append(
            Stage(
                "generate",
                "generate",
                generate_action(config),
                outputs=["toy"],
                settings=config.toy.model_dump(mode="json"),
            )
        )
        source = ["generate"]
    stages.append(
        Stage(
            "ingest",
            "ingest",
            ingest_action(config),
            outputs=["corpus.jsonl"],
            clean=["corpus.jsonl", "corpus.rejects.jsonl"],
            settings={
                "inputs": config.inputs,
                "labels": config.labels,
                "format": config.format,
                "skip_invalid": config.skip_invalid,
            },
            inputs=[*config.inputs, *config.labels],
            after=source,
        )
    )
    labels_from = config.critic.options.get("labels_from")
    critic_inputs = (
        [labels_from] if isinstance(labels_from, str) and labels_from != TOY_LABELS else []
    )
    critic_after = ["ingest", *(["generate"] if labels_from == TOY_LABELS else [])]
    stages.append(
        Stage(
            "critic",
            "critic",
            critic_action(config),
            outputs=["verdicts.jsonl"],
            clean=["verdicts.jsonl", "verdicts.summary.json", "verdicts.sqlite"],
            # The failure switch decides whether the run goes on, not what the verdicts are.
            settings=config.critic.model_dump(mode="json", exclude={"on_partial_failure"}),
            inputs=critic_inputs,
            after=critic_after,
        )
    )
    truth = uses_truth(config)
    if config.toy is not None:
        # The true labels as run-keyed verdicts (the toy's labels file is keyed by instance):
        # what the critic is scored against, and the verdicts of `labels: truth` rows.
        stages.append(
            Stage(
                "truth",
                "truth",
                truth_action(config),
                outputs=[TRUTH_VERDICTS],
                clean=[TRUTH_VERDICTS, "truth.verdicts.summary.json", "truth.verdicts.sqlite"],
                after=["ingest", "generate"],
            )
        )
        stages.append(
            Stage(
                "critic-quality",
                "critic-quality",
                critic_quality_action(config),
                outputs=[CRITIC_QUALITY],
                after=["critic", "truth"],
            )
        )
    if config.evaluate.enabled:
        truth_sides = ["split/train.truth.verdicts.jsonl", "split/heldout.truth.verdicts.jsonl"]
        stages.append(
            Stage(
                "split",
                "split",
                split_action(config),
                outputs=[
                    "split/train.jsonl",
                    "split/train.verdicts.jsonl",
                    "split/heldout.jsonl",
                    "split/heldout.verdicts.jsonl",
                    *(truth_sides if truth else []),
                ],
                clean=["split"],
                settings={
                    "fraction": config.evaluate.heldout_fraction,
                    "seed": config.evaluate.seed,
                },
                after=["ingest", "critic", *(["truth"] if truth else [])],
            )
        )
        train_corpus = "split/train.jsonl"
        verdicts_of = {"critic": "split/train.verdicts.jsonl", "truth": truth_sides[0]}
        build_after = ["split"]
    else:
        train_corpus = "corpus.jsonl"
        verdicts_of = {"critic": "verdicts.jsonl", "truth": TRUTH_VERDICTS}
        build_after = ["ingest", "critic", *(["truth"] if truth else [])]

    build_settings = {
        **config.build.model_dump(mode="json", exclude={"tokenizer"}),
        "tokenizer": config.tokenizer,
    }
    tokenizer_inputs = tokenizer_files(config.tokenizer)
    student = model_fingerprint(config.train.model)
    rows = [p.key for p in config.policies]

    for policy in config.policies:
        row = policy.key
        stages.append(
            Stage(
                f"build/{row}",
                "build",
                build_action(
                    config,
                    train_corpus,
                    verdicts_of[policy.labels],
                    policy.name,
                    policy.options,
                    f"datasets/{row}",
                ),
                outputs=[f"datasets/{row}"],
                settings={
                    **build_settings,
                    "policy": policy.name,
                    "options": policy.options,
                    **({"labels": "truth"} if policy.labels == "truth" else {}),
                },
                inputs=tokenizer_inputs,
                after=build_after,
            )
        )
        stages.append(
            Stage(
                f"train/{row}",
                "train",
                train_action(config, row),
                outputs=[f"runs/{row}/model", f"runs/{row}/metrics.jsonl"],
                clean=[f"runs/{row}"],
                settings={
                    "model": student,
                    "options": config.train.options,
                    "launcher": config.train.launcher,
                },
                after=[f"build/{row}"],
                resumable=True,
            )
        )

    if config.evaluate.enabled:
        stages.append(
            Stage(
                f"build/{HELDOUT}",
                "build",
                build_action(
                    config,
                    "split/heldout.jsonl",
                    "split/heldout.verdicts.jsonl",
                    HELDOUT_POLICY,
                    {},
                    f"datasets/{HELDOUT}",
                ),
                outputs=[f"datasets/{HELDOUT}"],
                settings={**build_settings, "policy": HELDOUT_POLICY, "options": {}},
                inputs=tokenizer_inputs,
                after=["split"],
            )
        )
        eval_settings = config.evaluate.options
        if config.evaluate.base_model:
            stages.append(
                Stage(
                    f"eval/{BASE}",
                    "evaluate",
                    eval_action(config, BASE, config.train.model),
                    outputs=[f"eval/{BASE}.json"],
                    settings={"model": student, "options": eval_settings},
                    after=[f"build/{HELDOUT}"],
                )
            )
        for row in rows:
            stages.append(
                Stage(
                    f"eval/{row}",
                    "evaluate",
                    eval_action(config, row, None),
                    outputs=[f"eval/{row}.json"],
                    settings={"options": eval_settings},
                    after=[f"build/{HELDOUT}", f"train/{row}"],
                )
            )

    rollout_settings = config.toy.rollout.model_dump(mode="json") if config.toy else {}
    for name in rollout_names(config):
        stages.append(
            Stage(
                f"rollout/{name}",
                "rollout",
                rollout_action(config, name, config.train.model if name == BASE else None),
                outputs=[f"rollout/{name}.json"],
                settings={
                    **rollout_settings,
                    **({"model": student} if name == BASE else {}),
                },
                after=[] if name == BASE else [f"train/{name}"],
            )
        )

    handoff_keys = [f"handoff/{r}" for r in rows] if config.handoff.enabled else []
    for row, key in zip(rows, handoff_keys, strict=False):
        stages.append(
            Stage(
                key,
                "handoff",
                handoff_action(config, row),
                outputs=[f"handoff/{row}"],
                settings=config.handoff.model_dump(mode="json"),
                after=[f"train/{row}"],
            )
        )

    compare_after = [f"build/{r}" for r in rows] + [f"train/{r}" for r in rows]
    if config.evaluate.enabled:
        compare_after += ([f"eval/{BASE}"] if config.evaluate.base_model else []) + [
            f"eval/{r}" for r in rows
        ]
    compare_outputs = ["comparison.json", "comparison.md"]
    if config.evaluate.enabled:
        compare_outputs.append("eval.json")
    stages.append(
        Stage(
            "compare",
            "compare",
            compare_action(config, rows),
            outputs=compare_outputs,
            settings={"rows": rows, "base": config.evaluate.base_model},
            after=compare_after,
        )
    )
    if config.report.enabled:
        stages.append(
            Stage(
                "report",
                "report",
                report_action(config, rows),
                outputs=["report.html"],
                settings=config.report.model_dump(mode="json") | {"name": config.name},
                after=[
                    "ingest",
                    "critic",
                    *(["critic-quality"] if config.toy is not None else []),
                    "compare",
                    *compare_after,
                    *(f"rollout/{n}" for n in rollout_names(config)),
                    *handoff_keys,
                ],
            )
        )
    return stages
