"""The comparison table: the paper's table (SFT vs RFT vs SRFT ...) on the user's own data.

One row per policy row of the run config, plus the base model: how many trajectories the student
was trained on, how many assistant tokens were trained and how many masked, the final training
loss, and the held-out negative log-likelihood per token for each step label. Everything is read
from the files the other stages wrote (the dataset folders' row contract, `metrics.jsonl`,
`eval/*.json`, each read through `srft.files`), so the table can be rebuilt from a run folder
alone.

Written as `comparison.json` (`format: srft.comparison`, version 1) and `comparison.md`; the
per-model eval files are merged into `eval.json` (base model first: the reference every
difference is taken against).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from srft.files.base import FileFormatError
from srft.files.comparison import COMPARISON, Comparison, ComparisonRow
from srft.files.dataset_manifest import DatasetFolder
from srft.files.evaluation import EVALUATION, Evaluation, ModelNll
from srft.files.train_run import read_train_metrics
from srft.files.verdicts import LABELS


class CompareError(ValueError):
    """A run folder whose stage outputs cannot be compared; names the file and the reason."""


def dataset_counts(dataset_dir: Path) -> dict[str, int]:
    """Trajectories, tokens, trained and masked assistant tokens of one dataset folder.

    Masked tokens are the assistant tokens of steps the policy did not train (the `steps`
    column's spans with `trained: false`); the context (system, user, observations) is neither.
    """
    import datasets

    hf = DatasetFolder(dataset_dir).hf
    if not hf.is_dir():
        raise CompareError(f"{dataset_dir}: not a dataset folder (no hf/)")
    data = datasets.load_from_disk(str(hf)).select_columns(
        ["outcome", "num_tokens", "num_trained", "steps"]
    )
    counts = {
        "trajectories": 0,
        "resolved": 0,
        "unresolved": 0,
        "unknown": 0,
        "tokens": 0,
        "trained_tokens": 0,
        "masked_tokens": 0,
        "masked_steps": 0,
    }
    for batch in data.iter(batch_size=256):
        for outcome, tokens, trained, steps in zip(
            batch["outcome"], batch["num_tokens"], batch["num_trained"], batch["steps"], strict=True
        ):
            counts["trajectories"] += 1
            counts[outcome if outcome in ("resolved", "unresolved") else "unknown"] += 1
            counts["tokens"] += int(tokens)
            counts["trained_tokens"] += int(trained)
            for step in steps:
                if not step["trained"]:
                    counts["masked_tokens"] += int(step["end"]) - int(step["start"])
                    counts["masked_steps"] += 1
    return counts


def final_loss(run_dir: Path) -> tuple[float | None, int]:
    """The loss of the last optimizer step in `metrics.jsonl`, and how many steps were logged."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise CompareError(f"{path}: missing (did the train stage finish?)")
    try:
        losses = [r.loss for r in read_train_metrics(run_dir) if r.loss is not None]
    except FileFormatError as e:
        raise CompareError(str(e)) from e
    return (losses[-1] if losses else None), len(losses)


def nll_by_label(model: ModelNll) -> dict[str, float | None]:
    """NLL per token for each of the four labels and overall, from one model of an eval file."""
    by_label = model.by_label
    out = {label: by_label[label].nll_per_token if label in by_label else None for label in LABELS}
    out["overall"] = model.overall.nll_per_token
    return out


def merge_evals(paths: dict[str, Path], output: Path) -> Evaluation:
    """One `eval.json` holding every model of the per-model eval files, in the given order."""
    merged: Evaluation | None = None
    for name, path in paths.items():
        try:
            report = EVALUATION.read(path)
        except FileFormatError as e:
            raise CompareError(str(e)) from e
        if merged is None:
            merged = report.model_copy(update={"models": {}, "seconds": 0.0})
        elif report.dataset.path != merged.dataset.path:
            raise CompareError(f"{path}: evaluated on another dataset than {paths}")
        merged.models[name] = report.models[name]
        merged.seconds = round((merged.seconds or 0.0) + (report.seconds or 0.0), 3)
    if merged is None:
        raise CompareError("no eval files to merge")
    EVALUATION.write(output, merged.as_written())
    return merged


def compare(run_dir: Path, rows: list[str], *, base: str | None, evaluated: bool) -> dict[str, Any]:
    """Write `comparison.json`, `comparison.md` (and `eval.json` when evaluated); return the table."""
    evals: dict[str, ModelNll] = {}
    heldout: int | None = None
    if evaluated:
        names = ([base] if base else []) + rows
        merged = merge_evals(
            {n: run_dir / "eval" / f"{n}.json" for n in names}, run_dir / "eval.json"
        )
        evals, heldout = merged.models, merged.dataset.rows_evaluated
    table_rows: list[ComparisonRow] = []
    if base and base in evals:
        table_rows.append(ComparisonRow(policy=base, nll=nll_by_label(evals[base])))
    for row in rows:
        loss, steps = final_loss(run_dir / "runs" / row)
        entry = ComparisonRow(
            policy=row,
            **dataset_counts(run_dir / "datasets" / row),
            optimizer_steps=steps,
            final_train_loss=loss,
        )
        if row in evals:
            entry.nll = nll_by_label(evals[row])
        table_rows.append(entry)
    table = Comparison(heldout_trajectories=heldout, rows=table_rows).as_written()
    COMPARISON.write(run_dir / "comparison.json", table)
    (run_dir / "comparison.md").write_text(to_markdown(table), encoding="utf-8")
    return table


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def to_markdown(table: dict[str, Any]) -> str:
    """The comparison as a GitHub-flavoured markdown table (lower held-out NLL = more likely)."""
    head = [
        "policy",
        "trajectories",
        "trained tokens",
        "masked tokens",
        "final train loss",
        *(f"NLL {label}" for label in LABELS),
        "NLL all",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table["rows"]:
        nll = row.get("nll", {})
        cells = [
            row["policy"],
            _num(row.get("trajectories")),
            _num(row.get("trained_tokens")),
            _num(row.get("masked_tokens")),
            _num(row.get("final_train_loss")),
            *(_num(nll.get(label)) for label in LABELS),
            _num(nll.get("overall")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    held = table.get("heldout_trajectories")
    note = (
        f"\nHeld-out NLL per token on {held} held-out trajectories, grouped by the critic's step "
        "label; lower means the model finds those actions more likely. `–`: no such steps.\n"
        if held is not None
        else "\nNo held-out evaluation in this run.\n"
    )
    return "\n".join(lines) + "\n" + note
