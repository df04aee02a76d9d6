"""`train(config)`: the training loop, read top to bottom.

Why a linear loop on `accelerate.Accelerator` rather than the HF `Trainer` or TRL's `SFTTrainer`:
what this stage must get exactly right lives *between* the engine's pieces, where a Trainer
subclass would override most of the methods. (1) Batches are packed rows planned per optimizer
step (token budget, whole sequences, balanced across ranks, placeholders so ranks stay in step);
the Trainer's sampler/collator split and its per-device sample counts cannot express that.
(2) The loss is the mean over every trained token of the step across accumulation and ranks; the
step's token count is known before its first backward because the step is planned as a whole.
(3) Resume replays the exact data order from (seed, epoch, step) with no dataloader state to
restore. (4) The loss head runs inside the model's forward (see `loss.py`). Accelerate still does
everything distributed (DDP, DeepSpeed ZeRO-2/3, FSDP2 from `accelerate launch --config_file`),
mixed precision, gradient accumulation and clipping, and the checkpoint of model (safetensors),
optimizer, scheduler and RNG state; transformers builds the model and the schedule, PEFT the
adapters. There is no home-made distributed code: one `accelerator.reduce` sums token counts.
"""

from __future__ import annotations

import json
import math
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from srft import __version__
from srft.files.dataset_manifest import DatasetFolder
from srft.files.train_run import FORMAT, METRICS_JSONL, TRAIN_JSON, TRAIN_METRICS, TRAIN_RUN
from srft.memory import return_freed_memory
from srft.outputs import write_text_atomic
from srft.progress import ProgressBar
from srft.train.collate import PackedBatch, StepPlan, pack, plan_epoch
from srft.train.config import TrainConfig
from srft.train.loss import loss_sum
from srft.train.model import (
    build_model,
    load_tokenizer,
    resolve_attention,
    resolve_precision,
    save_final_model,
)

REQUIRED_COLUMNS = ("input_ids", "labels")


class DatasetError(ValueError):
    """A dataset the trainer cannot use (the path and the reason are in the message)."""


def load_training_data(data: Path) -> Any:
    """The `datasets.Dataset` of a build folder (`<data>/hf`) or of an hf folder itself."""
    import datasets

    hf = DatasetFolder(data).hf
    folder = hf if hf.is_dir() else data
    if not folder.exists():
        raise DatasetError(f"{data}: no such dataset folder (expected `srft build` output)")
    try:
        ds = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError) as err:
        raise DatasetError(
            f"{folder}: not a datasets folder saved with save_to_disk: {err}"
        ) from err
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds:
            raise DatasetError(f"{folder}: a DatasetDict without a 'train' split")
        ds = ds["train"]
    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise DatasetError(f"{folder}: missing column(s) {', '.join(missing)}")
    if len(ds) == 0:
        raise DatasetError(f"{folder}: the dataset has no rows")
    return ds


def sequence_lengths(ds: Any, config: TrainConfig, source: Path) -> list[int]:
    """Token count of every row, checked against `max_length` (truncated if configured)."""
    if "num_tokens" in ds.column_names:
        lengths = [int(n) for n in ds["num_tokens"]]
    else:
        lengths = [len(x) for x in ds["input_ids"]]
    if config.max_length is not None:
        too_long = [i for i, n in enumerate(lengths) if n > config.max_length]
        if too_long and not config.truncate:
            i = too_long[0]
            raise DatasetError(
                f"{source}: row {i} has {lengths[i]} tokens > max_length {config.max_length} "
                f"({len(too_long)} such rows; set truncate: true to cut them)"
            )
        lengths = [min(n, config.max_length) for n in lengths]
    return lengths


class Batches:
    """Turns a step plan's row indices into packed batches (labels used exactly as stored)."""

    def __init__(self, ds: Any, max_length: int | None, source: Path) -> None:
        self.ds = ds.select_columns(list(REQUIRED_COLUMNS))
        self.max_length = max_length
        self.source = source

    def micro_batch(self, rows: list[int]) -> PackedBatch:
        """One packed row holding the given dataset rows."""
        if not rows:
            return pack([], [])
        got = self.ds[rows]
        ids, labels = got["input_ids"], got["labels"]
        if self.max_length is not None:
            ids = [x[: self.max_length] for x in ids]
            labels = [x[: self.max_length] for x in labels]
        try:
            return pack(ids, labels, row_ids=rows)
        except ValueError as err:
            raise DatasetError(f"{self.source}: {err}") from err

    def step(self, micro_batches: list[list[int]]) -> list[PackedBatch]:
        """The packed micro-batches of one rank's share of an optimizer step."""
        return [self.micro_batch(rows) for rows in micro_batches]


def step_schedule(
    lengths: list[int], config: TrainConfig, world: int
) -> list[tuple[int, StepPlan]]:
    """Every optimizer step of the run as (epoch, plan), in order.

    Epochs can differ in step count (a new shuffle packs differently). With `max_steps` the run
    takes exactly that many steps, starting new epochs as needed; otherwise `epochs` epochs.
    """
    schedule: list[tuple[int, StepPlan]] = []
    epoch = 0
    while True:
        if config.max_steps is None and epoch == config.num_train_epochs:
            return schedule
        plans = plan_epoch(
            lengths,
            batch_tokens=config.per_device_train_batch_tokens,
            grad_accum=config.gradient_accumulation_steps,
            world_size=world,
            seed=config.seed,
            epoch=epoch,
        )
        schedule.extend((epoch, plan) for plan in plans)
        if config.max_steps is not None and len(schedule) >= config.max_steps:
            return schedule[: config.max_steps]
        epoch += 1


def _checkpoints(run_dir: Path) -> list[Path]:
    found = [
        p for p in (run_dir / "checkpoints").glob("step-*") if (p / "trainer_state.json").exists()
    ]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _versions() -> dict[str, str]:
    import accelerate
    import peft
    import transformers

    return {
        "srft": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "accelerate": accelerate.__version__,
    }


def _trim_metrics(path: Path, last_step: int) -> None:
    """Drop metric lines past the checkpoint being resumed (they will be recomputed)."""
    if not path.exists():
        return
    kept = [line for line, step in TRAIN_METRICS.read_lines(path) if step.step <= last_step]
    path.write_text("".join(line + "\n" for line in kept))


@dataclass
class _Engine:
    """The prepared model and its optimizer, under one accelerator (DDP, DeepSpeed, FSDP2)."""

    accelerator: Any
    model: torch.nn.Module
    head: torch.nn.Module  # the output projection, which the loss replaces (see loss.py)
    optimizer: Any
    scheduler: Any


def _accelerator(config: TrainConfig) -> Any:
    from accelerate import Accelerator

    return Accelerator(
        # Without CUDA, run on CPU; under torchrun this makes accelerate use gloo data parallel.
        cpu=not torch.cuda.is_available(),
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        step_scheduler_with_optimizer=False,
        log_with=config.report_to or None,
        project_dir=str(config.output_dir),
    )


def _open_run_folder(run_dir: Path, config: TrainConfig, main: bool) -> Path | None:
    """The checkpoint to resume from, if any; refuses a folder holding a run without --resume.

    Checked on every rank, so all of them stop.
    """
    resume_from = _checkpoints(run_dir)[-1] if config.resume and _checkpoints(run_dir) else None
    metrics = run_dir / METRICS_JSONL
    started_before = metrics.exists()
    if started_before and not config.resume:
        raise FileExistsError(
            f"{run_dir}: already holds a run; pass --resume to continue it or choose "
            "another output folder"
        )
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume_from is None and started_before:
            metrics.unlink()  # --resume without a checkpoint: start over
    return resume_from


def _prepare(config: TrainConfig, accelerator: Any, total_steps: int) -> _Engine:
    """The model, AdamW and the learning-rate schedule, seeded and handed to accelerate."""
    from accelerate.utils import set_seed
    from transformers import get_scheduler

    set_seed(config.seed)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    model = build_model(config)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
        weight_decay=config.weight_decay,
        fused=torch.cuda.is_available() or None,
    )
    scheduler = get_scheduler(
        config.lr_scheduler_type,
        optimizer,
        num_warmup_steps=config.warmup_steps,
        num_training_steps=total_steps,
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    head = accelerator.unwrap_model(model).get_output_embeddings()
    if not config.full:
        _checkpoint_only_trainable(accelerator, model)
    return _Engine(accelerator, model, head, optimizer, scheduler)


def _resume(accelerator: Any, checkpoint: Path, layout: dict[str, int], config: TrainConfig) -> int:
    """Load a checkpoint's state and return its step; refuses another batching layout."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    if state["layout"] != layout:
        raise ValueError(
            f"{checkpoint}: saved with {state['layout']}, now {layout}; the data order "
            "would differ, so the run cannot resume exactly"
        )
    # LoRA checkpoints hold only the adapter; the frozen base comes from `model`.
    accelerator.load_state(str(checkpoint), strict=config.full)
    global_step = int(state["global_step"])
    if accelerator.is_main_process:
        _trim_metrics(config.output_dir / METRICS_JSONL, global_step)
    return global_step


def _run_info(
    config: TrainConfig, accelerator: Any, rows: int, lengths: list[int], schedule: list[Any]
) -> dict[str, Any]:
    """The `train.json` of a run that starts (`srft.files.train_run.TrainRun`)."""
    return {
        "format": FORMAT,
        "version": TRAIN_RUN.version,
        "status": "running",
        "config": config.dump(),
        "resolved": {
            "precision": str(resolve_precision(config)).removeprefix("torch."),
            "attn_implementation": resolve_attention(config),
            "device": str(accelerator.device),
            "distributed": str(accelerator.distributed_type),
            "world_size": accelerator.num_processes,
        },
        "dataset": {"path": str(config.data), "rows": rows, "tokens": sum(lengths)},
        "epochs": schedule[-1][0] + 1,
        "total_steps": len(schedule),
        "versions": _versions(),
        "started_at": _now(),
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """One line of `metrics.jsonl`, appended at once so an interrupted run keeps its curve."""
    with (run_dir / METRICS_JSONL).open("a") as f:
        TRAIN_METRICS.write_one(f, record)


def _checkpoint_due(config: TrainConfig, step: int, total_steps: int) -> bool:
    """Every `save_steps` steps, and at the last step (when checkpoints are on at all)."""
    if config.save_steps is None:
        return False
    return step % config.save_steps == 0 or step == total_steps


def _finish(
    engine: _Engine,
    config: TrainConfig,
    tokenizer: Any,
    info: dict[str, Any],
    steps: int,
    last: dict[str, Any],
) -> None:
    """Save the final model and mark `train.json` completed with the last step's metrics."""
    accelerator, model = engine.accelerator, engine.model
    accelerator.wait_for_everyone()
    state_dict = (
        accelerator.get_state_dict(model) if (config.full or not config.merge_lora) else None
    )
    if accelerator.is_main_process:
        kind = save_final_model(
            accelerator.unwrap_model(model),
            config,
            config.output_dir / "model",
            tokenizer,
            state_dict,
        )
        info.update(
            status="completed", model_kind=kind, steps=steps, final=last, finished_at=_now()
        )
        TRAIN_RUN.write(config.output_dir / TRAIN_JSON, info)
    if config.report_to:
        accelerator.end_training()
    accelerator.wait_for_everyone()


def train(config: TrainConfig) -> Path:
    """Run a training and return its run folder (`train.json`, `metrics.jsonl`, checkpoints, model).

    Works the same in one process and under `accelerate launch` (DDP, DeepSpeed, FSDP2).
    """
    return_freed_memory()  # else glibc keeps freed activations: 2.5x the peak RSS on CPU
    run_dir = config.output_dir
    _check_trackers(config.report_to)
    ds = load_training_data(config.data)
    lengths = sequence_lengths(ds, config, config.data)
    batches = Batches(ds, config.max_length, config.data)
    accelerator = _accelerator(config)
    world = accelerator.num_processes
    main = accelerator.is_main_process
    resume_from = _open_run_folder(run_dir, config, main)
    # Loaded before the model so that a bad tokenizer path fails in seconds, not after training.
    tokenizer = load_tokenizer(config) if main else None
    schedule = step_schedule(lengths, config, world)
    total_steps = len(schedule)
    engine = _prepare(config, accelerator, total_steps)
    layout = {
        "batch_tokens": config.per_device_train_batch_tokens,
        "grad_accum": config.gradient_accumulation_steps,
        "world_size": world,
    }
    global_step = 0
    if resume_from is not None:
        global_step = _resume(accelerator, resume_from, layout, config)
    info = _run_info(config, accelerator, len(ds), lengths, schedule)
    if main:
        TRAIN_RUN.write(run_dir / TRAIN_JSON, info)
    if config.report_to:
        accelerator.init_trackers("srft", config={k: str(v) for k, v in config.dump().items()})

    # On stdout, where the trainer's bar has always been (the train command's own lines too).
    progress = ProgressBar(
        "train",
        total_steps,
        done=global_step,
        enabled=main and config.progress,
        console=Console(),
    )
    last: dict[str, Any] = {}
    while global_step < total_steps:
        epoch, plan = schedule[global_step]
        last = _optimizer_step(batches.step(plan[accelerator.process_index]), engine, config)
        global_step += 1
        last.update(step=global_step, epoch=epoch)
        if main:
            _append_metrics(run_dir, last)
        if config.report_to:
            accelerator.log({k: v for k, v in last.items() if k != "step"}, step=global_step)
        progress.advance(_metrics_note(last) if global_step % config.logging_steps == 0 else None)
        if _checkpoint_due(config, global_step, total_steps):
            _save_checkpoint(accelerator, run_dir, global_step, layout, config.save_total_limit)
    progress.close()
    _finish(engine, config, tokenizer, info, global_step, last)
    return run_dir


def _optimizer_step(
    packed: list[PackedBatch], engine: _Engine, config: TrainConfig
) -> dict[str, Any]:
    """One optimizer step over this rank's micro-batches; returns the step's global metrics."""
    accelerator = engine.accelerator
    started = time.perf_counter()
    # The rate this step applies (logged before the scheduler moves).
    lr = engine.scheduler.get_last_lr()[0]
    counts = torch.tensor(
        [sum(b.num_trained for b in packed), sum(b.num_tokens for b in packed)],
        dtype=torch.float64,
        device=accelerator.device,
    )
    trained, tokens = (int(x) for x in accelerator.reduce(counts, reduction="sum").tolist())
    loss_total, grad_norm = _accumulate(packed, engine, config, trained)
    loss = float(accelerator.reduce(loss_total, reduction="sum")) / trained if trained else 0.0
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    return {
        "loss": loss,
        "lr": lr,
        "grad_norm": grad_norm,
        "trained_tokens": trained,
        "tokens": tokens,
        "tokens_per_s": tokens / elapsed if elapsed > 0 else None,
        "trained_tokens_per_s": trained / elapsed if elapsed > 0 else None,
        "peak_memory_gib": peak,
    }


def _accumulate(
    packed: list[PackedBatch], engine: _Engine, config: TrainConfig, trained: int
) -> tuple[torch.Tensor, float | None]:
    """Forward and backward every micro-batch, stepping the optimizer after the last one.

    Each micro-batch's loss sum is scaled by world * grad_accum / (trained tokens of the whole
    step on all ranks): accelerate divides by grad_accum and the engines average over ranks, so
    the gradient is exactly that of the mean over the step's trained tokens. Returns this rank's
    summed loss and the gradient norm before clipping.
    """
    accelerator, model = engine.accelerator, engine.model
    world_accum = accelerator.num_processes * config.gradient_accumulation_steps
    scale = world_accum / trained if trained else 0.0
    loss_total = torch.zeros((), dtype=torch.float64, device=accelerator.device)
    grad_norm: float | None = None
    model.train()
    for batch in packed:
        with accelerator.accumulate(model):
            summed = loss_sum(
                model,
                batch.to(accelerator.device),
                config.loss_impl,
                config.loss_chunk_tokens,
                engine.head,
            )
            accelerator.backward(summed * scale)
            loss_total += summed.detach().double()
            if accelerator.sync_gradients:
                grad_norm = _clip(accelerator, model, config.max_grad_norm)
            engine.optimizer.step()  # accelerate skips it until the last micro-batch
            if accelerator.sync_gradients:
                engine.scheduler.step()
            engine.optimizer.zero_grad(set_to_none=True)
    return loss_total, grad_norm


def _clip(accelerator: Any, model: torch.nn.Module, max_norm: float | None) -> float | None:
    """Clip to max_norm (no clipping: an infinite bound) and return the global norm before it."""
    norm = accelerator.clip_grad_norm_(model.parameters(), max_norm if max_norm else math.inf)
    return None if norm is None else float(norm)


def _check_trackers(report_to: list[str]) -> None:
    """Fail before loading anything when a requested metric sink is not installed."""
    import importlib.util

    needs = {"tensorboard": "tensorboard", "wandb": "wandb"}
    for sink in report_to:
        if importlib.util.find_spec(needs[sink]) is None:
            raise ImportError(f"report_to: {sink} is not installed (pip install {needs[sink]})")


def _checkpoint_only_trainable(accelerator: Any, model: torch.nn.Module) -> None:
    """Make LoRA checkpoints hold the adapter only (MBs), not a copy of the frozen base (GBs)."""
    trainable = {
        n for n, p in accelerator.unwrap_model(model).named_parameters() if p.requires_grad
    }

    def keep_trainable(_models: list[Any], weights: list[dict[str, Any]], _output_dir: str) -> None:
        for i, state in enumerate(weights):
            weights[i] = {k: v for k, v in state.items() if k in trainable}

    accelerator.register_save_state_pre_hook(keep_trainable)


def _save_checkpoint(
    accelerator: Any, run_dir: Path, step: int, layout: dict[str, int], keep: int | None
) -> None:
    """model + optimizer + scheduler + RNG (accelerate, safetensors weights) + data position."""
    target = run_dir / "checkpoints" / f"step-{step}"
    accelerator.save_state(str(target), safe_serialization=True)
    if accelerator.is_main_process:
        state = {"global_step": step, "layout": layout}
        write_text_atomic(target / "trainer_state.json", json.dumps(state, indent=2) + "\n")
        if keep is not None:
            for old in _checkpoints(run_dir)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _metrics_note(metrics: dict[str, Any]) -> str:
    """Loss, trained tokens/s, learning rate and grad norm, as the progress bar shows them."""
    gn = metrics.get("grad_norm")
    return (
        f"loss {metrics['loss']:.4f}  {metrics.get('trained_tokens_per_s') or 0:,.0f} trained tok/s"
        f"  lr {metrics['lr']:.2e}  gnorm {gn if gn is None else f'{gn:.3f}'}"
    )
