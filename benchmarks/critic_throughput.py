"""Critic benchmark: request throughput against a 200 ms server, and prompt tokens per mode.

Prints ratios measured side by side in one run (no timed tests):

1. throughput of `srft critic --critic llm` against the loopback test server (tests/critic/
   fake_server.py) answering every request after `--latency` seconds, at each of
   `--concurrency` (default 1, 8, 32, 128) requests in flight, as a fraction of the ideal
   concurrency / latency; `--waves` requests per slot (so every level runs about the same
   time); the goal is >= 0.90 at 32 and 128;
2. prompt tokens per trajectory in `whole` mode against the trajectory's own tokens plus the
   fixed header (goal <= 1.15), and the same ratio for `per-step` mode beside it (O(n^2)).

Usage: python benchmarks/critic_throughput.py [--concurrency 1,8,32,128] [--latency 1.0]
       [--waves 10] [--no-prompts]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "critic"))

from srft.critic.llm import LLMCritic  # noqa: E402
from srft.critic.prompt import PromptBuilder  # noqa: E402
from srft.critic.run import run_critic, trajectory_tokens  # noqa: E402
from srft.critic.tokens import TokenCounter  # noqa: E402
from srft.files.corpus import (  # noqa: E402
    CORPUS,
    Message,
    Source,
    ToolCall,
    Trajectory,
)

SHARED = ROOT.parent / "shared" / "data" / "trajectories"


def synthetic(tid: str, n_steps: int, output_chars: int) -> Trajectory:
    """A trajectory of `n_steps` shell steps with outputs of `output_chars` characters."""
    messages = [
        Message(role="system", content="You are an agent."),
        Message(role="user", content=f"TRAJ:{tid} Fix the bug in the parser."),
    ]
    for i in range(n_steps):
        cid = f"{tid}-{i}"
        messages.append(
            Message(
                role="assistant",
                content=f"Step {i}: look at module {i}.",
                tool_calls=[ToolCall(id=cid, name="bash", arguments={"command": f"cat m{i}.py"})],
            )
        )
        messages.append(
            Message(
                role="tool",
                content=(f"line {i} " * output_chars)[:output_chars],
                tool_call_id=cid,
                exit_code=0,
            )
        )
    return Trajectory.from_messages(
        messages=messages, id=tid, source=Source(format="bench", file="-", record=tid)
    )


def throughput(requests: int, concurrency: int, latency: float, workdir: Path) -> dict:
    corpus = workdir / f"tp{concurrency}.jsonl"
    CORPUS.write(corpus, (synthetic(f"t{i}", 4, 200) for i in range(requests)))
    # The server runs in its own process so that it does not share the client's GIL.
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "critic" / "fake_server.py"),
            "--latency",
            str(latency),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = server.stdout.readline().strip()  # type: ignore[union-attr]
        critic = LLMCritic(model="fake", base_urls=base_url, concurrency=concurrency, timeout=30)
        started, cpu = time.perf_counter(), time.process_time()
        summary = run_critic(corpus, workdir / f"tp{concurrency}" / "v.jsonl", critic)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        server.terminate()
        server.wait()
    sent = summary["requests"]["requests"]
    ideal = concurrency / latency
    rate = sent / elapsed
    return {
        "concurrency": concurrency,
        "requests": sent,
        "seconds": elapsed,
        "rate": rate,
        "ideal": ideal,
        "ratio": rate / ideal,
        "retries": summary["requests"]["retries"],
        "cpu_ms": 1000 * cpu / max(sent, 1),
    }


def prompt_ratios(workdir: Path) -> None:
    if (SHARED / "mini-swe-agent-v2-deepseek").is_dir():
        from srft.corpus.ingest import ingest

        corpus = workdir / "deepseek.jsonl"
        ingest([SHARED / "mini-swe-agent-v2-deepseek"], output=corpus)
        trajectories = list(CORPUS.read(corpus))
        where = "DeepSeek trajectories from ../shared"
    else:
        trajectories = [synthetic(f"s{i}", 40, 1500) for i in range(4)]
        where = "synthetic trajectories (../shared is absent)"
    counter = TokenCounter()
    builder = PromptBuilder(counter=counter, max_prompt_tokens=1_000_000, max_text_tokens=1_000_000)
    print(f"prompt tokens per trajectory ({where}; tokens estimated as {counter.describe()}):")
    for t in trajectories:
        own = trajectory_tokens(t, counter)
        header = builder.header_tokens(t)
        whole = sum(r.estimated_tokens for r in builder.plan(t, "whole"))
        per_step = sum(r.estimated_tokens for r in builder.plan(t, "per-step"))
        print(
            f"  {t.id}: {len(t.steps)} steps, own {own}, header {header}; whole {whole} "
            f"-> ratio {whole / (own + header):.3f} (goal <= 1.15); per-step {per_step} -> "
            f"ratio {per_step / (own + header):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,8,32,128")
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--waves", type=int, default=10, help="requests per request slot")
    parser.add_argument("--no-prompts", action="store_true", help="skip the prompt ratios")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"throughput against the loopback server, {args.latency * 1000:.0f} ms per request, "
            f"{args.waves} requests per slot (load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs):"
        )
        print(
            "| concurrency | requests | seconds | achieved req/s | ideal req/s | ratio | goal "
            "| retries | critic CPU ms/request |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for c in levels:
            r = throughput(max(2, args.waves * c), c, args.latency, Path(tmp))
            goal = ">= 0.90" if c >= 32 else "-"
            print(
                f"| {c} | {r['requests']} | {r['seconds']:.2f} | {r['rate']:.1f} | "
                f"{r['ideal']:.1f} | {r['ratio']:.3f} | {goal} | {r['retries']} | "
                f"{r['cpu_ms']:.2f} |",
                flush=True,
            )
        if not args.no_prompts:
            prompt_ratios(Path(tmp))


if __name__ == "__main__":
    main()
