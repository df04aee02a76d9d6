"""CLI commands of the train stage: `srft train`.

The flags are the common fields of `TrainConfig`; every other field is set in the YAML file given
with `--config`. A flag given on the command line wins over the file.
"""

from __future__ import annotations

from pathlib import Path

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


def train_command(
    data: Path | None = typer.Option(
        None, "--data", help=f"Dataset folder from `srft build`. {_REQUIRED}"
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Model folder, hub id or `smollm2` (the bundled model) to fine-tune. "
        f"{_REQUIRED}, or --model-config-path",
    ),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", "-o", help=f"Run folder to write (or resume). {_REQUIRED}"
    ),
    config: Path | None = typer.Option(
        None, "--config", help="YAML file with any training field (the flags' names, with _)."
    ),
    model_config_path: Path | None = typer.Option(
        None, "--model-config-path", help="config.json of an architecture to train from scratch."
    ),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="Tokenizer folder, hub id or `smollm2` (default: the model's)."
    ),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after N optimizer steps."),
    num_train_epochs: int | None = typer.Option(
        None, "--num-train-epochs", help="Passes over the data (default 1)."
    ),
    learning_rate: float | None = typer.Option(
        None, "--learning-rate", help="Peak learning rate (default 1e-4)."
    ),
    lr_scheduler_type: str | None = typer.Option(
        None, "--lr-scheduler-type", help="cosine (default), linear, constant_with_warmup, ..."
    ),
    warmup_steps: int | None = typer.Option(None, "--warmup-steps", help="Linear warm-up steps."),
    weight_decay: float | None = typer.Option(None, "--weight-decay", help="AdamW weight decay."),
    per_device_train_batch_tokens: int | None = typer.Option(
        None,
        "--per-device-train-batch-tokens",
        help="Token budget of one packed micro-batch per process (default 32768).",
    ),
    gradient_accumulation_steps: int | None = typer.Option(
        None, "--gradient-accumulation-steps", help="Micro-batches per optimizer step."
    ),
    max_length: int | None = typer.Option(
        None, "--max-length", help="Longest sequence in tokens (longer ones fail)."
    ),
    lora_r: int | None = typer.Option(None, "--lora-r", help="LoRA rank (default 16)."),
    lora_alpha: int | None = typer.Option(None, "--lora-alpha", help="LoRA alpha (default 32)."),
    full: bool | None = typer.Option(
        None, "--full/--no-full", help="Full fine-tuning instead of LoRA (the default)."
    ),
    merge_lora: bool | None = typer.Option(
        None, "--merge-lora/--no-merge-lora", help="Save the final model with LoRA merged."
    ),
    resume: bool | None = typer.Option(
        None, "--resume/--no-resume", help="Continue from the newest checkpoint of the run folder."
    ),
    save_steps: int | None = typer.Option(None, "--save-steps", help="Checkpoint every N steps."),
    save_total_limit: int | None = typer.Option(
        None, "--save-total-limit", help="Keep only the newest N checkpoints."
    ),
    logging_steps: int | None = typer.Option(
        None, "--logging-steps", help="A progress line every N steps."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of init, data order, dropout."),
    bf16: bool | None = typer.Option(
        None, "--bf16/--no-bf16", help="bf16 weights (default: on GPU only)."
    ),
    precision: str | None = typer.Option(None, "--precision", help="auto | bf16 | fp32."),
    attn_implementation: str | None = typer.Option(
        None,
        "--attn-implementation",
        help="auto | flex_attention | flash_attention_2 | sdpa | eager.",
    ),
    loss_impl: str | None = typer.Option(None, "--loss-impl", help="fused | chunked | stock."),
    gradient_checkpointing: bool | None = typer.Option(
        None,
        "--gradient-checkpointing/--no-gradient-checkpointing",
        help="Recompute layer activations in backward (less memory, ~25% more compute).",
    ),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="Show a progress bar (default on)."
    ),
    # The names before the switch to transformers' vocabulary: still read, shown nowhere.
    old_lr: float | None = typer.Option(None, "--lr", hidden=True),
    old_epochs: int | None = typer.Option(None, "--epochs", hidden=True),
    old_grad_accum: int | None = typer.Option(None, "--grad-accum", hidden=True),
    old_batch_tokens: int | None = typer.Option(None, "--batch-tokens", hidden=True),
    old_output: Path | None = typer.Option(None, "--output", hidden=True),
    old_checkpointing: bool | None = typer.Option(
        None, "--activation-checkpointing/--no-activation-checkpointing", hidden=True
    ),
    old_attn: str | None = typer.Option(None, "--attn", hidden=True),
    old_loss: str | None = typer.Option(None, "--loss", hidden=True),
    old_model_config: Path | None = typer.Option(None, "--model-config", hidden=True),
    old_lora: bool = typer.Option(False, "--lora", hidden=True),
) -> None:
    """Fine-tune a model on a masked dataset (LoRA or full; one GPU, or many via accelerate launch).

    Every flag is a field of the training config with `-` for `_`: `--learning-rate` on the
    command line is `learning_rate` in the --config YAML file, and a flag wins over the file.
    """
    from srft.train.config import TrainConfigError, load_config

    overrides = {
        "data": data,
        "model": model,
        "model_config_path": model_config_path or old_model_config,
        "tokenizer": tokenizer,
        "output_dir": output_dir if output_dir is not None else old_output,
        "max_steps": max_steps,
        "num_train_epochs": num_train_epochs if num_train_epochs is not None else old_epochs,
        "learning_rate": learning_rate if learning_rate is not None else old_lr,
        "lr_scheduler_type": lr_scheduler_type,
        "warmup_steps": warmup_steps,
        "weight_decay": weight_decay,
        "per_device_train_batch_tokens": per_device_train_batch_tokens
        if per_device_train_batch_tokens is not None
        else old_batch_tokens,
        "gradient_accumulation_steps": gradient_accumulation_steps
        if gradient_accumulation_steps is not None
        else old_grad_accum,
        "max_length": max_length,
        "lora_r": lora_r,
        "lora_alpha": lora_alpha,
        "full": False if old_lora and full is None else full,
        "merge_lora": merge_lora,
        "resume": resume,
        "save_steps": save_steps,
        "save_total_limit": save_total_limit,
        "logging_steps": logging_steps,
        "seed": seed,
        "bf16": bf16,
        "precision": precision,
        "attn_implementation": attn_implementation or old_attn,
        "loss_impl": loss_impl or old_loss,
        "gradient_checkpointing": gradient_checkpointing
        if gradient_checkpointing is not None
        else old_checkpointing,
        "progress": progress,
    }
    try:
        cfg = load_config(config, overrides)
    except TrainConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err

    from srft.models import ModelNotFound, resolve_model

    try:  # a model that cannot be had fails now, before torch and the data are loaded
        if cfg.model is not None:
            resolve_model(cfg.model)
        if cfg.tokenizer is not None:
            resolve_model(cfg.tokenizer, "tokenizer")
    except ModelNotFound as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err

    from srft.train.trainer import DatasetError, train

    try:
        run_dir = train(cfg)
    except (DatasetError, FileExistsError, ImportError, ValueError) as err:
        # Bad inputs (data, paths, tokenizer, a resume that cannot be exact): one line, no trace.
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(f"run folder: {run_dir}")
