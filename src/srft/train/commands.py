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

    A bool field is a `--x/--no-x` pair. `old` flags are spellings from before the switch to
    transformers' vocabulary: still read, shown nowhere; the new flag wins when both are given.
    """

    field: str
    type: Any
    help: str
    short: str | None = None
    old: str | None = None

    def option(self) -> Any:
        name = "--" + self.field.replace("_", "-")
        names = [f"{name}/--no-{name[2:]}" if self.type is bool else name]
        return typer.Option(None, *names, *([self.short] if self.short else []), help=self.help)

    def old_option(self) -> Any:
        name = f"--{self.old}/--no-{self.old}" if self.type is bool else f"--{self.old}"
        return typer.Option(None, name, hidden=True)


# The common fields; every other one is set in the --config file.
FLAGS = (
    Flag("data", Path, f"Dataset folder from `srft build`. {_REQUIRED}"),
    Flag(
        "model",
        str,
        "Model folder, hub id or `smollm2` (the bundled model) to fine-tune. "
        f"{_REQUIRED}, or --model-config-path",
    ),
    Flag("output_dir", Path, f"Run folder to write (or resume). {_REQUIRED}", "-o", "output"),
    Flag(
        "model_config_path",
        Path,
        "config.json of an architecture to train from scratch.",
        old="model-config",
    ),
    Flag("tokenizer", str, "Tokenizer folder, hub id or `smollm2` (default: the model's)."),
    Flag("max_steps", int, "Stop after N optimizer steps."),
    Flag("num_train_epochs", int, "Passes over the data (default 1).", old="epochs"),
    Flag("learning_rate", float, "Peak learning rate (default 1e-4).", old="lr"),
    Flag("lr_scheduler_type", str, "cosine (default), linear, constant_with_warmup, ..."),
    Flag("warmup_steps", int, "Linear warm-up steps."),
    Flag("weight_decay", float, "AdamW weight decay."),
    Flag(
        "per_device_train_batch_tokens",
        int,
        "Token budget of one packed micro-batch per process (default 32768).",
        old="batch-tokens",
    ),
    Flag(
        "gradient_accumulation_steps",
        int,
        "Micro-batches per optimizer step.",
        old="grad-accum",
    ),
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
        "attn_implementation",
        str,
        "auto | flex_attention | flash_attention_2 | sdpa | eager.",
        old="attn",
    ),
    Flag("loss_impl", str, "fused | chunked | stock.", old="loss"),
    Flag(
        "gradient_checkpointing",
        bool,
        "Recompute layer activations in backward (less memory, ~25% more compute).",
        old="activation-checkpointing",
    ),
    Flag("progress", bool, "Show a progress bar (default on)."),
)


def _signature() -> inspect.Signature:
    """`train_command`'s parameters, as typer reads them: one per flag (old spellings too)."""

    def param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        return inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
        )

    params = [
        param(
            "config",
            Path | None,
            typer.Option(
                None,
                "--config",
                help="YAML file with any training field (the flags' names, with _).",
            ),
        )
    ]
    params += [param(f.field, f.type | None, f.option()) for f in FLAGS]
    params += [param(f"old_{f.field}", f.type | None, f.old_option()) for f in FLAGS if f.old]
    # `--lora` (LoRA was once opt-in) now means `--no-full`.
    params.append(param("old_lora", bool, typer.Option(False, "--lora", hidden=True)))
    return inspect.Signature(params)


def overrides_of(given: dict[str, Any]) -> dict[str, Any]:
    """The config fields given as flags (None: not given), old spellings folded into the new."""
    values = {f.field: given[f.field] for f in FLAGS}
    for f in FLAGS:
        if f.old and values[f.field] is None:
            values[f.field] = given[f"old_{f.field}"]
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
