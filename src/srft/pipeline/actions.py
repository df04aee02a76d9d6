"""What each stage of `srft run` does: one action per stage kind, a thin call into its API.

Every action here calls a stage's public Python API (the same function its CLI command calls)
with paths inside the run folder; none reaches into another stage's internals. The environment
stages (`generate`, `truth`, `rollout`) ask the run's environment plug-in
(`srft.evaluate.environment`), whatever it is. Which stages a config runs, in what order and
with which settings, is `stages.py`; the run-folder layout is described there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from srft.evaluate.environment import GeneratedFiles, TrajectorySource
from srft.pipeline.config import TRUE_LABELS, RunConfig, resolve_model
from srft.pipeline.graph import StageContext

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
    a run on ../shared/data (`scripts/same_outputs.py`) came out the same.
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
    """Trajectories, outcomes and true labels from the run's environment (`srft toy generate`
    for the toy), into the run-folder folder named after the environment."""

    def action(ctx: StageContext) -> dict[str, Any]:
        spec = config.environment
        assert spec is not None
        environment = spec.plugin()
        assert isinstance(environment, TrajectorySource)
        return as_summary(environment.generate(ctx.path(spec.name), spec.parsed_settings()))

    return action


def generated_files(config: RunConfig, ctx: StageContext) -> GeneratedFiles:
    """What the `generate` stage of this run wrote (it ran before, maybe in an earlier run)."""
    spec = config.environment
    assert spec is not None
    environment = spec.plugin()
    assert isinstance(environment, TrajectorySource)
    return environment.generated(ctx.path(spec.name))


def true_labels(config: RunConfig, ctx: StageContext) -> Path:
    """The environment's true step labels (a verdicts file keyed by instance id)."""
    labels = generated_files(config, ctx).labels
    assert labels is not None, "the environment generates no true labels"
    return labels


def ingest_action(config: RunConfig):
    """Corpus JSONL from the inputs and outcome labels (`srft ingest`)."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.corpus.ingest import ingest

        if config.inputs:
            inputs, labels, fmt = (
                list(config.inputs),
                [Path(p) for p in config.labels],
                config.format,
            )
        else:
            files = generated_files(config, ctx)
            inputs, labels, fmt = [files.trajectories], [files.outcomes], None
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
        if options.get("labels_from") == TRUE_LABELS:
            options["labels_from"] = true_labels(config, ctx)
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
    """The environment's true labels as a verdicts file keyed by run (the `file` critic): what the
    critic is scored against, and the verdicts of the policy rows that read `labels: truth`."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.critic.run import run_critic

        summary = run_critic(
            ctx.path("corpus.jsonl"),
            ctx.path(TRUTH_VERDICTS),
            "file",
            labels_from=true_labels(config, ctx),
        )
        return as_summary(summary)

    return action


def critic_quality_action(config: RunConfig):
    """How far the critic's labels agree with the true ones (`srft critic-eval`)."""

    def action(ctx: StageContext) -> dict[str, Any]:
        from srft.critic.quality import evaluate_critic
        from srft.files.critic_quality import CRITIC_QUALITY as QUALITY_FILE

        report = evaluate_critic(ctx.path("verdicts.jsonl"), ctx.path(TRUTH_VERDICTS))
        QUALITY_FILE.write(ctx.path(CRITIC_QUALITY), report)
        return {
            "steps": report["steps"],
            "accuracy": report["accuracy"],
            "mistake_f1": report["mistake_vs_rest"]["f1"],
        }

    return action


def uses_truth(config: RunConfig) -> bool:
    """Whether some policy row reads the environment's true labels."""
    return config.has_true_labels and any(p.labels == "truth" for p in config.policies)


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
    """The closed loop: one model rolled out in the run's environment on fresh episodes (the
    same for every model of the run); `model` None: the student of policy row `name`."""

    def action(ctx: StageContext) -> dict[str, Any]:
        spec = config.environment
        assert spec is not None
        path = model_path(ctx, name, model)
        ctx.log(f"  rolling {name} out on {spec.rollout.episodes} {spec.name} episodes")
        results = spec.plugin().rollout(
            {name: path}, spec.rollout, ctx.path(f"rollout/{name}.json")
        )
        return {mode: data.students[name].success.rate for mode, data in results.modes.items()}

    return action


def rollout_names(config: RunConfig) -> list[str]:
    """The models a run rolls out: the base model (if evaluated) and every policy row."""
    if config.environment is None or not config.environment.rollout.episodes:
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
            critic_quality=ctx.path(CRITIC_QUALITY) if config.has_true_labels else None,
            settings=config.model_dump(mode="json", exclude_none=True),
            title=config.report.title or config.name or f"srft run {ctx.run_dir.name}",
        )
        return {}

    return action
