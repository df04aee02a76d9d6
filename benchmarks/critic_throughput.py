"""Critic benchmark: request throughput against a 200 ms server, and prompt tokens per mode.

Prints ratios measured side by side in one run (no timed tests):

1. throughput of `srft critic --critic llm` against the loopback test server (tests/critic/
   fake_server.py) answering every request after `--latency` seconds, at `--concurrency`
   requests in flight, as a fraction of the ideal concurrency / latency (160 requests/s for
   32 and 200 ms); the goal is >= 0.90;
2. prompt tokens per trajectory in `whole` mode against the trajectory's own tokens plus the
   fixed header (goal <= 1.15), and the same ratio for `per-step` mode beside it (O(n^2)).

Usage: python benchmarks/critic_throughput.py [--requests 1600] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "critic"))

from srft.corpus.io import read_corpus, write_corpus  # noqa: E402
from srft.corpus.model import Message, Source, ToolCall, Trajectory  # noqa: E402
from srft.critic.llm import LLMCritic  # noqa: E402
from srft.critic.prompt import PromptBuilder  # noqa: E402
from srft.critic.run import run_critic, trajectory_tokens  # noqa: E402
from srft.critic.tokens import TokenCounter  # noqa: E402

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


def throughput(requests: int, concurrency: int, latency: float, workdir: Path) -> None:
    corpus = workdir / "tp.jsonl"
    write_corpus((synthetic(f"t{i}", 4, 200) for i in range(requests)), corpus)
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
        summary = run_critic(corpus, workdir / "tp" / "v.jsonl", critic)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        server.terminate()
        server.wait()
    server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu_s = server_cpu.ru_utime + server_cpu.ru_stime
    sent = summary["requests"]["requests"]
    ideal = concurrency / latency
    rate = sent / elapsed
    print(
        f"throughput: {sent} requests in {elapsed:.2f} s = {rate:.1f} req/s; ideal "
        f"{ideal:.0f} req/s (concurrency {concurrency}, latency {latency * 1000:.0f} ms); "
        f"ratio {rate / ideal:.3f} (goal >= 0.90); {summary['requests']['retries']} retries"
    )
    # On a shared, overloaded machine the wall-clock ratio measures the machine; the CPU cost
    # per request says what the critic itself needs.
    per = 1000 * cpu / max(sent, 1)
    print(
        f"  critic CPU {per:.2f} ms/request (ceiling on one free core: {1000 / per:.0f} req/s); "
        f"test server CPU {1000 * server_cpu_s / max(sent, 1):.2f} ms/request; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


def prompt_ratios(workdir: Path) -> None:
    if (SHARED / "mini-swe-agent-v2-deepseek").is_dir():
        from srft.corpus.ingest import ingest

        corpus = workdir / "deepseek.jsonl"
        ingest([SHARED / "mini-swe-agent-v2-deepseek"], output=corpus)
        trajectories = list(read_corpus(corpus))
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
    parser.add_argument("--requests", type=int, default=1600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        throughput(args.requests, args.concurrency, args.latency, Path(tmp))
        prompt_ratios(Path(tmp))


if __name__ == "__main__":
    main()
