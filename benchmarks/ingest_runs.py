"""What several runs per instance cost `srft ingest`, side by side, per trajectory.

Three corpora built from the Gemini runs of ../shared/data (each run's task text gets a marker
so the copies are different runs, not exact duplicates):

- `1 run`: N instances, one run each, each with its harness report (the published layout);
- `4 runs, own reports`: the same N instances in 4 run folders, each folder with its own
  `logs/<instance>/report.json` (each label belongs to its run; no extra pass);
- `4 runs, one label file`: 4 runs per instance in one folder and one instance-keyed labels
  file (every label is ambiguous: settled to `unknown`, which needs the rewrite pass).

It prints microseconds per trajectory (best of 3) and the ratio to `1 run`: matching labels to
runs should cost little next to parsing and converting the trajectories (goal: <= 1.3x).

Run: `python benchmarks/ingest_runs.py [N instances, default 40]`
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from srft.corpus.ingest import ingest

GEMINI = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "trajectories"
) / "mini-swe-agent-v1-gemini"


def copy_run(instance: str, target: Path, marker: str) -> None:
    """One Gemini run written to `target`, its task text marked so it is a distinct run."""
    run = json.loads((GEMINI / "trajs" / instance / f"{instance}.traj.json").read_text())
    run["messages"][1]["content"] += f"\n[{marker}]"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(run))


def build(root: Path, instances: list[str]) -> dict[str, tuple[list[Path], list[Path]]]:
    """The three corpora: name -> (inputs, label files)."""
    one = root / "one"
    for i in instances:
        copy_run(i, one / "trajs" / i / f"{i}.traj.json", "run 0")
        shutil.copy(GEMINI / "logs" / i / "report.json", _mkdir(one / "logs" / i) / "report.json")
    own = root / "own"
    for k in range(4):
        for i in instances:
            copy_run(i, own / f"run-{k}" / "trajs" / i / f"{i}.traj.json", f"run {k}")
            logs = _mkdir(own / f"run-{k}" / "logs" / i)
            shutil.copy(GEMINI / "logs" / i / "report.json", logs / "report.json")
    shared = root / "shared"
    for k in range(4):
        for i in instances:
            copy_run(i, shared / f"{i}.{k}.traj.json", f"run {k}")
    labels = root / "labels.csv"
    rows = ["instance_id,resolved"]
    for i in instances:
        report = json.loads((GEMINI / "logs" / i / "report.json").read_text())
        rows.append(f"{i},{str(report['resolved']).lower()}")
    labels.write_text("\n".join(rows) + "\n")
    return {
        "1 run": ([one], []),
        "4 runs, own reports": ([own], []),
        "4 runs, one label file": ([shared], [labels]),
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def main() -> None:
    if not GEMINI.is_dir():
        sys.exit(f"{GEMINI} is absent")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    instances = sorted(p.name for p in (GEMINI / "trajs").iterdir())[:n]
    with tempfile.TemporaryDirectory() as tmp:
        corpora = build(Path(tmp), instances)
        base = None
        print(f"{'corpus':<24} {'runs':>6} {'us/run':>9} {'ratio':>6}  outcomes")
        for name, (inputs, labels) in corpora.items():
            best, summary = float("inf"), None
            for _ in range(3):
                start = time.perf_counter()
                summary = ingest(inputs, labels=labels, output=Path(tmp) / "corpus.jsonl")
                best = min(best, time.perf_counter() - start)
            assert summary is not None
            per_run = best / summary.accepted * 1e6
            base = base or per_run
            print(
                f"{name:<24} {summary.accepted:>6} {per_run:>9.0f} {per_run / base:>6.2f}  "
                f"{dict(summary.outcomes)}"
                + (
                    f", {len(summary.ambiguous_labels)} ambiguous"
                    if summary.ambiguous_labels
                    else ""
                )
            )


if __name__ == "__main__":
    main()
