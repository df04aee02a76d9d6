"""The toy experiment's results: its students, and the tables of `results.jsonl` records.

`toy_experiment.py` trains and evaluates; this module reads what it wrote (and what
`srft toy eval` writes) and turns it into the markdown tables of experiments/toy/NOTEBOOK.md. Records of
several folders merge by (training episodes, teacher, seed, step), so one process per student
and seed (the CPU recipe) still gives paired tables. Every interval comes twice: pooled over
seeds and cases (how sure we are about these students) and over seeds (how sure we are about
the policy).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

POLICIES: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    # student name: (build policy, verdicts: None, "true" or "rules", policy options)
    "sft": ("sft", None, {}),
    "rft": ("rft", None, {}),
    "srft-true": ("srft", "true", {}),
    "srft-rules": ("srft", "rules", {}),
    # Ablations of the masking (not trained unless named): rft's rows with the true mistakes
    # masked, and srft masking the true mistakes of resolved runs too.
    "rft-masked": ("srft-resolved-only", "true", {}),
    "srft-judged": ("srft", "true", {"judge_resolved": True}),
}

# The students of the issue's question, trained by default.
STUDENTS = ("sft", "rft", "srft-true", "srft-rules")

PAIRS = (
    ("rft", "sft"),
    ("srft-true", "sft"),
    ("srft-true", "rft"),
    ("srft-rules", "sft"),
    ("srft-rules", "rft"),
    ("rft-masked", "rft"),
    ("srft-judged", "srft-true"),
    ("srft-judged", "rft"),
    ("srft-judged", "rft-masked"),
)

# The differences `across` shows: the issue's question, then each masking ablation against rft.
ACROSS_PAIRS = (
    ("rft", "sft"),
    ("srft-true", "rft"),
    ("srft-rules", "rft"),
    ("rft-masked", "rft"),
    ("srft-judged", "rft"),
)


def paired_over_seeds(per_seed: list[tuple[list[Any], list[Any]]]) -> dict[str, Any]:
    """Paired difference of two students, given their per-case values in each seed (outcomes or
    probe margins, the same cases in every seed): pooled over seeds and cases, and over seeds.

    The pooled interval (`lo`, `hi`) treats every (seed, case) as independent: it says how sure
    we are about *these* students. The seed-level interval (`seed_lo`, `seed_hi`, a t interval
    over the per-seed mean differences) says how sure we are that the *policy* gives better
    students; with few seeds that disagree it is much wider.
    """
    from srft.evaluate.rollout_stats import paired_difference, seed_level_difference

    xs = [x for a, _ in per_seed for x in a]
    ys = [y for _, b in per_seed for y in b]
    diffs = [(sum(a) - sum(b)) / len(a) for a, b in per_seed]
    out = {**paired_difference(xs, ys), "seeds_positive": sum(d > 0 for d in diffs)}
    if len(diffs) > 1:
        seeds = seed_level_difference(diffs)
        out |= {"seed_lo": seeds["lo"], "seed_hi": seeds["hi"]}
    return out


def margin_difference(at: list[dict[str, Any]], probe: str, a: str, b: str) -> dict[str, Any]:
    """Paired difference of two students' probe margins (`paired_over_seeds`): every seed
    probes the same cases (they depend on the evaluation seed only)."""
    return paired_over_seeds(
        [
            (r["eval"]["probes"][a][probe]["margins"], r["eval"]["probes"][b][probe]["margins"])
            for r in at
        ]
    )


def _seed_interval(d: dict[str, Any]) -> str:
    """The seed-level interval of a `margin_difference`, or `-` with a single seed."""
    return f"[{d['seed_lo']:+.2f}, {d['seed_hi']:+.2f}]" if "seed_lo" in d else "-"


def _interval(d: dict[str, Any]) -> str:
    """`+m [lo, hi]` (pooled), then the seed-level interval."""
    return f"{d['diff']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}], seeds {_seed_interval(d)}"


def read_results(out: Path) -> list[dict[str, Any]]:
    """The records of an experiment folder's `results.jsonl` (none before the first)."""
    path = out / "results.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x]


def merged_results(outs: list[Path]) -> list[dict[str, Any]]:
    """The records of several experiment folders as one experiment.

    The CPU recipe trains one student per process and folder; records of the same (training
    episodes, teacher, seed, step) become one record holding all their students, paired again on
    their common evaluation episodes (`merge_evaluations` refuses evaluations on different
    episodes, or a student that two folders both trained).
    """
    from srft.toy.eval import merge_evaluations

    groups: dict[tuple[int, str, int, int], list[dict[str, Any]]] = {}
    for out in outs:
        for r in read_results(out):
            key = (r["train_episodes"], r["setting"], r["seed"], r["step"])
            groups.setdefault(key, []).append(r)
    merged = []
    for key in sorted(groups):
        group = groups[key]
        record = dict(group[0])
        if len(group) > 1:
            record["eval"] = merge_evaluations([r["eval"] for r in group])
            for part in ("datasets", "final_loss"):
                record[part] = {k: v for r in group for k, v in r[part].items()}
        merged.append(record)
    return merged


def students(record: dict[str, Any]) -> dict[str, Any]:
    """The students of a record (greedy mode: every evaluation has it)."""
    return record["eval"]["modes"]["greedy"]["students"]


def by_experiment(
    records: list[dict[str, Any]],
) -> dict[tuple[int, str], dict[int, dict[str, list[dict[str, Any]]]]]:
    """Per (training episodes, teacher), in step order, per student: the records of that step
    holding the student, for the steps that every seed that trained the student reached.

    One process per student and seed means students stop at different steps; a student is shown
    at a step only with all its seeds, so its mean never mixes seeds that got further.
    """
    out: dict[tuple[int, str], dict[int, dict[str, list[dict[str, Any]]]]] = {}
    for key in sorted({(r["train_episodes"], r["setting"]) for r in records}):
        mine = [r for r in records if (r["train_episodes"], r["setting"]) == key]
        seeds_of = {
            name: {r["seed"] for r in mine if name in students(r)}
            for name in POLICIES
            if any(name in students(r) for r in mine)
        }
        steps: dict[int, dict[str, list[dict[str, Any]]]] = {}
        for step in sorted({r["step"] for r in mine}):
            at = sorted((r for r in mine if r["step"] == step), key=lambda r: r["seed"])
            have = {n: [r for r in at if n in students(r)] for n in seeds_of}
            complete = {n: rs for n, rs in have.items() if {r["seed"] for r in rs} == seeds_of[n]}
            if complete:
                steps[step] = complete
        out[key] = steps
    return out


def both(have: dict[str, list[dict[str, Any]]], a: str, b: str) -> list[dict[str, Any]]:
    """The records (seeds) that hold both students: the ones that pair."""
    seeds = {r["seed"] for r in have.get(b, [])}
    return [r for r in have.get(a, []) if r["seed"] in seeds and b in students(r)]


def success_difference(at: list[dict[str, Any]], mode: str, a: str, b: str) -> dict[str, Any]:
    """Paired success difference of two students on the same episodes (`paired_over_seeds`)."""
    return paired_over_seeds(
        [
            (
                r["eval"]["modes"][mode]["students"][a]["outcomes"],
                r["eval"]["modes"][mode]["students"][b]["outcomes"],
            )
            for r in at
        ]
    )


def latest_full_step(
    by_step: dict[int, dict[str, list[dict[str, Any]]]],
) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    """The latest step that every student reached (with all its seeds), else the latest step."""
    names = set().union(*by_step.values())
    full = [s for s, have in by_step.items() if set(have) == names]
    step = max(full or by_step)
    return step, by_step[step]


def learning_curves(
    records: list[dict[str, Any]], mode: str = "greedy", measure: str = "success"
) -> str:
    """A measure averaged over every evaluation up to the last step all students reached (the
    area under the learning curve, per step), per student and seed, with paired differences over
    seeds. The measure is success, or the share of episodes showing a rung of the skill ladder
    (`edit_right_line`: the file copy).

    Each copy skill appears at a step that varies by thousands of steps between policies and
    seeds, so a comparison at one step can flip with where training stopped; the mean over the
    curve asks which policy gets there sooner and stays there. The same for a rung asks which
    policy learns that copy sooner, where no student solves episodes yet.
    """
    from srft.evaluate.rollout_stats import seed_level_difference
    from srft.toy.rollout import SKILLS

    if measure != "success" and measure not in SKILLS:
        raise ValueError(f"unknown measure {measure!r}: success or one of {', '.join(SKILLS)}")
    what = f"{mode} success" if measure == "success" else f"{mode} {measure} share"

    def value(student: dict[str, Any]) -> float:
        return student["success"]["rate"] if measure == "success" else student["skills"][measure]

    lines = [
        f"| episodes | teacher | steps | student | seeds | mean {what} over the steps | per seed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    pairs = [
        f"| episodes | teacher | pair | seeds | mean difference, {what} | 95% CI over seeds "
        "| seeds where > 0 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (episodes, setting), by_step in by_experiment(records).items():
        if not by_step:
            continue
        last, have = latest_full_step(by_step)
        steps = [s for s in by_step if s <= last and set(by_step[s]) == set(have)]
        area: dict[str, dict[int, float]] = {}  # student -> seed -> mean of the measure
        for name in have:
            for seed in (r["seed"] for r in have[name]):
                rates = [
                    value(r["eval"]["modes"][mode]["students"][name])
                    for s in steps
                    for r in by_step[s][name]
                    if r["seed"] == seed
                ]
                area.setdefault(name, {})[seed] = sum(rates) / len(rates)
        span = f"{steps[0]}-{steps[-1]} ({len(steps)})"
        for name, per_seed in area.items():
            mean = sum(per_seed.values()) / len(per_seed)
            cells = ", ".join(f"{v:.1%}" for v in per_seed.values())
            lines.append(
                f"| {episodes} | {setting} | {span} | {name} | {len(per_seed)} | {mean:.1%} "
                f"| {cells} |"
            )
        for a, b in PAIRS:
            if a not in area or b not in area:
                continue
            diffs = [area[a][k] - area[b][k] for k in area[a] if k in area[b]]
            if not diffs:
                continue
            mean = sum(diffs) / len(diffs)
            ci = "-"
            if len(diffs) > 1:
                d = seed_level_difference(diffs)
                ci = f"[{d['lo']:+.1%}, {d['hi']:+.1%}]"
            pairs.append(
                f"| {episodes} | {setting} | {a} - {b} | {len(diffs)} | {mean:+.1%} | {ci} "
                f"| {sum(x > 0 for x in diffs)} of {len(diffs)} |"
            )
    return "\n".join(lines) + "\n\n" + "\n".join(pairs)


def _head(columns: list[str]) -> list[str]:
    return [_row(columns), _row(["---"] * len(columns))]


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def across(records: list[dict[str, Any]]) -> str:
    """One compact table over experiments (e.g. different amounts of data, or teachers).

    Per (training episodes, teacher): the latest step every student reached; the `first_hit`
    and `after_wrong_edit` probe margins per student, and the paired margin differences that
    carry the question (`ACROSS_PAIRS`) with 95% intervals; greedy and T=1 success pooled over
    seeds. Only the students in `records` get columns.
    """
    from srft.toy.eval import wilson

    shown = [n for n in POLICIES if any(n in students(r) for r in records)]
    against = [(a, b) for a, b in ACROSS_PAIRS if a in shown and b in shown]
    lines = _head(["episodes", "teacher", "step", "seeds", "probe", *shown]
                  + [f"{a} - {b}" for a, b in against])  # fmt: skip
    success = _head(["episodes", "teacher", "step", "mode", *shown])
    for (episodes, setting), by_step in by_experiment(records).items():
        if not by_step:
            continue
        step, have = latest_full_step(by_step)
        first = next(iter(have.values()))[0]
        seeds = "/".join(str(len(have[n])) if n in have else "-" for n in shown)
        probed = first["eval"]["probes"]  # empty when run with --probes 0
        for probe in next(iter(probed.values())) if probed else ():
            means = [
                f"{sum(r['eval']['probes'][n][probe]['margin'] for r in have[n]) / len(have[n]):+.2f}"
                if n in have
                else "-"
                for n in shown
            ]
            diffs = []
            for a, b in against:
                paired = both(have, a, b)
                if not paired or "margins" not in paired[0]["eval"]["probes"][a][probe]:
                    diffs.append("-")  # not trained together, or written before margins were kept
                    continue
                diffs.append(_interval(margin_difference(paired, probe, a, b)))
            lines.append(_row([episodes, setting, step, seeds, probe, *means, *diffs]))
        for mode in first["eval"]["modes"]:
            cells = []
            for n in shown:
                if n not in have:
                    cells.append("-")
                    continue
                k = sum(r["eval"]["modes"][mode]["students"][n]["success"]["k"] for r in have[n])
                m = sum(r["eval"]["modes"][mode]["students"][n]["success"]["n"] for r in have[n])
                lo, hi = wilson(k, m)
                cells.append(f"{k / m:.1%} [{lo:.1%}, {hi:.1%}]")
            success.append(
                f"| {episodes} | {setting} | {step} | {mode} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n\n" + "\n".join(success)


def decision_signal(out: Path) -> str:
    """What each policy trains at the decisions that matter, counted in the built datasets.

    Per policy (over every setting and seed prepared under `out`): trained steps by true label;
    at the *wrong-first* decision (the first edit after a `grep` whose first hit is not the
    issue's line) how many trained examples edit the first hit vs the right line; how many
    trained steps follow a wrong edit (recoveries and submits of a wrong state); and trained
    tokens per step.
    """
    from srft.dataset.build import load_dataset_folder
    from srft.files.verdicts import load_verdicts
    from srft.toy.env import make_episode

    lines = [
        "| setting | policy | rows | trained steps: good / unnecessary / mistake / recover "
        "| wrong-first decision trained: first hit / right line | trained steps after a wrong edit "
        "| trained edits per 100 rows: right / right line, wrong value / other | trained tokens |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for setting_dir in sorted(p for p in out.iterdir() if any(p.glob("data-*"))):
        for name in POLICIES:
            counts = {"good": 0, "unnecessary": 0, "mistake": 0, "recover": 0}
            first = right = after_wrong = rows = tokens = 0
            edits = {"right": 0, "wrong value": 0, "other": 0}  # what trained edits copy
            for seed_dir in sorted(setting_dir.glob("data-*")):
                folder = seed_dir / "datasets" / name
                if not (folder / "build.json").exists():
                    continue
                truth = load_verdicts(seed_dir / "data" / "labels.jsonl")
                runs = {
                    p.parent.name: p for p in (seed_dir / "data" / "trajs").glob("*/*.traj.json")
                }
                for row in load_dataset_folder(folder):
                    rows += 1
                    tokens += row["num_trained"]
                    tid = row["trajectory_id"]
                    labels = truth[tid].labels()
                    _, level, seed = tid.rsplit("-", 2)
                    episode = make_episode(int(seed), int(level))
                    messages = json.loads(runs[tid].read_text())["messages"]
                    commands = [
                        m["content"].split("```bash\n")[1].split("\n```")[0]
                        for m in messages
                        if m["role"] == "assistant"
                    ]
                    right_line = f"{episode.target_file}:{episode.target_key} = {episode.old_value}"
                    wrong_first = False
                    seen_edit = seen_wrong = False
                    for step, cmd, label in zip(row["steps"], commands, labels, strict=True):
                        if step["trained"]:
                            counts[label] += 1
                            after_wrong += seen_wrong
                        if cmd.startswith("grep ") and not seen_edit:
                            obs = messages[2 + 2 * step["index"] + 1]["content"]
                            hits = (
                                obs.split("<output>\n", 1)[-1].split("\n</output>")[0].splitlines()
                            )
                            wrong_first = bool(hits) and hits[0] != right_line
                        parts = cmd.split()
                        if parts[:1] != ["edit"] or len(parts) != 4:
                            continue
                        _, f, k, v = parts
                        line = f == episode.target_file and k == episode.target_key
                        if step["trained"]:
                            kind = "right" if v == episode.new_value else "wrong value"
                            edits[kind if line else "other"] += 1
                        if not seen_edit:
                            seen_edit = True
                            if wrong_first and step["trained"]:
                                right += line
                                first += not line
                            seen_wrong = label == "mistake"
            if rows:
                lines.append(
                    f"| {setting_dir.name} | {name} | {rows} | "
                    f"{counts['good']} / {counts['unnecessary']} / {counts['mistake']} / {counts['recover']} | "
                    f"{first} / {right} | {after_wrong} | "
                    + " / ".join(f"{100 * n / rows:.0f}" for n in edits.values())
                    + f" | {tokens} |"
                )
    return "\n".join(lines)


def step_signal(out: Path) -> str:
    """Per policy: tokens and trained tokens per optimizer step, and the last logged loss.

    Equal optimizer steps do not mean equal training signal: the loss of a step is the mean over
    its trained tokens, so a policy that masks more (or keeps fewer trajectories) spreads each
    step's update over fewer tokens. Read from the runs' own `metrics.jsonl`.
    """
    lines = [
        "| setting | policy | runs | tokens / step | trained tokens / step | trained share "
        "| loss, last 50 steps |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for setting_dir in sorted(p for p in out.iterdir() if any(p.glob("seed-*"))):
        for name in POLICIES:
            runs = sorted(setting_dir.glob(f"seed-*/runs/{name}/metrics.jsonl"))
            tokens = trained = steps = 0
            tail: list[float] = []
            for path in runs:
                rows = [json.loads(x) for x in path.read_text().splitlines() if x]
                steps += len(rows)
                tokens += sum(r["tokens"] for r in rows)
                trained += sum(r["trained_tokens"] for r in rows)
                tail += [r["loss"] for r in rows[-50:]]
            if steps:
                lines.append(
                    f"| {setting_dir.name} | {name} | {len(runs)} | {tokens / steps:.0f} | "
                    f"{trained / steps:.0f} | {trained / tokens:.1%} | "
                    f"{sum(tail) / len(tail):.3f} |"
                )
    return "\n".join(lines)


def critic_agreement(out: Path) -> str:
    """How well the rules critic finds the true `mistake` steps (precision, recall, F1)."""
    from srft.files.verdicts import load_verdicts

    lines = [
        "| setting | true mistakes | rules mistakes | precision | recall | F1 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for setting_dir in sorted(
        p for p in out.iterdir() if any(p.glob("data-*/rules.verdicts.jsonl"))
    ):
        tp = fp = fn = 0
        for seed_dir in sorted(setting_dir.glob("data-*")):
            truth = load_verdicts(seed_dir / "data" / "labels.jsonl")
            rules = load_verdicts(seed_dir / "rules.verdicts.jsonl")
            for tid, verdict in truth.items():
                for t, r in zip(verdict.labels(), rules[tid].labels(), strict=True):
                    tp += t == "mistake" and r == "mistake"
                    fp += t != "mistake" and r == "mistake"
                    fn += t == "mistake" and r != "mistake"
        precision = tp / max(1, tp + fp)
        recall = tp / max(1, tp + fn)
        f1 = 2 * precision * recall / max(1e-9, precision + recall)
        lines.append(
            f"| {setting_dir.name} | {tp + fn} | {tp + fp} | {precision:.2f} | "
            f"{recall:.2f} | {f1:.2f} |"
        )
    return "\n".join(lines)


def summarise(records: list[dict[str, Any]]) -> str:
    """Markdown tables of every step: per student over the seeds that trained it, success and
    probes; per pair of students over the seeds that trained both, paired differences."""
    from srft.toy.eval import wilson

    lines: list[str] = []
    for (episodes, setting), by_step in by_experiment(records).items():
        for step, have in by_step.items():
            first = next(iter(have.values()))[0]
            for mode in first["eval"]["modes"]:
                lines.append(
                    f"\n**{episodes} episodes, {setting} teacher, step {step}, {mode}** "
                    f"({first['eval']['episodes']} episodes per seed)\n"
                )
                lines.append(
                    "| student | seeds | success (pooled) | 95% Wilson | per seed | L1 / L2 / L3 "
                    "| errors/step | wrong-edit episodes |"
                )
                lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
                for name, at in have.items():
                    k = n = 0
                    per_seed, lv, err, wrong = [], {"1": [0, 0], "2": [0, 0], "3": [0, 0]}, [], []
                    for r in at:
                        st = r["eval"]["modes"][mode]["students"][name]
                        k += st["success"]["k"]
                        n += st["success"]["n"]
                        per_seed.append(f"{st['success']['rate']:.0%}")
                        for level, v in st["per_level"].items():
                            lv[level][0] += v["k"]
                            lv[level][1] += v["n"]
                        err.append(st["error_rate"])
                        wrong.append(st["wrong_edit_episodes"])
                    lo, hi = wilson(k, n)
                    levels = " / ".join(f"{a / b:.0%}" if b else "-" for a, b in lv.values())
                    lines.append(
                        f"| {name} | {len(at)} | {k / n:.1%} | [{lo:.1%}, {hi:.1%}] | "
                        f"{', '.join(per_seed)} | {levels} | {sum(err) / len(err):.2f} | "
                        f"{sum(wrong) / len(wrong):.1%} |"
                    )
                probed = mode == "greedy" and all(
                    r["eval"].get("probes") for rs in have.values() for r in rs
                )
                if probed:
                    lines.append(
                        "\n| decision probe | student | prefers right (mean over seeds) "
                        "| per seed | margin, nats (mean) | per seed |"
                    )
                    lines.append("| --- | --- | --- | --- | --- | --- |")
                    for probe in first["eval"]["probes"][next(iter(first["eval"]["probes"]))]:
                        for name, at in have.items():
                            vals = [r["eval"]["probes"][name][probe] for r in at]
                            pr = [v["prefers_right"] for v in vals]
                            mg = [v["margin"] for v in vals]
                            lines.append(
                                f"| {probe} (n={vals[0]['n']}) | {name} | {sum(pr) / len(pr):.0%} | "
                                f"{', '.join(f'{x:.0%}' for x in pr)} | {sum(mg) / len(mg):+.2f} | "
                                f"{', '.join(f'{x:+.1f}' for x in mg)} |"
                            )
                pairs = [(a, b, both(have, a, b)) for a, b in PAIRS]
                pairs = [(a, b, at) for a, b, at in pairs if at]
                if probed and pairs:
                    lines.append(
                        "\n| decision probe: paired margin difference, nats | seeds | mean "
                        "| 95% CI, seeds and cases pooled | 95% CI over seeds | seeds where > 0 |"
                    )
                    lines.append("| --- | --- | --- | --- | --- | --- |")
                    for probe in first["eval"]["probes"][next(iter(first["eval"]["probes"]))]:
                        for a, b, at in pairs:
                            if "margins" not in at[0]["eval"]["probes"][a][probe]:
                                continue  # results written before margins were kept
                            d = margin_difference(at, probe, a, b)
                            lines.append(
                                f"| {probe}: {a} - {b} | {len(at)} | {d['diff']:+.2f} | "
                                f"[{d['lo']:+.2f}, {d['hi']:+.2f}] | {_seed_interval(d)} | "
                                f"{d['seeds_positive']} of {len(at)} |"
                            )
                pairs = [(a, b, at) for a, b, at in pairs if "outcomes" in students(at[0])[a]]
                if pairs:  # (results written before outcomes were kept do not pair)
                    lines.append(
                        "\n| paired success difference | seeds | mean | 95% CI, seeds and "
                        "episodes pooled | 95% CI over seeds | seeds where > 0 |"
                    )
                    lines.append("| --- | --- | --- | --- | --- | --- |")
                    for a, b, at in pairs:
                        d = success_difference(at, mode, a, b)
                        over_seeds = (
                            f"[{d['seed_lo']:+.1%}, {d['seed_hi']:+.1%}]" if "seed_lo" in d else "-"
                        )
                        lines.append(
                            f"| {a} - {b} | {len(at)} | {d['diff']:+.1%} | "
                            f"[{d['lo']:+.1%}, {d['hi']:+.1%}] | {over_seeds} | "
                            f"{d['seeds_positive']} of {len(at)} |"
                        )
    return "\n".join(lines)


def eval_records(files: list[Path], episodes: int, setting: str, step: int) -> list[dict[str, Any]]:
    """`srft toy eval` results as experiment records, one per training seed, so the final
    evaluation gets the tables (and seed-level intervals) of `summarise`.

    The seed is read from the students' run paths (`.../seed-N/...`, as this script lays them
    out), else it is the file's position; the files of one seed are merged (one file per student
    is fine). Training episodes, teacher and step are the caller's labels.
    """
    from srft.toy.eval import merge_evaluations

    by_seed: dict[int, list[dict[str, Any]]] = {}
    for i, f in enumerate(files):
        ev = json.loads(f.read_text())
        seeds = {
            int(m.group(1))
            for path in ev.get("models", {}).values()
            if (m := re.search(r"seed-(\d+)", str(path)))
        }
        if len(seeds) > 1:
            sys.exit(f"{f}: students of seeds {sorted(seeds)}; evaluate one seed per file")
        by_seed.setdefault(seeds.pop() if seeds else i, []).append(ev)
    return [
        {
            "train_episodes": episodes,
            "setting": setting,
            "seed": seed,
            "step": step,
            "eval": merge_evaluations(evs),
        }
        for seed, evs in sorted(by_seed.items())
    ]


def skill_ladder(records: list[dict[str, Any]]) -> str:
    """Per student and rung of the skill ladder: how many students (seeds) are past it.

    A rung (`EpisodeRollout.skills`) comes all at once: a student shows it in 0-20% of its
    episodes or in 80-100%. So the measure is the number of students past each rung (at least
    half of their episodes), with a 95% Wilson interval over a policy's students; the per-seed
    shares follow.
    """
    from srft.evaluate.rollout_stats import wilson
    from srft.toy.rollout import SKILLS

    lines = [
        "| mode | student | " + " | ".join(SKILLS) + " | success |",
        "| --- | --- | " + " | ".join("---" for _ in SKILLS) + " | --- |",
    ]
    shares = [
        "| mode | student | rung | share of episodes, per seed |",
        "| --- | --- | --- | --- |",
    ]
    for mode in records[0]["eval"]["modes"]:
        for name in (n for n in POLICIES if any(n in students(r) for r in records)):
            got = [
                r["eval"]["modes"][mode]["students"][name] for r in records if name in students(r)
            ]
            n = len(got)
            cells = []
            for rung in SKILLS:
                past = sum(g["skills"][rung] >= 0.5 for g in got)
                lo, hi = wilson(past, n)
                cells.append(f"{past} of {n} [{lo:.0%}, {hi:.0%}]")
                per_seed = ", ".join(f"{g['skills'][rung]:.0%}" for g in got)
                shares.append(f"| {mode} | {name} | {rung} | {per_seed} |")
            k = sum(g["success"]["k"] for g in got)
            m = sum(g["success"]["n"] for g in got)
            cells.append(f"{k}/{m}")
            lines.append(f"| {mode} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(shares)


def skills_by_step(records: list[dict[str, Any]]) -> str:
    """Per student and evaluation step, greedy: the share of episodes showing each rung of the
    skill ladder and the successes, over the student's seeds (a rung shows when a copy is
    learned, and long runs are read by when each one comes)."""
    from srft.toy.rollout import SKILLS

    lines = [
        "| episodes | teacher | student | step | seeds | " + " | ".join(SKILLS) + " | success |",
        "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in SKILLS) + " | --- |",
    ]
    for (episodes, setting), by_step in by_experiment(records).items():
        for name in POLICIES:
            for step, have in by_step.items():
                if name not in have:
                    continue
                got = [students(r)[name] for r in have[name]]
                rungs = [sum(g["skills"][s] for g in got) / len(got) for s in SKILLS]
                k = sum(g["success"]["k"] for g in got)
                m = sum(g["success"]["n"] for g in got)
                lines.append(
                    f"| {episodes} | {setting} | {name} | {step} | {len(got)} | "
                    + " | ".join(f"{x:.0%}" for x in rungs)
                    + f" | {k}/{m} |"
                )
    return "\n".join(lines)


def copy_steps(records: list[dict[str, Any]]) -> str:
    """Per student and seed: the first evaluation step at which each rung of the skill ladder
    shows in at least half of the greedy episodes (`>N`: not by the last step evaluated, N).

    A rung comes all at once, so its step is a student's sharpest fact; comparing policies on
    these steps over seeds says which learns each copy sooner, which one fixed step cannot.
    """
    from srft.toy.rollout import SKILLS

    lines = [
        "| episodes | teacher | student | seed | " + " | ".join(SKILLS) + " | success by step |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in SKILLS) + " | --- |",
    ]
    for (episodes, setting), by_step in by_experiment(records).items():
        for name in POLICIES:
            curve: dict[int, list[tuple[int, dict[str, Any]]]] = {}
            for step, have in by_step.items():
                for r in have.get(name, []):
                    curve.setdefault(r["seed"], []).append((step, students(r)[name]))
            for seed, points in sorted(curve.items()):
                cells = [
                    next(
                        (str(step) for step, g in points if g["skills"][rung] >= 0.5),
                        f">{points[-1][0]}",
                    )
                    for rung in SKILLS
                ]
                rates = " ".join(f"{g['success']['rate']:.0%}" for _, g in points)
                lines.append(
                    f"| {episodes} | {setting} | {name} | {seed} | "
                    + " | ".join(cells)
                    + f" | {rates} |"
                )
    return "\n".join(lines)
