"""The static HTML report: one self-contained file that shows what the critic did and what it cost.

`collect_report_data` reads the pipeline's files (corpus, verdicts, dataset folders, train run
folders, `eval.json`) and reduces them to one JSON-able object: the trajectories as the browser
shows them, the per-step trained/masked token spans of every policy, and the aggregates the
charts draw. `render_html` embeds that object in `template.html` (a jinja2 template) beside the
inline CSS and JS (`report.css`, `report.js`), so the file works offline and from `file://`, with
no CDN.

Safety: trajectories contain arbitrary code and HTML. The data travels as JSON inside a
`<script type="application/json">` block with `<`, `>` and `&` escaped as `\\u003c` etc., so no
text can close the block; the JS only ever inserts it with `textContent`. A Content-Security-
Policy allows exactly the report's own script (by hash) and no network, so even a mistake in
the JS could not run injected script or fetch anything.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from srft.files.base import FileFormatError, JsonDocument
from srft.files.corpus import Message, Trajectory
from srft.files.critic_quality import CRITIC_QUALITY
from srft.files.dataset_manifest import DatasetFolder
from srft.files.evaluation import EVALUATION
from srft.files.handoff import HANDOFF, HANDOFF_JSON
from srft.files.train_run import METRICS_JSONL, TRAIN_JSON, TRAIN_RUN, read_train_metrics
from srft.files.verdicts import LABELS, Verdict
from srft.outputs import OutputError, check_output, write_text_atomic

OUTCOMES = ("resolved", "unresolved", "unknown")
UNLABELED = "unlabeled"
POSITION_BINS = 10
# Text longer than this is cut in the middle in the report (the corpus keeps it whole): a
# 250-trajectory corpus with full observations would make a report too big to open smoothly.
DEFAULT_MAX_TEXT = 6000
# The browser embeds at most this many trajectories (the charts count all of them); beyond a few
# thousand, a single HTML file becomes too heavy for a browser tab. The report says how many
# were left out.
DEFAULT_MAX_TRAJECTORIES = 2000


class ReportError(ValueError):
    """An input the report cannot use; the message names the file and the reason."""


# -- reading inputs ----------------------------------------------------------------------------


def _trajectories(corpus: str | Path | Iterable[Trajectory]) -> list[Trajectory]:
    if isinstance(corpus, str | Path):
        from srft.files.corpus import CORPUS

        return list(CORPUS.read(corpus))
    return list(corpus)


def _verdicts(verdicts: str | Path | Mapping[str, Verdict] | None) -> dict[str, Verdict]:
    if verdicts is None:
        return {}
    if isinstance(verdicts, str | Path):
        from srft.files.verdicts import load_verdicts

        return load_verdicts(verdicts)
    return dict(verdicts)


def read_dataset_rows(dataset_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of a dataset folder without their token lists (the report needs spans only)."""
    import pyarrow.parquet as pq

    folder = DatasetFolder(dataset_dir)
    columns = ["trajectory_id", "outcome", "steps", "num_tokens", "num_trained"]
    problem = folder.rows_missing()
    if problem is not None:
        raise ReportError(f"{folder.path}: {problem}")
    if folder.parquet.is_file():
        return pq.read_table(folder.parquet, columns=columns).to_pylist()
    import datasets

    data = datasets.load_from_disk(str(folder.hf))
    missing = set(columns) - set(data.column_names)
    if missing:
        raise ReportError(f"{folder.path}: dataset lacks columns {sorted(missing)}")
    return data.select_columns(columns).to_list()


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of a train run's `metrics.jsonl` (one per optimizer step, with `loss`)."""
    if not (Path(run_dir) / METRICS_JSONL).is_file():
        raise ReportError(f"{run_dir}: no metrics.jsonl")
    records = _read_file(read_train_metrics, run_dir)
    return [r.model_dump(mode="json", exclude_unset=True) for r in records]


def read_handoff(where: str | Path) -> dict[str, Any]:
    """A hand-off's `handoff.json`, given the file or the `handoff/` folder holding it."""
    path = Path(where)
    if path.is_dir():
        path = path / HANDOFF_JSON
    if not path.is_file():
        raise ReportError(f"{where}: no handoff.json")
    return _read_file(HANDOFF.read, path).model_dump(mode="json")


def _read_file(read: Callable[[Any], Any], path: str | Path) -> Any:
    """`read(path)`, a malformed file a `ReportError` naming it (and its line)."""
    try:
        return read(path)
    except FileFormatError as e:
        raise ReportError(str(e)) from e


def _read_document(spec: JsonDocument[Any], data: str | Path | Mapping[str, Any] | None) -> Any:
    """A file's JSON object as written, its format checked; an object given in its place as is."""
    if data is None or isinstance(data, Mapping):
        return dict(data) if data is not None else None
    return _read_file(spec.load, data)


def _read_json(path: str | Path | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if path is None or isinstance(path, Mapping):
        return dict(path) if path is not None else None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}: not valid JSON: {e}") from e


def read_rollouts(
    rollouts: Iterable[str | Path | Mapping[str, Any]] | None,
) -> dict[str, Any] | None:
    """Rollout results of the models (`srft.files.rollouts` files, one or several models each,
    on the same episodes of one environment), merged into one result with every pair's
    difference; the per-episode outcomes are dropped once paired, since the report shows rates."""
    from srft.evaluate.rollout_stats import merge_rollouts
    from srft.files.base import FileFormatError
    from srft.files.rollouts import parse_rollouts, read_rollouts

    sources = list(rollouts or ())
    if not sources:
        return None
    try:
        results = [
            parse_rollouts(w) if isinstance(w, Mapping) else read_rollouts(w) for w in sources
        ]
    except FileFormatError as e:
        raise ReportError(str(e)) from e
    except ValueError as e:  # an object given in place of a file
        raise ReportError(f"(object): {e}") from e
    try:
        merged = merge_rollouts(results)
    except ValueError as e:
        named = [str(w) if isinstance(w, str | Path) else "(object)" for w in sources]
        raise ReportError(f"rollouts {named}: {e}") from e
    data = merged.model_dump(mode="json", exclude={"probes"})
    for mode in data["modes"].values():
        for student in mode["students"].values():
            student.pop("outcomes", None)
    return data


# -- shaping trajectories for the browser --------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """`text`, or its head and tail with a marker saying how much was left out."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    omitted = len(text) - head - tail
    return (
        f"{text[:head]}\n\n[... {omitted} characters omitted in the report ...]\n\n{text[-tail:]}"
    )


def split_thought_action(message: Message) -> tuple[str, str]:
    """The thought and the action of an assistant message, as the report shows them.

    Tool calls are the action when there are any. Text-action agents (mini-swe-agent,
    SWE-agent) write the action as the last fenced code block of the text; that block is shown
    as the action and the rest as the thought. Anything else is all thought.
    """
    thought = "\n\n".join(t for t in (message.reasoning or "", message.content) if t.strip())
    if message.tool_calls:
        calls = []
        for call in message.tool_calls:
            args = call.arguments
            shown = (
                args if isinstance(args, str) else json.dumps(args, ensure_ascii=False, indent=1)
            )
            calls.append(f"{call.name}({shown})")
        return thought, "\n".join(calls)
    content = message.content
    end = content.rfind("```")
    start = content.rfind("```", 0, end) if end > 0 else -1
    if start >= 0 and end > start:
        block = content[start + 3 : end]
        first_newline = block.find("\n")
        code = block[first_newline + 1 :] if first_newline >= 0 else block
        rest = (content[:start] + content[end + 3 :]).strip()
        thought = "\n\n".join(t for t in (message.reasoning or "", rest) if t.strip())
        return thought, code.rstrip("\n")
    return thought, ""


def trajectory_view(
    trajectory: Trajectory, verdict: Verdict | None, *, max_text: int
) -> dict[str, Any]:
    """One trajectory as the browser shows it: steps with thought, action, observations, label."""
    labels = {s.index: (s.label, s.reason) for s in verdict.steps} if verdict else {}
    steps = []
    for step in trajectory.steps:
        thought, action = split_thought_action(trajectory.step_assistant(step.index))
        label, reason = labels.get(step.index, (None, ""))
        steps.append(
            {
                "index": step.index,
                "thought": clip(thought, max_text),
                "action": clip(action, max_text),
                "observations": [
                    {
                        "role": m.role,
                        "text": clip(m.content, max_text),
                        "exit_code": m.exit_code,
                        "interrupt": m.interrupt,
                    }
                    for m in trajectory.step_observations(step.index)
                ],
                "label": label,
                "reason": reason,
            }
        )
    return {
        "id": trajectory.id,
        "instance_id": trajectory.instance_id,
        "outcome": trajectory.outcome.status,
        "format": trajectory.source.format,
        "model": trajectory.metadata.model,
        "task": clip(trajectory.task, max_text),
        "verdict": None
        if verdict is None
        else {"status": verdict.status, "error": verdict.error, "critic": verdict.critic.name},
        "steps": steps,
    }


# -- aggregates (pure) -------------------------------------------------------------------------


def group_runs(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The views with the runs of each instance together (instances in order of first run).

    Each view gets `runs` (how many runs its instance has) and `run` (its 1-based place among
    them), so the browser can head each group; a run without an instance is its own group.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for view in views:
        groups.setdefault(view["instance_id"] or f"trajectory:{view['id']}", []).append(view)
    grouped = []
    for runs in groups.values():
        for n, view in enumerate(runs, start=1):
            grouped.append({**view, "runs": len(runs), "run": n})
    return grouped


def runs_summary(views: list[dict[str, Any]]) -> dict[str, Any]:
    """Instances, how many have several runs, and pass@1 / pass@k over the labelled runs."""
    from srft.corpus.stats import pass_at_k

    per_instance: dict[str, list[str]] = {}
    for view in views:
        key = view["instance_id"] or f"trajectory:{view['id']}"
        per_instance.setdefault(key, []).append(view["outcome"])
    labelled = [
        (sum(o != "unknown" for o in outs), outs.count("resolved"))
        for outs in per_instance.values()
    ]
    most = max((n for n, _ in labelled), default=0)
    pass_at: dict[str, float | None] = {}
    for k in sorted({1, most}) if most else []:
        values = [pass_at_k(n, c, k) for n, c in labelled if n >= k]
        pass_at[str(k)] = sum(values) / len(values) if values else None
    return {
        "instances": len(per_instance),
        "with_several_runs": sum(len(outs) > 1 for outs in per_instance.values()),
        "max_runs": max((len(outs) for outs in per_instance.values()), default=0),
        "pass_at_k": pass_at,
    }


def label_counts(views: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Steps per label (rows) and outcome (columns); steps without a label count as unlabeled."""
    counts: dict[str, dict[str, int]] = {
        k: dict.fromkeys(OUTCOMES, 0) for k in (*LABELS, UNLABELED)
    }
    for view in views:
        for step in view["steps"]:
            counts[step["label"] or UNLABELED][view["outcome"]] += 1
    return counts


def labels_by_position(
    views: list[dict[str, Any]], bins: int = POSITION_BINS
) -> list[dict[str, int]]:
    """For each tenth of a trajectory (by step index / steps), how many steps carry each label."""
    out = [dict.fromkeys((*LABELS, UNLABELED), 0) for _ in range(bins)]
    for view in views:
        n = len(view["steps"])
        for step in view["steps"]:
            b = min(bins - 1, math.floor(step["index"] / n * bins))
            out[b][step["label"] or UNLABELED] += 1
    return out


def length_histogram(views: list[dict[str, Any]], bins: int = 12) -> dict[str, Any]:
    """Trajectory lengths in steps: equal-width bins, counted per outcome."""
    lengths = [len(v["steps"]) for v in views]
    if not lengths:
        return {"edges": [], "counts": {}}
    top = max(lengths)
    width = max(1, math.ceil(top / bins))
    n_bins = max(1, math.ceil((top + 1) / width))
    counts = {o: [0] * n_bins for o in OUTCOMES}
    for view, length in zip(views, lengths, strict=True):
        counts[view["outcome"]][length // width] += 1
    return {"edges": [i * width for i in range(n_bins + 1)], "counts": counts}


def policy_tokens(rows: list[dict[str, Any]], outcomes: Mapping[str, str]) -> dict[str, Any]:
    """A policy's dataset reduced for the report: per-row spans and per-outcome token accounting.

    `masked` counts assistant tokens of masked steps (the tokens SRFT keeps in context but does
    not learn); the masked fraction is masked / (trained + masked) assistant tokens.
    """
    per_row: dict[str, Any] = {}
    by_outcome = {
        o: {
            "rows": 0,
            "tokens": 0,
            "trained": 0,
            "masked": 0,
            "steps_trained": 0,
            "steps_masked": 0,
        }
        for o in OUTCOMES
    }
    for row in rows:
        spans = [[s["index"], s["start"], s["end"], bool(s["trained"])] for s in row["steps"]]
        per_row[row["trajectory_id"]] = {
            "tokens": row["num_tokens"],
            "trained": row["num_trained"],
            "spans": spans,
        }
        acc = by_outcome[row.get("outcome") or outcomes.get(row["trajectory_id"], "unknown")]
        acc["rows"] += 1
        acc["tokens"] += row["num_tokens"]
        for _, start, end, trained in spans:
            acc["trained" if trained else "masked"] += end - start
            acc["steps_trained" if trained else "steps_masked"] += 1
    for acc in by_outcome.values():
        assistant = acc["trained"] + acc["masked"]
        acc["masked_fraction"] = acc["masked"] / assistant if assistant else None
    dropped = Counter(o for t, o in outcomes.items() if t not in per_row)
    return {"rows": per_row, "by_outcome": by_outcome, "dropped": dict(dropped)}


def loss_curve(records: list[dict[str, Any]]) -> list[list[float]]:
    """[step, loss] points of the training records that carry a finite loss."""
    points = []
    for n, record in enumerate(records, start=1):
        loss = record.get("loss")
        if isinstance(loss, int | float) and math.isfinite(loss):
            step = record.get("step", record.get("global_step", n))
            points.append([step, float(loss)])
    return points


# Settings whose name says they hold a secret are shown as "***": a report gets shared, and a
# config may carry a key despite the advice to pass secrets by environment variable.
_SECRET_NAME = re.compile(r"(api[_-]?key|secret|password|passwd|bearer|auth)$|(^|[_-])token$", re.I)


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}."))
        elif _SECRET_NAME.search(str(key)) and value:
            flat[name] = "***"
        else:
            flat[name] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return flat


# -- the report ------------------------------------------------------------------------------


def collect_report_data(
    *,
    corpus: str | Path | Iterable[Trajectory],
    verdicts: str | Path | Mapping[str, Verdict] | None = None,
    datasets: Mapping[str, str | Path] | None = None,
    runs: Mapping[str, str | Path] | None = None,
    eval_json: str | Path | Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str = "SRFT report",
    max_text: int = DEFAULT_MAX_TEXT,
    handoffs: Mapping[str, str | Path] | None = None,
    max_trajectories: int = DEFAULT_MAX_TRAJECTORIES,
    rollouts: Iterable[str | Path | Mapping[str, Any]] | None = None,
    critic_quality: str | Path | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the report shows, as one JSON-able object (see the module docstring).

    `datasets` and `runs` map a policy name (sft, rft, srft, ...) to its dataset folder and its
    train run folder; `eval_json` is the evaluate stage's file (or its object); `handoffs`
    maps a model name to its agent-evaluation hand-off (`handoff/` folder or `handoff.json`,
    see `srft.evaluate.handoff`), whose commands the report lists; `rollouts` are rollouts of
    the models in an environment (`srft.rollouts` files), shown as success rates with intervals
    and paired differences; `critic_quality` is `srft critic-eval`'s comparison of the critic with
    true labels (a run whose environment generates them has them), shown as per-label precision
    and recall. The charts count
    every trajectory; the browser embeds the first `max_trajectories` and says how many it left
    out. Every input but the corpus is optional: the report says what it lacks instead of
    failing. Verdicts or dataset rows for trajectories not in the corpus are refused
    (`ReportError`).
    """
    views = _browser_views(corpus, verdicts, max_text)
    outcomes = {v["id"]: v["outcome"] for v in views}
    policies = _policies(datasets, runs, outcomes, corpus)
    return {
        "format": "srft.report-data",
        "version": 1,
        "title": title,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "labels": [*LABELS, UNLABELED],
        "outcomes": list(OUTCOMES),
        "settings": _flatten(settings or {}),
        "summary": _summary(views, max_trajectories),
        "policies": policies,
        "eval": _read_document(EVALUATION, eval_json),
        "handoffs": {name: read_handoff(where) for name, where in (handoffs or {}).items()},
        "rollouts": read_rollouts(rollouts),
        # `srft critic-eval` output: the critic against true labels, when a run has them
        "critic_quality": CRITIC_QUALITY.load(critic_quality)
        if isinstance(critic_quality, str | Path)
        else _read_json(critic_quality),
        "trajectories": views[:max_trajectories],
    }


def _browser_views(
    corpus: str | Path | Iterable[Trajectory],
    verdicts: str | Path | Mapping[str, Verdict] | None,
    max_text: int,
) -> list[dict[str, Any]]:
    """Every trajectory as the browser shows it, with its verdict, the runs of an instance
    together; verdicts for trajectories not in the corpus are refused."""
    trajectories = _trajectories(corpus)
    judged = _verdicts(verdicts)
    views = group_runs(
        [trajectory_view(t, judged.get(t.id), max_text=max_text) for t in trajectories]
    )
    _refuse_strangers(judged, {v["id"] for v in views}, verdicts, "verdicts", corpus)
    return views


def _policies(
    datasets: Mapping[str, str | Path] | None,
    runs: Mapping[str, str | Path] | None,
    outcomes: Mapping[str, str],
    corpus: Any,
) -> dict[str, Any]:
    """Per policy: its dataset's token spans and accounting, and its train run's loss curve."""
    policies: dict[str, Any] = {}
    for policy, folder in (datasets or {}).items():
        rows = read_dataset_rows(folder)
        _refuse_strangers(
            [r["trajectory_id"] for r in rows], outcomes, folder, "dataset rows", corpus
        )
        policies[policy] = {"dataset": str(folder), **policy_tokens(rows, outcomes)}
    for policy, folder in (runs or {}).items():
        entry = policies.setdefault(policy, {"rows": {}, "by_outcome": {}, "dropped": {}})
        entry.update(_train_run(folder))
    return policies


def _train_run(folder: str | Path) -> dict[str, Any]:
    """A train run folder as the report shows it: where it is, its loss curve and `train.json`."""
    entry: dict[str, Any] = {"run": str(folder), "loss": loss_curve(read_metrics(folder))}
    train_json = Path(folder) / TRAIN_JSON
    if train_json.is_file():
        entry["train"] = _read_document(TRAIN_RUN, train_json)
    return entry


def _summary(views: list[dict[str, Any]], max_trajectories: int) -> dict[str, Any]:
    """The aggregates the summary and the charts draw, over every trajectory."""
    verdict_status = Counter(
        "none" if v["verdict"] is None else v["verdict"]["status"] for v in views
    )
    return {
        "trajectories": len(views),
        "steps": sum(len(v["steps"]) for v in views),
        "by_outcome": dict(Counter(v["outcome"] for v in views)),
        "verdicts": dict(verdict_status),
        "label_counts": label_counts(views),
        "labels_by_position": labels_by_position(views),
        "lengths": length_histogram(views),
        "runs": runs_summary(views),
        "browser_omitted": max(0, len(views) - max_trajectories),
    }


def embed_json(data: Any) -> str:
    """JSON that is safe inside a `<script>` block: no `<`, `>` or `&` can end or alter it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _asset(name: str) -> str:
    return resources.files("srft.report").joinpath(name).read_text(encoding="utf-8")


def _template() -> jinja2.Template:
    """`template.html` as jinja2 renders it: nothing escaped unless the template says so (the
    CSS, the JS and the data block go in verbatim; `embed_json` made the data safe), and the
    file's last newline kept."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("srft", "report"),
        autoescape=False,
        keep_trailing_newline=True,
    )
    # html.escape rather than jinja2's own escaping, which spells quotes differently.
    env.filters["escape_attr"] = html.escape
    env.filters["escape_text"] = functools.partial(html.escape, quote=False)
    return env.get_template("template.html")


def render_html(data: Mapping[str, Any]) -> str:
    """The report's HTML: template + inline CSS + inline JS + the data block."""
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'"
    )
    return _template().render(
        title=str(data.get("title", "SRFT report")),
        csp=csp,  # single quotes only, inside a "-quoted attribute
        css=_asset("report.css"),
        data=embed_json(data),
        script=script,
    )


def _refuse_strangers(
    ids: Iterable[str], corpus_ids: Collection[str], source: Any, what: str, corpus: Any
) -> None:
    """Refuse `what` from `source` when any of its trajectory ids is not in the corpus.

    Verdicts or a dataset made from another corpus would be shown beside trajectories they
    do not describe (or silently not at all); the count says how far apart the files are.
    """
    ids = list(ids)
    strangers = sorted({i for i in ids if i not in corpus_ids})
    if strangers:
        where = corpus if isinstance(corpus, str | Path) else "the corpus"
        raise ReportError(
            f"{source if isinstance(source, str | Path) else what}: {len(strangers)} of "
            f"{len(set(ids))} {what} are for trajectories not in {where}, e.g. "
            f"{strangers[0]!r} (made from another corpus?)"
        )


def write_report(output_html: str | Path, *, overwrite: bool = True, **inputs: Any) -> Path:
    """Write the self-contained report of `inputs` (the arguments of `collect_report_data`) to
    `output_html` and return its path. `overwrite`: False refuses an existing `output_html`
    (the CLI's default)."""
    try:
        check_output(output_html, kind="file", overwrite=overwrite)
    except OutputError as e:
        raise ReportError(str(e)) from e
    return write_text_atomic(output_html, render_html(collect_report_data(**inputs)))


__all__ = [
    "ReportError",
    "collect_report_data",
    "render_html",
    "write_report",
]
