"""A train run folder's two files: `train.json` (what ran) and `metrics.jsonl` (each step).

`srft train` writes `train.json` when it starts (`status: running`) and again when it ends
(`completed`, with the model's kind and the last step's metrics), and appends one line to
`metrics.jsonl` per optimizer step, so an interrupted run still shows its loss curve. The
report draws that curve, the pipeline's comparison takes the final loss from it, and a resumed
run trims it back to its checkpoint; all of them read it through `TRAIN_METRICS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srft.files.base import JsonDocument, JsonLines

FORMAT = "srft.train"
VERSION = 1
TRAIN_JSON = "train.json"
METRICS_JSONL = "metrics.jsonl"


class TrainStep(BaseModel):
    """One line of `metrics.jsonl`: the global metrics of one optimizer step (all ranks)."""

    model_config = ConfigDict(extra="allow")

    loss: float | None = Field(
        description="Mean cross-entropy over every trained token of the step."
    )
    lr: float | None = Field(None, description="The learning rate this step applied.")
    grad_norm: float | None = Field(None, description="Global gradient norm before clipping.")
    trained_tokens: int | None = Field(None, description="Trained tokens of the step.")
    tokens: int | None = Field(None, description="All tokens of the step (context included).")
    tokens_per_s: float | None = Field(None, description="Throughput over all tokens.")
    trained_tokens_per_s: float | None = Field(None, description="Throughput over trained ones.")
    peak_memory_gib: float | None = Field(None, description="Peak GPU memory (null on CPU).")
    step: int = Field(description="The optimizer step, from 1.")
    epoch: int | None = Field(None, description="The pass over the data, from 0.")


class TrainedDataset(BaseModel):
    """The dataset a run trained on."""

    path: str = Field(description="The dataset folder (`srft build` output).")
    rows: int = Field(description="Rows in it.")
    tokens: int = Field(description="Their tokens (after `max_length` truncation).")


class TrainRun(BaseModel):
    """`train.json`: a training's config, setup and outcome, enough to reproduce it."""

    model_config = ConfigDict(extra="allow")

    format: Literal["srft.train"] = FORMAT
    version: Literal[1] = VERSION
    status: Literal["running", "completed"] = Field(
        description="`running` until the final model is saved."
    )
    config: dict[str, Any] = Field(description="The full training config (`TrainConfig`).")
    resolved: dict[str, Any] = Field(
        description="What `auto` settings became: `precision`, `attn_implementation`, "
        "`device`, `distributed`, `world_size`."
    )
    dataset: TrainedDataset
    epochs: int = Field(description="Passes over the data the schedule makes.")
    total_steps: int = Field(description="Optimizer steps the schedule makes.")
    versions: dict[str, str] = Field(description="srft, python, torch, transformers, ...")
    started_at: str = Field(description="UTC start time, ISO 8601.")
    model_kind: str | None = Field(
        None, description="When completed: `full`, `merged` or `lora` (what `model/` holds)."
    )
    steps: int | None = Field(None, description="When completed: optimizer steps taken.")
    final: dict[str, Any] | None = Field(
        None, description="When completed: the last `metrics.jsonl` record."
    )
    finished_at: str | None = Field(None, description="When completed: UTC end time.")


TRAIN_RUN: JsonDocument[TrainRun] = JsonDocument(
    name=f"<run>/{TRAIN_JSON}", model=TrainRun, what="an srft train run", written_by="srft train",
    format=FORMAT, version=VERSION, ensure_ascii=True, doc="docs/training.md",
)  # fmt: skip

TRAIN_METRICS: JsonLines[TrainStep] = JsonLines(
    name=f"<run>/{METRICS_JSONL}", model=TrainStep, what="a training metrics record", written_by="srft train (one line per optimizer step)",
    ensure_ascii=True, separators=(", ", ": "), doc="docs/training.md",
)  # fmt: skip

FILES = (TRAIN_RUN, TRAIN_METRICS)


def is_train_run(folder: str | Path) -> bool:
    """Whether `folder` is a train run folder holding its final model (not a model folder)."""
    folder = Path(folder)
    return (folder / TRAIN_JSON).is_file() and (folder / "model").is_dir()


def read_train_metrics(run_dir: str | Path) -> list[TrainStep]:
    """Every record of a run's `metrics.jsonl`; `FileFormatError` naming the line otherwise."""
    return list(TRAIN_METRICS.read(Path(run_dir) / METRICS_JSONL))
