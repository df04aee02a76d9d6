"""How long the embedded demo takes, stage by stage, and how little a rerun costs.

    python benchmarks/demo_time.py [--dir FOLDER]

Runs `srft demo` in a fresh folder (the README's first command after setup), then runs it again.
Prints each stage's seconds from the manifest, the wall-clock and CPU seconds of the whole run
(CPU seconds tell what it would take on an idle machine when the cores are shared), and the
ratio of the first run's wall time to the no-op rerun's. The issue's budget: <= 15 minutes on
2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from srft.pipeline.run import run_demo


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="demo folder (default: a temp dir)")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="srft-demo-"))

    t0, c0 = time.perf_counter(), cpu_seconds()
    result = run_demo(folder, log=lambda m: None)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0

    t1 = time.perf_counter()
    again = run_demo(folder, log=lambda m: None)
    rerun = time.perf_counter() - t1

    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    print(f"demo folder: {folder}")
    for key, record in manifest["stages"].items():
        print(f"  {key:<16} {record['seconds']:8.1f} s")
    print(f"first run:   wall {wall:7.1f} s   cpu {cpu:7.1f} s   (budget: 900 s on 2 cores)")
    print(f"rerun:       wall {rerun:7.1f} s   stages that did work: {again.ran or 'none'}")
    print(f"ratio first/rerun: {wall / rerun:.0f}x")
    print(f"report: {result.report}")


if __name__ == "__main__":
    main()
