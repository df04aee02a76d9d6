"""Judging the critic: agreement with gold labels (`critic-eval`) and a benchmark with known
answers made by corrupting steps of resolved trajectories (`critic-bench`).

`critic-eval` reports per-label precision/recall/F1, the binary mistake-vs-rest F1 (the number
the SRFT paper reports, 0.737 for its critic), accuracy and a confusion matrix over the steps of
trajectories present in both files. Steps of a `failed` prediction are not guessed: they are
counted as `unjudged` and reported apart (they lower recall, never raise precision).

When the predictions carry a confidence per step (a sampled critic, `--samples K`, or files
combined by `srft critic-vote`), `calibration` adds a reliability table (per confidence bucket:
steps, mean confidence, accuracy, and mistake-vs-rest P/R/F1 within the bucket), the expected
calibration error, and the mistake-vs-rest P/R/F1 a policy would get masking only the mistakes
whose confidence reaches each threshold (`srft build --option min_confidence=T`).

`critic-bench` takes resolved trajectories, picks steps with a shell command, and replaces the
command by a broken one with a matching error observation (a misspelt command -> "command not
found", a missing file -> "No such file or directory", a Python syntax error). The corrupted
steps are gold `mistake`; the other steps of a resolved run are taken as gold `good` (an
assumption: the run succeeded, so they are at least not harmful). Mistake recall is the
benchmark's headline number; precision on the `good` steps is indicative only.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from srft.critic.file import read_labels
from srft.critic.rules import shell_command
from srft.files.corpus import CORPUS, Message, ToolCall, Trajectory
from srft.files.verdicts import LABELS, VERDICTS, VerdictError
from srft.outputs import atomic_file

UNJUDGED = "unjudged"

# -- critic-eval ------------------------------------------------------------------------------


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def evaluate_critic(pred_path: str | Path, gold_path: str | Path) -> dict[str, Any]:
    """Compare predicted verdicts with gold labels (any shape `file` reads) step by step."""
    gold = read_labels(gold_path)
    pairs: list[tuple[str, str]] = []
    scored: list[tuple[str, str, float]] = []  # (gold, pred, confidence) where known
    matched, missing_pred = 0, []
    preds: dict[str, list[str] | None] = {}
    confidences: dict[str, list[float | None]] = {}
    for verdict in VERDICTS.read(pred_path):
        preds[verdict.trajectory_id] = verdict.labels() if verdict.status == "ok" else None
        confidences[verdict.trajectory_id] = [s.confidence for s in verdict.steps]
    for tid, record in gold.items():
        if tid not in preds:
            missing_pred.append(tid)
            continue
        matched += 1
        labels = preds[tid]
        if labels is not None and len(labels) != len(record.steps):
            raise VerdictError(
                f"{pred_path}: trajectory {tid!r} has {len(labels)} labels, gold "
                f"({record.where}) has {len(record.steps)}"
            )
        for i, g in enumerate(record.steps):
            pairs.append((g.label, labels[i] if labels is not None else UNJUDGED))
            if labels is not None and confidences[tid][i] is not None:
                scored.append((g.label, labels[i], confidences[tid][i]))  # type: ignore[arg-type]
    extra = {"calibration": calibration(scored, pairs)} if scored else {}
    return (
        metrics(pairs)
        | extra
        | {
            "trajectories": {
                "gold": len(gold),
                "matched": matched,
                "missing_from_pred": len(missing_pred),
            },
            "missing_from_pred": missing_pred[:20],
        }
    )


def metrics(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Per-label P/R/F1, mistake-vs-rest F1, accuracy and confusion from (gold, pred) pairs."""
    confusion = {g: dict.fromkeys([*LABELS, UNJUDGED], 0) for g in LABELS}
    for g, p in pairs:
        confusion[g][p] += 1
    per_label = {}
    for lab in LABELS:
        tp = confusion[lab][lab]
        fp = sum(confusion[g][lab] for g in LABELS if g != lab)
        fn = sum(confusion[lab][p] for p in confusion[lab] if p != lab)
        per_label[lab] = _prf(tp, fp, fn) | {"support": sum(confusion[lab].values())}
    tp = sum(1 for g, p in pairs if g == "mistake" and p == "mistake")
    fp = sum(1 for g, p in pairs if g != "mistake" and p == "mistake")
    fn = sum(1 for g, p in pairs if g == "mistake" and p != "mistake")
    return {
        "steps": len(pairs),
        "unjudged_steps": sum(1 for _, p in pairs if p == UNJUDGED),
        "accuracy": round(sum(1 for g, p in pairs if g == p) / len(pairs), 4) if pairs else 0.0,
        "mistake_vs_rest": _prf(tp, fp, fn),
        "per_label": per_label,
        "confusion": {"rows": "gold", "columns": "predicted", "matrix": confusion},
    }


BUCKET_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _bucket(confidence: float) -> int:
    for i in range(len(BUCKET_EDGES) - 2, -1, -1):
        if confidence >= BUCKET_EDGES[i]:
            return i
    return 0


def _mistake_prf(rows: list[tuple[str, str]]) -> dict[str, float]:
    tp = sum(1 for g, p in rows if g == "mistake" and p == "mistake")
    fp = sum(1 for g, p in rows if g != "mistake" and p == "mistake")
    fn = sum(1 for g, p in rows if g == "mistake" and p != "mistake")
    return _prf(tp, fp, fn)


def calibration(
    scored: list[tuple[str, str, float]], pairs: list[tuple[str, str]]
) -> dict[str, Any]:
    """Reliability of the critic's confidence: per bucket, ECE, and mistake masking by threshold.

    `scored` are (gold, predicted, confidence of the predicted label) of the steps that carry a
    confidence; `pairs` all (gold, predicted) steps, so that recall at a threshold counts every
    gold mistake, also those the critic did not judge."""
    buckets = []
    ece = 0.0
    for i in range(len(BUCKET_EDGES) - 1):
        rows = [(g, p, c) for g, p, c in scored if _bucket(c) == i]
        if not rows:
            continue
        mean = sum(c for _, _, c in rows) / len(rows)
        accuracy = sum(1 for g, p, _ in rows if g == p) / len(rows)
        ece += len(rows) / len(scored) * abs(mean - accuracy)
        lo, hi = BUCKET_EDGES[i], BUCKET_EDGES[i + 1]
        buckets.append(
            {
                "range": f"[{lo:.1f}, {hi:.1f}{']' if hi == 1.0 else ')'}",
                "steps": len(rows),
                "mean_confidence": round(mean, 4),
                "accuracy": round(accuracy, 4),
                "mistake": _mistake_prf([(g, p) for g, p, _ in rows]),
            }
        )
    confident = [c for _, p, c in scored if p == "mistake"]
    thresholds = []
    gold_mistakes = sum(1 for g, _ in pairs if g == "mistake")
    for t in sorted(set(confident)):
        masked = [(g, p, c) for g, p, c in scored if p == "mistake" and c >= t]
        tp = sum(1 for g, _, _ in masked if g == "mistake")
        thresholds.append(
            {"min_confidence": t, "masked": len(masked)}
            | _prf(tp, len(masked) - tp, gold_mistakes - tp)
        )
    return {
        "steps": len(scored),
        "buckets": buckets,
        "ece": round(ece, 4),
        "mistake_by_min_confidence": thresholds,
    }


# -- critic-bench -----------------------------------------------------------------------------

_CORRUPTIONS = ("command-not-found", "missing-file", "syntax-error")


def corrupt_command(command: str, kind: str) -> tuple[str, str, int]:
    """A broken version of `command` and the error a shell would answer: (command, output, code)."""
    if kind == "command-not-found":
        word = command.strip().split()[0] if command.strip() else "ls"
        typo = word + word[-1]
        return (command.replace(word, typo, 1), f"bash: line 1: {typo}: command not found", 127)
    if kind == "missing-file":
        path = "src/does_not_exist_7f3a.py"
        return (f"cat {path}", f"cat: {path}: No such file or directory", 1)
    if kind == "syntax-error":
        code = "print('checking'"
        out = (
            "  File \"<string>\", line 1\n    print('checking'\n         ^\n"
            "SyntaxError: '(' was never closed"
        )
        return (f'python -c "{code}"', "Traceback (most recent call last):\n" + out, 1)
    raise ValueError(f"unknown corruption {kind!r}")


def _corrupt_step(t: Trajectory, index: int, kind: str) -> Trajectory:
    data = t.model_copy(deep=True)
    step = data.steps[index]
    assistant: Message = data.messages[step.assistant]
    command = shell_command(assistant) or ""
    broken, output, code = corrupt_command(command, kind)
    call = next(
        (
            c
            for c in assistant.tool_calls
            if isinstance(c.arguments, dict)
            and any(k in c.arguments for k in ("command", "cmd", "bash"))
        ),
        None,
    )
    if call is not None:
        key = next(k for k in ("command", "cmd", "bash") if k in call.arguments)
        i = assistant.tool_calls.index(call)
        assistant.tool_calls[i] = ToolCall(
            id=call.id, name=call.name, arguments={**call.arguments, key: broken}
        )
    else:
        assistant.content = assistant.content.replace(command, broken + "\n", 1)
    for o in step.observations:
        obs = data.messages[o]
        if obs.content.lstrip().startswith("<returncode>"):
            obs.content = f"<returncode>{code}</returncode>\n<output>\n{output}\n</output>"
        else:
            obs.content = output
        if obs.exit_code is not None:
            obs.exit_code = code
        break
    return data


def make_bench(
    corpus_path: str | Path,
    output_path: str | Path,
    *,
    steps_per_trajectory: int = 2,
    seed: int = 0,
    include_unknown: bool = False,
) -> dict[str, Any]:
    """Write a benchmark corpus and its gold labels (`<output stem>.gold.jsonl`); return counts.

    Only resolved trajectories are used (or also unknown ones with `include_unknown`), and only
    steps with an observation and a recognisable shell command are corrupted.
    """
    rng = random.Random(seed)
    output_path = Path(output_path)
    gold_path = output_path.with_name(output_path.name.removesuffix(".jsonl") + ".gold.jsonl")
    usable = ("resolved", "unknown") if include_unknown else ("resolved",)
    out: list[Trajectory] = []
    gold: list[dict[str, Any]] = []
    kinds: Counter[str] = Counter()
    read = 0
    for t in CORPUS.read(corpus_path):
        read += 1
        candidates = _corruptible_steps(t) if t.outcome.status in usable else []
        if candidates:
            chosen = sorted(rng.sample(candidates, min(steps_per_trajectory, len(candidates))))
            out.append(_bench_trajectory(t, chosen, rng, kinds))
            gold.append(_gold_labels(out[-1].id, t, chosen))
    CORPUS.write(output_path, out)
    with atomic_file(gold_path) as f:
        for row in gold:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {
        "read": read,
        "written": len(out),
        "skipped": read - len(out),
        "corrupted_steps": sum(kinds.values()),
        "kinds": dict(kinds),
        "bench": str(output_path),
        "gold": str(gold_path),
    }


def _corruptible_steps(t: Trajectory) -> list[int]:
    """The steps with an observation and a recognisable shell command."""
    return [s.index for s in t.steps if s.observations and shell_command(t.step_assistant(s.index))]


def _bench_trajectory(
    t: Trajectory, chosen: list[int], rng: random.Random, kinds: Counter[str]
) -> Trajectory:
    """`t` with the `chosen` steps corrupted (a random kind each, counted in `kinds`)."""
    bench = t
    for i in chosen:
        kind = _CORRUPTIONS[rng.randrange(len(_CORRUPTIONS))]
        bench = _corrupt_step(bench, i, kind)
        kinds[kind] += 1
    bench = bench.model_copy(update={"id": f"{t.id}#bench"})
    bench.metadata.extra["srft_bench"] = {"source": t.id, "corrupted_steps": chosen}
    bench.validate_structure()
    return bench


def _gold_labels(bench_id: str, t: Trajectory, chosen: list[int]) -> dict[str, Any]:
    """The gold labels of a bench trajectory: its corrupted steps `mistake`, the rest `good`."""
    return {
        "trajectory_id": bench_id,
        "labels": ["mistake" if s.index in chosen else "good" for s in t.steps],
        "reasons": [
            "srft-bench: corrupted step"
            if s.index in chosen
            else "srft-bench: step of a resolved run"
            for s in t.steps
        ],
    }
