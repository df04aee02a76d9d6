"""Critic confidence and answer order, measured on the toy testbed's true labels.

1. Calibration (no model needed): the rules critic and two copies of the true labels with a known
   share of labels replaced (`--noise`) are combined by `srft critic-vote`; `critic-eval`'s
   reliability table then shows whether agreement predicts correctness, and the mistake-masking
   precision/recall at each `min_confidence`.
2. Answer order (`--llama N`, needs llama-cpp-python[server] and the SmolLM2 GGUF): N toy
   trajectories judged by the real llama.cpp server with `reason-first` and `label-first`
   answers, side by side, mistake-vs-rest F1 and accuracy against the true labels.

Usage: python benchmarks/critic_confidence.py [--episodes 200] [--noise 0.3] [--llama 0]
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from srft.corpus.ingest import ingest
from srft.critic.quality import evaluate_critic
from srft.critic.run import run_critic
from srft.critic.vote import vote_files
from srft.files.corpus import CORPUS
from srft.files.verdicts import LABELS, VERDICTS
from srft.toy.generate import generate


def noisy_copy(truth: Path, output: Path, noise: float, seed: int) -> None:
    """The true labels, each replaced with probability `noise` by another label."""
    rng = random.Random(seed)
    out = []
    for v in VERDICTS.read(truth):
        steps = []
        for s in v.steps:
            if rng.random() < noise:
                s = s.model_copy(update={"label": rng.choice([x for x in LABELS if x != s.label])})
            steps.append(s)
        out.append(v.model_copy(update={"steps": steps}))
    VERDICTS.write(output, out)


def calibration(work: Path, corpus: Path, truth: Path, noise: float) -> None:
    run_critic(corpus, work / "rules.jsonl", "rules")
    noisy_copy(truth, work / "noisy1.jsonl", noise, 1)
    noisy_copy(truth, work / "noisy2.jsonl", noise, 2)
    vote_files(
        [work / "rules.jsonl", work / "noisy1.jsonl", work / "noisy2.jsonl"], work / "v.jsonl"
    )
    for name in ("rules.jsonl", "noisy1.jsonl", "v.jsonl"):
        r = evaluate_critic(work / name, truth)
        m = r["mistake_vs_rest"]
        print(
            f"{name:13s} steps {r['steps']} accuracy {r['accuracy']:.3f} mistake P "
            f"{m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}"
        )
    cal = evaluate_critic(work / "v.jsonl", truth)["calibration"]
    print(f"reliability of the vote (ECE {cal['ece']:.3f}):")
    print("| confidence | steps | mean confidence | accuracy | mistake P | R | F1 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for b in cal["buckets"]:
        m = b["mistake"]
        print(
            f"| {b['range']} | {b['steps']} | {b['mean_confidence']:.3f} | {b['accuracy']:.3f} | "
            f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |"
        )
    print("| min_confidence | masked | precision | recall | F1 |")
    print("| --- | --- | --- | --- | --- |")
    for t in cal["mistake_by_min_confidence"]:
        print(
            f"| {t['min_confidence']:.3f} | {t['masked']} | {t['precision']:.3f} | "
            f"{t['recall']:.3f} | {t['f1']:.3f} |"
        )


def answer_order(work: Path, corpus: Path, truth: Path, n: int) -> None:
    from srft.smollm2 import gguf_file

    trajectories = list(CORPUS.read(corpus))[:n]
    small = work / "order-corpus.jsonl"
    CORPUS.write(small, trajectories)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_file())]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192"]
    log = (work / "llama.log").open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        import httpx

        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the llama.cpp server did not start; see " + log.name)
            time.sleep(0.5)
        print(f"answer order, SmolLM2-135M on llama.cpp, {n} toy trajectories:")
        for order in ("reason-first", "label-first"):
            out = work / f"{order}.jsonl"
            started = time.monotonic()
            summary = run_critic(
                small,
                out,
                "llm",
                model="smollm2",
                base_urls=[base_url],
                answer_order=order,
                max_reason_chars=80,
                concurrency=1,
                max_reasks=1,
                timeout=600,
                max_retries=1,
                cache_path=work / f"{order}.sqlite",
            )
            r = evaluate_critic(out, truth)
            m = r["mistake_vs_rest"]
            print(
                f"  {order:12s} judged {summary['trajectories']['ok']}/{n}, steps {r['steps']} "
                f"(unjudged {r['unjudged_steps']}), accuracy {r['accuracy']:.3f}, mistake P "
                f"{m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}, "
                f"{time.monotonic() - started:.0f} s"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--llama", type=int, default=0, help="trajectories for the order test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(work / "gen", args.episodes, seed=args.seed)
        corpus = work / "corpus.jsonl"
        ingest([work / "gen" / "trajs"], labels=[work / "gen" / "toy.teacher.json"], output=corpus)
        truth = work / "gen" / "labels.jsonl"
        print(f"toy testbed: {args.episodes} episodes, seed {args.seed}, noise {args.noise}")
        calibration(work, corpus, truth, args.noise)
        if args.llama:
            answer_order(work, corpus, truth, args.llama)


if __name__ == "__main__":
    main()
