"""Held-out negative log-likelihood per step label: what can be measured without running an agent.

SRFT's promise is that the student learns the good steps and not the mistakes. Before spending
GPU hours on SWE-bench, one can check the direct effect: on held-out trajectories, how likely
does each model find the assistant tokens of `good` steps, and of `mistake` steps? A student
trained with SRFT should keep good (and recover) actions likely while raising the NLL of mistake
actions relative to plain SFT.

For each row of a dataset folder (the `srft.dataset` row contract: `input_ids` and the `steps`
spans `[start, end)` of each step's assistant tokens), every model is run forward once over the
whole row, and the NLL of each token in a step span is attributed to that step. Tokens are then
summed per critic label, per outcome, per outcome x label and per trained/masked, and the
results written as `eval.json` (`srft.files.evaluation`; see `docs/evaluate.md`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srft.files.base import FileFormatError
from srft.files.dataset_manifest import DatasetFolder
from srft.files.evaluation import EVALUATION, FORMAT, VERSION
from srft.models import ModelNotFound, resolve_model
from srft.outputs import OutputError, check_output

# The key under which steps without a critic label (e.g. the `sft` policy never asked one) count.
UNLABELED = "unlabeled"

# Logits are computed over this many positions at a time: a full [tokens x vocab] float32 matrix
# for an 8k-token trajectory and a 150k vocabulary would be ~5 GB; a chunk is a few hundred MB.
LOGIT_CHUNK = 1024


class EvaluateError(ValueError):
    """Input that cannot be evaluated; the message names the file, the row and the reason."""


# -- aggregation (pure) ------------------------------------------------------------------------


@dataclass
class NllBucket:
    """Summed NLL over the tokens of some steps; means are derived, so buckets add up exactly."""

    nll_sum: float = 0.0
    tokens: int = 0
    steps: int = 0
    # Sum over steps of each step's own mean NLL per token, for the step-weighted mean.
    step_mean_sum: float = 0.0

    def add_step(self, nll_sum: float, tokens: int) -> None:
        """Count one step whose `tokens` tokens have total NLL `nll_sum`."""
        if tokens <= 0:
            return
        self.nll_sum += nll_sum
        self.tokens += tokens
        self.steps += 1
        self.step_mean_sum += nll_sum / tokens

    def to_json(self) -> dict[str, Any]:
        """`nll_per_token` (token-weighted), `mean_step_nll` (step-weighted), and the counts."""
        return {
            "nll_per_token": self.nll_sum / self.tokens if self.tokens else None,
            "mean_step_nll": self.step_mean_sum / self.steps if self.steps else None,
            "tokens": self.tokens,
            "steps": self.steps,
        }


@dataclass
class NllTally:
    """One model's buckets: overall, by label, by outcome, by outcome x label, by trained/masked."""

    overall: NllBucket = field(default_factory=NllBucket)
    by_label: dict[str, NllBucket] = field(default_factory=dict)
    by_outcome: dict[str, NllBucket] = field(default_factory=dict)
    by_outcome_label: dict[str, dict[str, NllBucket]] = field(default_factory=dict)
    by_trained: dict[str, NllBucket] = field(default_factory=dict)
    rows: int = 0

    def add_step(
        self, *, label: str | None, outcome: str, trained: bool, nll_sum: float, tokens: int
    ) -> None:
        """Attribute one step's summed token NLL to every bucket it belongs to."""
        key = label or UNLABELED
        self.overall.add_step(nll_sum, tokens)
        self.by_label.setdefault(key, NllBucket()).add_step(nll_sum, tokens)
        self.by_outcome.setdefault(outcome, NllBucket()).add_step(nll_sum, tokens)
        per_outcome = self.by_outcome_label.setdefault(outcome, {})
        per_outcome.setdefault(key, NllBucket()).add_step(nll_sum, tokens)
        which = "trained" if trained else "masked"
        self.by_trained.setdefault(which, NllBucket()).add_step(nll_sum, tokens)

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored per model in `eval.json`."""
        return {
            "rows": self.rows,
            "overall": self.overall.to_json(),
            "by_label": {k: b.to_json() for k, b in sorted(self.by_label.items())},
            "by_outcome": {k: b.to_json() for k, b in sorted(self.by_outcome.items())},
            "by_outcome_label": {
                o: {k: b.to_json() for k, b in sorted(per.items())}
                for o, per in sorted(self.by_outcome_label.items())
            },
            "by_trained": {k: b.to_json() for k, b in sorted(self.by_trained.items())},
        }


def step_nll_sums(
    token_nll: list[float], steps: Iterable[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], float, int]]:
    """Per step: (step, summed NLL, token count) over the step's span `[start, end)`.

    `token_nll[t]` is the NLL of token `t` given tokens `< t`; token 0 has no prediction (its
    entry is NaN) and is left out, which only matters if a step starts a row.
    """
    out = []
    for step in steps:
        start, end = max(int(step["start"]), 1), int(step["end"])
        values = token_nll[start:end]
        out.append((step, float(sum(values)), len(values)))
    return out


# -- the model side ----------------------------------------------------------------------------


def token_nll(
    model: Any,
    input_ids: list[int],
    *,
    positions: Iterable[int] | None = None,
    device: str = "cpu",
) -> list[float]:
    """NLL (natural log) of tokens of `input_ids` under `model`, index-aligned with them.

    Entry t is -log p(input_ids[t] | input_ids[<t]). Only `positions` are computed (default:
    all); the other entries, and entry 0 (which nothing predicts), are NaN. One forward pass of
    the decoder, then the output head over the needed positions only, in chunks: in agent
    trajectories most tokens are observations and prompts, whose logits nobody needs, and a
    [tokens x vocab] matrix at once would need gigabytes. Models whose output is not simply the
    head applied to the last hidden state (logit soft-capping, e.g. Gemma 2) take the plain
    full forward.
    """
    import torch

    n = len(input_ids)
    wanted = sorted({p for p in positions if 1 <= p < n}) if positions is not None else None
    if wanted is None:
        wanted = list(range(1, n))
    out = [math.nan] * n
    if not wanted:
        return out
    ids = torch.tensor([input_ids], dtype=torch.long, device=device)
    targets = ids[0, wanted]
    before = torch.tensor(wanted, dtype=torch.long, device=device) - 1
    with torch.inference_mode():
        decoder = _decoder(model)
        head = model.get_output_embeddings() if decoder is not None else None
        if decoder is None or head is None:
            logits = model(input_ids=ids).logits[0, before].float()
            nll = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
        else:
            hidden = decoder(input_ids=ids).last_hidden_state[0, before]
            parts = []
            for s in range(0, hidden.shape[0], LOGIT_CHUNK):
                logits = head(hidden[s : s + LOGIT_CHUNK]).float()
                parts.append(
                    torch.nn.functional.cross_entropy(
                        logits, targets[s : s + LOGIT_CHUNK], reduction="none"
                    )
                )
            nll = torch.cat(parts)
    for p, value in zip(wanted, nll.tolist(), strict=True):
        out[p] = value
    return out


def span_positions(steps: Iterable[Mapping[str, Any]]) -> list[int]:
    """The token positions inside the step spans `[start, end)`: the only ones evaluated."""
    return [t for step in steps for t in range(int(step["start"]), int(step["end"]))]


def _decoder(model: Any) -> Any | None:
    """The bare decoder of a causal LM when its logits are exactly `head(last_hidden_state)`."""
    config = getattr(model, "config", None)
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    get = getattr(model, "get_decoder", None)
    try:
        return get() if callable(get) else None
    except (AttributeError, NotImplementedError):
        return None


def load_causal_lm(path: str | Path, *, device: str = "cpu") -> Any:
    """Load a model for evaluation: a train run folder, its `model/`, or any model folder.

    `srft.train.load_model` knows the trainer's layouts (full, merged, a LoRA adapter on its
    base); without the training extras installed, a plain Hugging Face folder still loads.
    """
    try:
        from srft.train import load_model
    except ImportError:
        load_model = None
    if load_model is not None:
        model, _tokenizer = load_model(path)
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(path)
    model.to(device)
    model.eval()
    return model


# -- the dataset side --------------------------------------------------------------------------


def read_build_info(dataset_dir: str | Path) -> dict[str, Any]:
    """The dataset's `build.json` as written (empty if the folder has none)."""
    try:
        return DatasetFolder(dataset_dir).manifest_fields()
    except FileFormatError as e:
        raise EvaluateError(str(e)) from e


def load_rows(dataset_dir: str | Path) -> Any:
    """The rows of a dataset folder: `hf/` (datasets `save_to_disk`), else `data.parquet`."""
    import datasets

    folder = DatasetFolder(dataset_dir)
    problem = folder.rows_missing()
    if problem is not None:
        raise EvaluateError(f"{folder.path}: {problem}")
    if folder.hf.is_dir():
        data = datasets.load_from_disk(str(folder.hf))
    else:
        data = datasets.Dataset.from_parquet(str(folder.parquet))
    if isinstance(data, datasets.DatasetDict):
        split = "test" if "test" in data else next(iter(data))
        data = data[split]
    missing = {"trajectory_id", "outcome", "input_ids", "steps"} - set(data.column_names)
    if missing:
        raise EvaluateError(f"{folder.path}: dataset lacks columns {sorted(missing)}")
    return data


def check_row(row: Mapping[str, Any], *, where: str) -> None:
    """Raise `EvaluateError` if a row's step spans do not lie inside its tokens, in order."""
    n = len(row["input_ids"])
    previous_end = 0
    for step in row["steps"]:
        start, end = int(step["start"]), int(step["end"])
        if not 0 <= start <= end <= n:
            raise EvaluateError(
                f"{where}: step {step['index']} span [{start}, {end}) lies outside the "
                f"row's {n} tokens"
            )
        if start < previous_end:
            raise EvaluateError(f"{where}: step {step['index']} overlaps the step before it")
        previous_end = end


def select_rows(
    data: Any, folder: Path, *, max_rows: int | None, max_tokens: int | None
) -> tuple[list[int], list[dict[str, Any]]]:
    """The indices of the rows to evaluate, and the others with the reason each is skipped.

    Every row is checked, evaluated or not: a broken span is an error wherever it is.
    """
    selected: list[int] = []
    skipped: list[dict[str, Any]] = []
    for i in range(len(data)):
        row = data[i]
        check_row(row, where=f"{folder}: row {i} ({row['trajectory_id']})")
        if max_rows is not None and len(selected) >= max_rows:
            skipped.append({"trajectory_id": row["trajectory_id"], "reason": "max_rows"})
        elif max_tokens is not None and len(row["input_ids"]) > max_tokens:
            skipped.append(
                {
                    "trajectory_id": row["trajectory_id"],
                    "reason": f"{len(row['input_ids'])} tokens > max_tokens {max_tokens}",
                }
            )
        else:
            selected.append(i)
    return selected, skipped


# -- the stage -------------------------------------------------------------------------------


def _check_inputs(
    models: Mapping[str, str | Path],
    output: str | Path | None,
    *,
    check_names: bool,
    overwrite: bool,
) -> None:
    """Fail before any work on a model that cannot be had or an output that must not be replaced.

    `check_names` is off for a custom loader, which may take names that are not folders.
    """
    if not models:
        raise EvaluateError("no models to evaluate")
    for name, path in models.items() if check_names else ():
        if Path(path).exists():  # a run folder or model folder: `load_causal_lm` reads it
            continue
        try:
            resolve_model(path, "model")
        except ModelNotFound as e:
            raise EvaluateError(f"--model {name}={path}: {e}") from e
    if output is not None:
        try:
            check_output(output, kind="file", overwrite=overwrite)
        except OutputError as e:
            raise EvaluateError(str(e)) from e


def _load_model(load: Callable[[str | Path], Any], name: str, path: str | Path) -> Any:
    try:
        return load(path)
    except (OSError, ValueError) as e:  # not a model folder, a broken config, ...
        first = (str(e).strip() or type(e).__name__).splitlines()[0]
        raise EvaluateError(f"--model {name}={path}: cannot load a model: {first}") from e


def _evaluate_model(
    load: Callable[[str | Path], Any],
    name: str,
    path: str | Path,
    data: Any,
    rows: list[int],
    *,
    device: str,
) -> dict[str, Any]:
    """One model's entry of `eval.json`: its path, time and buckets (the model freed after)."""
    model = _load_model(load, name, path)
    t0 = time.monotonic()
    tally = tally_model(model, data, rows, device=device)
    return {"path": str(path), "seconds": round(time.monotonic() - t0, 3), **tally.to_json()}


def tally_model(model: Any, data: Any, rows: Iterable[int], *, device: str) -> NllTally:
    """One model's NLL over the given rows, every step attributed to its buckets."""
    tally = NllTally()
    for i in rows:
        row = data[i]
        nll = token_nll(
            model, list(row["input_ids"]), positions=span_positions(row["steps"]), device=device
        )
        tally.rows += 1
        for step, total, count in step_nll_sums(nll, row["steps"]):
            tally.add_step(
                label=step.get("label"),
                outcome=row["outcome"],
                trained=bool(step["trained"]),
                nll_sum=total,
                tokens=count,
            )
    return tally


def evaluate_nll(
    dataset_dir: str | Path,
    models: Mapping[str, str | Path],
    output: str | Path | None = None,
    *,
    max_tokens: int | None = None,
    max_rows: int | None = None,
    device: str = "cpu",
    loader: Callable[[str | Path], Any] | None = None,
    progress: Callable[[str], None] | None = None,
    overwrite: bool = True,
) -> dict[str, Any]:
    """Held-out NLL per step label for each model in `models` (name -> model folder).

    A model path that does not exist, or does not load, is an `EvaluateError` in one line;
    `overwrite`: False refuses an existing `output` (the CLI's default), before any work.

    Every row of `dataset_dir` is read and either evaluated or counted as skipped with a reason
    (`max_tokens`: rows longer than that are skipped, not truncated, because a truncated row
    would drop its last steps from the tally without saying so). `max_rows` evaluates only the
    first rows. Returns the `eval.json` object and writes it to `output` when given.
    """
    _check_inputs(models, output, check_names=loader is None, overwrite=overwrite)
    folder = Path(dataset_dir)
    data = load_rows(folder)
    build = read_build_info(folder)
    load = loader or (lambda path: load_causal_lm(path, device=device))
    say = progress or (lambda _message: None)
    selected, skipped = select_rows(data, folder, max_rows=max_rows, max_tokens=max_tokens)

    started = time.monotonic()
    results = {}
    for name, path in models.items():
        say(f"evaluating {name} ({path}) on {len(selected)} rows")
        results[name] = _evaluate_model(load, name, path, data, selected, device=device)
    report = {
        "format": FORMAT,
        "version": VERSION,
        "dataset": {
            "path": str(folder),
            "policy": build.get("policy"),
            "tokenizer": build.get("tokenizer"),
            "rows_read": len(data),
            "rows_evaluated": len(selected),
            "rows_skipped": len(skipped),
            "skipped": skipped,
        },
        "models": results,
        "seconds": round(time.monotonic() - started, 3),
    }
    if output is not None:
        EVALUATION.write(output, report)
    return report


def nll_table(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per model: NLL per token for each label, plus the difference to the first model.

    The first model in `eval.json` is the reference (the pipeline puts the base model first),
    so `delta_<label>` reads "how much less (negative) or more likely than before training".
    """
    models = report.get("models", {})
    labels = sorted({label for m in models.values() for label in m.get("by_label", {})})
    reference = next(iter(models.values()), None)
    rows = []
    for name, m in models.items():
        row: dict[str, Any] = {"model": name, "overall": m["overall"]["nll_per_token"]}
        for label in labels:
            value = m.get("by_label", {}).get(label, {}).get("nll_per_token")
            row[label] = value
            ref = (reference or {}).get("by_label", {}).get(label, {}).get("nll_per_token")
            row[f"delta_{label}"] = value - ref if value is not None and ref is not None else None
        rows.append(row)
    return rows
