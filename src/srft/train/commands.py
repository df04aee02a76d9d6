"""CLI commands of the train stage: `srft train`.

The flags are the common fields of `TrainConfig`; every other field is set in the YAML file given
with `--config`. A flag given on the command line wins over the file.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's subcommands to `app`."""
    app.command("train", help=train_command.__doc__)(train_command)
    app.command("train-configs", help=configs_command.__doc__)(configs_command)


CONFIGS = Path(__file__).parent / "configs"


def configs_command(
    name: str | None = typer.Argument(
        None, help="A config name (e.g. fsdp2, deepspeed-zero3, lora-single-gpu); omit to list."
    ),
) -> None:
    """Print the path of a shipped config file (accelerate or train YAML), or list them all.

    Use it inline: `accelerate launch --config_file $(srft train-configs fsdp2) -m srft.cli train ...`
    """
    files = {p.stem: p for p in sorted(CONFIGS.rglob("*.yaml"))}
    if name is None:
        for stem, path in files.items():
            kind = "accelerate" if path.parent.name == "accelerate" else "train"
            typer.echo(f"{stem:20} {kind:10} {path}")
        return
    if name not in files:
        typer.echo(f"error: no config {name!r}; shipped: {', '.join(files)}", err=True)
        raise typer.Exit(2)
    typer.echo(str(files[name]))


_REQUIRED = "[required, here or in --config]"


@dataclass(frozen=True)
class Flag:
    """A `TrainConfig` field as a flag of `srft train` (`--learning-rate` for `learning_rate`).

    A bool field is a `--x/--no-x` pair.
    """

    field: str
    type: Any
    help: str
    short: str | None = None

    def option(self, name: str | None = None, **kw: Any) -> Any:
        """The typer option, under the field's own name or (an old spelling) under `name`."""
        name = name or self.field.replace("_", "-")
        spelled = f"--{name}/--no-{name}" if self.type is bool else f"--{name}"
        return typer.Option(None, spelled, *([self.short] if self.short else []), **kw)


_MODEL = "Model folder, hub id or `smollm2` (the bundled model) to fine-tune."
_BATCH = "Token budget of one packed micro-batch per process (default 32768)."
_RECOMPUTE = "Recompute layer activations in backward (less memory, ~25% more compute)."

# The common fields; every other one is set in the --config file.
FLAGS = {
    f.field: f
    for f in (
        Flag("data", Path, f"Dataset folder from `srft build`. {_REQUIRED}"),
        Flag("model", str, f"{_MODEL} {_REQUIRED}, or --model-config-path"),
        Flag("output_dir", Path, f"Run folder to write (or resume). {_REQUIRED}", "-o"),
        Flag("model_config_path", Path, "config.json of an architecture to train from scratch."),
        Flag("tokenizer", str, "Tokenizer folder, hub id or `smollm2` (default: the model's)."),
        Flag("max_steps", int, "Stop after N optimizer steps."),
        Flag("num_train_epochs", int, "Passes over the data (default 1)."),
        Flag("learning_rate", float, "Peak learning rate (default 1e-4)."),
        Flag("lr_scheduler_type", str, "cosine (default), linear, constant_with_warmup, ..."),
        Flag("warmup_steps", int, "Linear warm-up steps."),
        Flag("weight_decay", float, "AdamW weight decay."),
        Flag("per_device_train_batch_tokens", int, _BATCH),
        Flag("gradient_accumulation_steps", int, "Micro-batches per optimizer step."),
        Flag("max_length", int, "Longest sequence in tokens (longer ones fail)."),
        Flag("lora_r", int, "LoRA rank (default 16)."),
        Flag("lora_alpha", int, "LoRA alpha (default 32)."),
        Flag("full", bool, "Full fine-tuning instead of LoRA (the default)."),
        Flag("merge_lora", bool, "Save the final model with LoRA merged."),
        Flag("resume", bool, "Continue from the newest checkpoint of the run folder."),
        Flag("save_steps", int, "Checkpoint every N steps."),
        Flag("save_total_limit", int, "Keep only the newest N checkpoints."),
        Flag("logging_steps", int, "A progress line every N steps."),
        Flag("seed", int, "Seed of init, data order, dropout."),
        Flag("bf16", bool, "bf16 weights (default: on GPU only)."),
        Flag("precision", str, "auto | bf16 | fp32."),
        Flag(
            "attn_implementation", str, "auto | flex_attention | flash_attention_2 | sdpa | eager."
        ),
        Flag("loss_impl", str, "fused | chunked | stock."),
        Flag("gradient_checkpointing", bool, _RECOMPUTE),
        Flag("progress", bool, "Show a progress bar (default on)."),
    )
}

# The spellings from before the switch to transformers' vocabulary -> their field: still read,
# shown nowhere; the new flag wins when both are given.
OLD_FLAGS = {
    "output": "output_dir",
    "model-config": "model_config_path",
    "epochs": "num_train_epochs",
    "lr": "learning_rate",
    "batch-tokens": "per_device_train_batch_tokens",
    "grad-accum": "gradient_accumulation_steps",
    "attn": "attn_implementation",
    "loss": "loss_impl",
    "activation-checkpointing": "gradient_checkpointing",
}


def _old_param(old: str) -> str:
    return "old_" + old.replace("-", "_")


def _signature() -> inspect.Signature:
    """`train_command`'s parameters, as typer reads them: one per flag (old spellings too)."""

    def param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        kind = inspect.Parameter.KEYWORD_ONLY
        return inspect.Parameter(name, kind, default=default, annotation=annotation)

    config_help = "YAML file with any training field (the flags' names, with _)."
    params = [param("config", Path | None, typer.Option(None, "--config", help=config_help))]
    params += [param(f.field, f.type | None, f.option(help=f.help)) for f in FLAGS.values()]
    for old, field in OLD_FLAGS.items():
        flag = FLAGS[field]
        params.append(param(_old_param(old), flag.type | None, flag.option(old, hidden=True)))
    # `--lora` (LoRA was once opt-in) now means `--no-full`.
    params.append(param("old_lora", bool, typer.Option(False, "--lora", hidden=True)))
    return inspect.Signature(params)


def overrides_of(given: dict[str, Any]) -> dict[str, Any]:
    """The config fields given as flags (None: not given), old spellings folded into the new."""
    values = {field: given[field] for field in FLAGS}
    for old, field in OLD_FLAGS.items():
        if values[field] is None:
            values[field] = given[_old_param(old)]
    if given["old_lora"] and values["full"] is None:
        values["full"] = False
    return values


def train_command(**given: Any) -> None:
    """Fine-tune a model on a masked dataset (LoRA or full; one GPU, or many via accelerate launch).

    Every flag is a field of the training config with `-` for `_`: `--learning-rate` on the
    command line is `learning_rate` in the --config YAML file, and a flag wins over the file.
    """
    from srft.train.config import TrainConfigError, load_config

    try:
        cfg = load_config(given["config"], overrides_of(given))
    except TrainConfigError as err:
        _fail(err, 2)
    _check_models(cfg)

    from srft.train.trainer import DatasetError, train

    try:
        run_dir = train(cfg)
    except (DatasetError, FileExistsError, ImportError, ValueError) as err:
        # Bad inputs (data, paths, tokenizer, a resume that cannot be exact): one line, no trace.
        _fail(err, 1)
    typer.echo(f"run folder: {run_dir}")


train_command.__signature__ = _signature()  # type: ignore[attr-defined]


def _check_models(cfg: Any) -> None:
    """A model or tokenizer that cannot be had fails now, before torch and the data load."""
    from srft.models import ModelNotFound, resolve_model

    try:
        if cfg.model is not None:
            resolve_model(cfg.model)
        if cfg.tokenizer is not None:
            resolve_model(cfg.tokenizer, "tokenizer")
    except ModelNotFound as err:
        _fail(err, 1)


def _fail(err: Exception, status: int) -> NoReturn:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(status) from err
