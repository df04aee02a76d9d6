"""The pipeline at corpus scale: 50,000 synthetic runs through ingest, stats, critic and build.

A synthetic corpus is generated whose shape follows the real runs in ../shared/data:

- step counts are drawn from the real trajectories' step counts (their empirical distribution);
- every message's length is drawn from the real lengths of its role (system, task, assistant
  text, tool-call command, observation), divided by `--shrink` (default 10, so the run takes
  minutes on 2 cores; the output says so: token-bound stages such as build are then about 10x
  faster per trajectory than on real runs, the per-record stages much less);
- 4 runs per instance (`id` = instance + run number, `instance_id` shared), about a third
  resolved; some observations are tool errors, so the rules critic has something to mask.

Records are OpenAI-style chat rows (the SWE-Gym shape), 1,000 per JSONL file. Each stage runs
in its own child process at two corpus sizes (`--small`, default 5,000, and `--trajectories`,
default 50,000) and the script prints, side by side:

- trajectories per second for each stage (ingest, stats, rules critic, build with 1 and 2
  worker processes);
- the peak resident memory (VmHWM) of each stage at both sizes, and their ratio (goal: at
  most 1.5x, i.e. memory flat in corpus size);
- the build speed-up from 2 workers (goal: at least 1.7x on 2 idle cores).

    python benchmarks/corpus_scale.py                      # 5,000 and 50,000 (minutes)
    python benchmarks/corpus_scale.py --trajectories 5000 --small 500   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "trajectories"
RUNS_PER_INSTANCE = 4
ROWS_PER_FILE = 1000
WORDS = [
    "the",
    "a",
    "of",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "on",
    "with",
    "as",
    "was",
    "be",
    "by",
    "this",
    "are",
    "file",
    "def",
    "return",
    "self",
    "import",
    "from",
    "class",
    "if",
    "not",
    "none",
    "test",
    "error",
    "value",
    "path",
    "line",
    "assert",
    "print",
    "args",
    "os",
    "sys",
    "list",
    "dict",
    "str",
    "int",
    "fix",
    "bug",
    "patch",
    "diff",
    "call",
    "function",
    "module",
    "line",
    "check",
    "expected",
    "got",
    "raise",
    "true",
    "false",
]


# -- the real distribution ----------------------------------------------------------------------


def real_distribution(shared: Path, tmp: Path) -> dict[str, list[int]]:
    """Step counts and per-role message lengths (characters) of the runs in `shared`."""
    from srft.corpus.ingest import ingest
    from srft.files.corpus import CORPUS

    corpus = tmp / "real.jsonl"
    ingest([shared], output=corpus, skip_invalid=True)
    dist: dict[str, list[int]] = {k: [] for k in ("steps", "system", "task", "say", "cmd", "obs")}
    for t in CORPUS.read(corpus):
        dist["steps"].append(len(t.steps))
        for n, m in enumerate(t.messages):
            if m.role == "system":
                dist["system"].append(len(m.content))
            elif m.role == "user" and n <= 1:
                dist["task"].append(len(m.content))
            elif m.role == "assistant":
                dist["say"].append(len(m.content) + len(m.reasoning or ""))
                for c in m.tool_calls:
                    dist["cmd"].append(len(json.dumps(c.arguments)))
            else:
                dist["obs"].append(len(m.content))
    return {k: [x for x in v if x >= 0] or [1] for k, v in dist.items()}


# -- the synthetic corpus -----------------------------------------------------------------------


def text(rng: random.Random, chars: int) -> str:
    """About `chars` characters of word-like text (tokenizes like prose, not like one run)."""
    out: list[str] = []
    size = 0
    while size < chars:
        word = WORDS[rng.randrange(len(WORDS))]
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[: max(chars, 1)]


def synthetic_row(n: int, rng: random.Random, dist: dict[str, list[int]], shrink: int) -> dict:
    """Run `n`: instance n // 4, its run number n % 4."""

    def length(kind: str) -> int:
        return max(1, rng.choice(dist[kind]) // shrink)

    instance = f"synth__repo-{n // RUNS_PER_INSTANCE}"
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": text(rng, length("system"))},
        {"role": "user", "content": text(rng, length("task"))},
    ]
    for step in range(max(1, rng.choice(dist["steps"]))):
        call_id = f"call_{step}"
        command = text(rng, length("cmd"))
        messages.append(
            {
                "role": "assistant",
                "content": text(rng, length("say")),
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": "bash",
                            "arguments": json.dumps({"command": command}),
                        },
                    }
                ],
            }
        )
        failed = rng.random() < 0.15
        observation = text(rng, length("obs"))
        if failed:
            observation = f"Traceback (most recent call last):\n{observation}\nError: failed"
        code = 1 if failed else 0
        messages.append(
            {
                "role": "tool",
                "tool_call_id": call_id,
                "content": f"{observation}\n[Command finished with exit code {code}]",
            }
        )
    return {
        "id": f"{instance}__run{n % RUNS_PER_INSTANCE}",
        "instance_id": instance,
        "resolved": rng.random() < 0.35,
        "messages": messages,
    }


def write_corpus_files(
    folder: Path, count: int, dist: dict[str, list[int]], shrink: int, seed: int
) -> int:
    """`count` synthetic runs as JSONL files of ROWS_PER_FILE rows; returns the bytes written."""
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    written = 0
    for start in range(0, count, ROWS_PER_FILE):
        path = folder / f"runs-{start // ROWS_PER_FILE:05d}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for n in range(start, min(start + ROWS_PER_FILE, count)):
                f.write(json.dumps(synthetic_row(n, rng, dist, shrink)) + "\n")
        written += path.stat().st_size
    return written


# -- the stages, each in a child process ---------------------------------------------------------

CHILD = r"""
import json, resource, sys, time
from pathlib import Path

def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0

stage, args = sys.argv[1], json.loads(sys.argv[2])
if stage == "build":  # import the heavy libraries before the clock starts
    import datasets, transformers
    from srft.dataset.build import build_dataset
    datasets.disable_progress_bars()
own0 = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = own0.ru_utime + own0.ru_stime
start = time.perf_counter()
if stage == "ingest":
    from srft.corpus.ingest import ingest
    s = ingest([args["inputs"]], output=Path(args["output"]))
    done = s.accepted
elif stage == "stats":
    from srft.corpus.stats import compute_stats
    done = compute_stats(Path(args["corpus"])).total.to_dict()["trajectories"]
elif stage == "critic":
    from srft.critic.run import run_critic
    done = run_critic(args["corpus"], args["output"], "rules")["trajectories"]["read"]
elif stage == "build":
    s = build_dataset(Path(args["corpus"]), Path(args["verdicts"]), policy="srft",
                      tokenizer=args["tokenizer"], output=Path(args["output"]),
                      max_length=10**7, num_proc=args["num_proc"])
    done = s.counts["read"]
own = resource.getrusage(resource.RUSAGE_SELF)
workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # the build's worker processes
print(json.dumps({"seconds": time.perf_counter() - start, "done": done, "peak_rss": hwm(),
                  "cpu_main": own.ru_utime + own.ru_stime - cpu0,
                  "cpu_workers": workers.ru_utime + workers.ru_stime}))
"""


def run_stage(stage: str, **args: Any) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, stage, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode:
        sys.exit(f"{stage} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def pipeline(folder: Path, work: Path, tokenizer: str, build_rows: int) -> dict[str, Any]:
    """Every stage over the corpus in `folder`; build runs on the first `build_rows` lines."""
    work.mkdir()
    corpus, verdicts = work / "corpus.jsonl", work / "verdicts.jsonl"
    out: dict[str, Any] = {}
    out["ingest"] = run_stage("ingest", inputs=str(folder), output=str(corpus))
    out["stats"] = run_stage("stats", corpus=str(corpus))
    out["critic"] = run_stage("critic", corpus=str(corpus), output=str(verdicts))
    build_corpus, build_verdicts = corpus, verdicts
    if build_rows and build_rows < out["ingest"]["done"]:
        build_corpus, build_verdicts = work / "build-corpus.jsonl", work / "build-verdicts.jsonl"
        _head(corpus, build_corpus, build_rows)
        _head(verdicts, build_verdicts, build_rows)
    for procs in (1, 2):
        out[f"build x{procs}"] = run_stage(
            "build",
            corpus=str(build_corpus),
            verdicts=str(build_verdicts),
            tokenizer=tokenizer,
            output=str(work / f"ds{procs}"),
            num_proc=procs,
        )
    return out


def _head(source: Path, target: Path, lines: int) -> None:
    with source.open(encoding="utf-8") as f, target.open("w", encoding="utf-8") as g:
        for n, line in enumerate(f):
            if n >= lines:
                break
            g.write(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=50_000, help="the large corpus")
    parser.add_argument("--small", type=int, default=5_000, help="the small corpus")
    parser.add_argument("--shrink", type=int, default=10, help="message lengths divided by this")
    parser.add_argument(
        "--build-rows",
        type=int,
        default=0,
        help="build only the first N trajectories of each corpus (0 = all), to keep it short",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="keep the generated files in this folder")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is absent: the distribution to follow comes from there")
    from srft.smollm2 import smollm2_dir

    tokenizer = str(smollm2_dir())
    tmp_ctx = tempfile.TemporaryDirectory() if not args.keep else None
    tmp = Path(args.keep) if args.keep else Path(tmp_ctx.name)
    tmp.mkdir(parents=True, exist_ok=True)

    dist = real_distribution(SHARED, tmp)
    print(
        f"real runs: {len(dist['steps'])} from {SHARED}; steps per run median "
        f"{statistics.median(dist['steps']):g}, max {max(dist['steps'])}; message lengths "
        f"(chars, median) assistant {statistics.median(dist['say']):g}, observation "
        f"{statistics.median(dist['obs']):g}"
    )
    print(
        f"synthetic corpus: step counts as the real runs, every message length / {args.shrink} "
        f"(scaled down {args.shrink}x to run in minutes on 2 cores), "
        f"{RUNS_PER_INSTANCE} runs per instance"
    )
    results = {}
    for size in (args.small, args.trajectories):
        folder = tmp / f"corpus-{size}"
        started = time.perf_counter()
        size_bytes = write_corpus_files(folder, size, dist, args.shrink, args.seed)
        print(
            f"generated {size} runs ({size // RUNS_PER_INSTANCE} instances), "
            f"{size_bytes / 1e6:.0f} MB in {time.perf_counter() - started:.0f}s"
        )
        results[size] = pipeline(folder, tmp / f"work-{size}", tokenizer, args.build_rows)

    small, large = results[args.small], results[args.trajectories]
    print()
    print(f"cpu cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.1f}")
    header = (
        f"{'stage':<10} {'traj/s @' + str(args.small):>14} {'traj/s @' + str(args.trajectories):>15}"
        f" {'peak RSS MB @' + str(args.small):>19} {'@' + str(args.trajectories):>9} {'ratio':>6}"
    )
    print(header)
    for stage in small:
        a, b = small[stage], large[stage]
        print(
            f"{stage:<10} {a['done'] / a['seconds']:14.0f} {b['done'] / b['seconds']:15.0f}"
            f" {a['peak_rss'] / 1e6:19.0f} {b['peak_rss'] / 1e6:9.0f}"
            f" {b['peak_rss'] / a['peak_rss']:5.2f}x"
        )
    for size, res in results.items():
        one, two = res["build x1"], res["build x2"]
        speedup = one["seconds"] / two["seconds"]
        # On a busy machine wall time says little; CPU time does: with 2 idle cores the
        # 2-worker build takes at least max(main process, workers / 2) seconds.
        bound = max(two["cpu_main"], two["cpu_workers"] / 2)
        print(
            f"build speed-up from 2 workers @{size} ({one['done']} built): {speedup:.2f}x "
            f"wall (goal >= 1.7x on 2 idle cores); CPU s: 1 process {one['cpu_main']:.0f}, "
            f"2 workers {two['cpu_workers']:.0f} + main {two['cpu_main']:.0f} -> "
            f"{one['cpu_main'] / bound:.2f}x on 2 idle cores if CPU-bound"
        )
    print(f"(memory goal: ratio <= 1.5x; sizes {args.small} vs {args.trajectories})")
    if args.build_rows:
        print(
            f"(build ran on the first {args.build_rows} trajectories of each corpus only: its "
            "memory ratio above compares equal builds, not corpus sizes)"
        )
    if tmp_ctx is not None:
        tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
