"""How long the embedded demo takes and how much memory it holds, stage by stage.

    python benchmarks/demo_time.py [--dir FOLDER] [--cold]

Runs `srft demo` in a fresh folder (the README's first command after setup), then once more to
show that a rerun with nothing changed does no work. For every stage it prints wall seconds,
CPU seconds and peak resident memory (the kernel's high-water mark, reset at each stage start
through /proc/self/clear_refs), then one summary line, which the README quotes:

    demo (warm caches): wall <W> s, cpu <C> s, peak RSS <R> GB on <N> CPU cores

CPU seconds and peak RSS hardly depend on other work on the machine; wall time does, so the
line says how many cores the process could use. `--cold` first empties srft's model cache (a
temporary SRFT_CACHE), so the bundled SmolLM2 is converted from its GGUF as on the first run
after setup. Budget (issue 23): <= 90 s warm, <= 5 min cold, <= 1.5 GB peak RSS on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SUMMARY = (
    "demo ({caches}): wall {wall:.1f} s, cpu {cpu:.1f} s, peak RSS {rss:.2f} GB "
    "on {cores} CPU cores"
)
# What the README's quoted line must look like (tests/pipeline/test_demo_docs.py checks it).
SUMMARY_PATTERN = re.compile(
    r"demo \((warm caches|cold caches)\): wall (\d+\.\d) s, cpu (\d+\.\d) s, "
    r"peak RSS (\d+\.\d\d) GB on (\d+) CPU cores"
)


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_gb() -> float:
    """Peak resident memory since the last reset (VmHWM), in GB (10^9 bytes)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


@dataclass
class StageMeter:
    """Per-stage wall, CPU and peak RSS, driven by the runner's `[run] key` / `[done] key` log."""

    rows: list[tuple[str, float, float, float]] = field(default_factory=list)
    overall_rss: float = 0.0
    _open: tuple[str, float, float] | None = None

    def log(self, message: str) -> None:
        started = re.match(r"\[(run|resume)\] (\S+)$", message)
        if started:
            reset_peak_rss()
            self._open = (started.group(2), time.perf_counter(), cpu_seconds())
        elif message.startswith("[done] ") and self._open is not None:
            key, t0, c0 = self._open
            rss = peak_rss_gb()
            self.overall_rss = max(self.overall_rss, rss)
            self.rows.append((key, time.perf_counter() - t0, cpu_seconds() - c0, rss))
            self._open = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="demo folder (default: a temp dir)")
    parser.add_argument(
        "--cold", action="store_true", help="start with an empty srft model cache (first run)"
    )
    args = parser.parse_args()
    if args.cold:
        os.environ["SRFT_CACHE"] = tempfile.mkdtemp(prefix="srft-cache-")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="srft-demo-"))
    cores = len(os.sched_getaffinity(0))

    from srft.pipeline.run import run_demo  # after SRFT_CACHE is set

    meter = StageMeter()
    reset_peak_rss()
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = run_demo(folder, log=meter.log)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0

    t1 = time.perf_counter()
    again = run_demo(folder, log=lambda m: None)
    rerun = time.perf_counter() - t1

    print(f"demo folder: {folder}")
    print(f"  {'stage':<16} {'wall s':>8} {'cpu s':>8} {'peak RSS GB':>12}")
    for key, w, c, rss in meter.rows:
        print(f"  {key:<16} {w:8.1f} {c:8.1f} {rss:12.2f}")
    caches = "cold caches" if args.cold else "warm caches"
    # The whole run's peak: the highest stage peak, and the run's start-up (imports, config).
    overall = max(meter.overall_rss, peak_rss_gb())
    print(SUMMARY.format(caches=caches, wall=wall, cpu=cpu, rss=overall, cores=cores))
    print(f"rerun: wall {rerun:.1f} s, stages that did work: {again.ran or 'none'}")
    print(f"report: {result.report}")


if __name__ == "__main__":
    main()
