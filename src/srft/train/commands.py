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


def train_command(
    data: Path | None = typer.Option(None, "--data", help="Dataset folder from `srft build`."),
    model: str | None = typer.Option(None, "--model", help="Model path or hub id to fine-tune."),
    model_config: Path | None = typer.Option(
        None, "--model-config", help="config.json of an architecture to train from random init."
    ),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="Tokenizer path or id."),
    output_dir: Path | None = typer.Option(None, "-o", "--output", help="Run folder to write."),
    config: Path | None = typer.Option(
        None, "--config", help="YAML file with any TrainConfig field."
    ),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after N optimizer steps."),
    epochs: int | None = typer.Option(None, "--epochs", help="Passes over the data."),
    lr: float | None = typer.Option(None, "--lr", help="Peak learning rate."),
    batch_tokens: int | None = typer.Option(
        None, "--batch-tokens", help="Token budget of one packed micro-batch."
    ),
    grad_accum: int | None = typer.Option(None, "--grad-accum", help="Micro-batches per step."),
    lora_r: int | None = typer.Option(None, "--lora-r", help="LoRA rank."),
    full: bool | None = typer.Option(
        None, "--full/--lora", help="Full fine-tuning or LoRA (default)."
    ),
    merge_lora: bool | None = typer.Option(
        None, "--merge-lora/--no-merge-lora", help="Save the final model with LoRA merged."
    ),
    resume: bool | None = typer.Option(
        None, "--resume/--no-resume", help="Continue from the newest checkpoint of the run folder."
    ),
    save_steps: int | None = typer.Option(None, "--save-steps", help="Checkpoint every N steps."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of init, data order, dropout."),
    attn_implementation: str | None = typer.Option(
        None, "--attn", help="auto | flex_attention | flash_attention_2 | sdpa | eager."
    ),
    loss_impl: str | None = typer.Option(None, "--loss", help="fused | chunked | stock."),
    activation_checkpointing: bool | None = typer.Option(
        None,
        "--activation-checkpointing/--no-activation-checkpointing",
        help="Recompute layer activations in backward (less memory, ~25% more compute).",
    ),
    precision: str | None = typer.Option(None, "--precision", help="auto | bf16 | fp32."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Fine-tune a model on a masked dataset (LoRA or full; one GPU, or many via accelerate launch)."""
    from srft.train.config import TrainConfigError, load_config

    overrides = {
        "data": data,
        "model": model,
        "model_config_path": model_config,
        "tokenizer": tokenizer,
        "output_dir": output_dir,
        "max_steps": max_steps,
        "epochs": epochs,
        "lr": lr,
        "batch_tokens": batch_tokens,
        "grad_accum": grad_accum,
        "lora_r": lora_r,
        "full": full,
        "merge_lora": merge_lora,
        "resume": resume,
        "save_steps": save_steps,
        "seed": seed,
        "attn_implementation": attn_implementation,
        "loss_impl": loss_impl,
        "activation_checkpointing": activation_checkpointing,
        "precision": precision,
        "progress": False if no_progress else None,
    }
    try:
        cfg = load_config(config, overrides)
    except TrainConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err

    from srft.train.trainer import DatasetError, train

    try:
        run_dir = train(cfg)
    except (DatasetError, FileExistsError, ImportError, ValueError) as err:
        # Bad inputs (data, paths, tokenizer, a resume that cannot be exact): one line, no trace.
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(f"run folder: {run_dir}")
