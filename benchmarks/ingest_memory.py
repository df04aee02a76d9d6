"""Peak memory of `srft ingest`: all 250 Gemini trajectories vs 25 of them, side by side.

Streaming means memory does not grow with the number of trajectories, so the ratio of the two
peaks should be close to 1 (the goal: within 1.5x). Each size runs in a fresh subprocess and
reports three numbers:

- `traced`: peak of Python allocations during `ingest` (tracemalloc), the cleanest signal;
- `rss_growth`: peak resident memory (VmHWM) minus resident memory just before `ingest`;
- `rss_peak`: peak resident memory of the whole process (imports included).

One trajectory is held at a time, so the Python peak follows the *largest single trajectory* of
a set (the 250 include a 2x larger file than the first 25). To separate that from growth with
the count, each set's largest trajectory is also ingested alone: `count-driven` is the set's
traced peak minus that, i.e. what holding more trajectories costs.

Run: `python benchmarks/ingest_memory.py [path/to/mini-swe-agent-v1-gemini]`
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "trajectories"
GEMINI = DEFAULT / "mini-swe-agent-v1-gemini"

CHILD = r"""
import json, sys, tracemalloc
from pathlib import Path
from srft.corpus.ingest import ingest

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0

source, output = sys.argv[1], sys.argv[2]
before = status("VmRSS")
tracemalloc.start()
summary = ingest([source], output=Path(output))
_, traced = tracemalloc.get_traced_memory()
tracemalloc.stop()
peak = status("VmHWM")
print(json.dumps({"accepted": summary.accepted, "traced": traced,
                  "rss_growth": peak - before, "rss_peak": peak}))
"""


def first_ids(gemini: Path, n: int) -> list[str]:
    return sorted(p.name for p in (gemini / "trajs").iterdir())[:n]


def largest(gemini: Path, ids: list[str]) -> str:
    return max(ids, key=lambda i: (gemini / "trajs" / i / f"{i}.traj.json").stat().st_size)


def subset(gemini: Path, ids: list[str], root: Path, name: str) -> Path:
    """A folder of symlinks to some trajectories and their reports (no copying)."""
    folder = root / name
    for instance_id in ids:
        for kind in ("trajs", "logs"):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            (folder / kind / instance_id).symlink_to((gemini / kind / instance_id).resolve())
    return folder


def measure(folder: Path, root: Path) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(root / f"{folder.name}.jsonl")],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout)


def main() -> None:
    gemini = Path(sys.argv[1]) if len(sys.argv) > 1 else GEMINI
    if not (gemini / "trajs").is_dir():
        sys.exit(f"no Gemini trajectories at {gemini}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ids_small, ids_large = first_ids(gemini, 25), first_ids(gemini, 250)
        small = measure(subset(gemini, ids_small, root, "first-25"), root)
        large = measure(subset(gemini, ids_large, root, "all-250"), root)
        top_small = measure(subset(gemini, [largest(gemini, ids_small)], root, "top-25"), root)
        top_large = measure(subset(gemini, [largest(gemini, ids_large)], root, "top-250"), root)
    small["count-driven"] = small["traced"] - top_small["traced"]
    large["count-driven"] = large["traced"] - top_large["traced"]
    small["largest alone"], large["largest alone"] = top_small["traced"], top_large["traced"]
    mib = 1024 * 1024
    print(f"{'':14} {'25 trajs':>10} {'250 trajs':>10} {'ratio':>7}")
    for key in ("rss_peak", "rss_growth", "traced", "largest alone", "count-driven"):
        ratio = large[key] / small[key] if small[key] > 0 else float("nan")
        print(f"{key:14} {small[key] / mib:8.2f}MB {large[key] / mib:8.2f}MB {ratio:6.2f}x")
    print(f"accepted: {small['accepted']} and {large['accepted']} (goal: peak ratio <= 1.5x)")


if __name__ == "__main__":
    main()
