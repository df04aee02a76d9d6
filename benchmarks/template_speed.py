"""Build time per chat template, as a ratio to ChatML, measured side by side in one run.

Encodes the same Gemini trajectories (../shared/data/trajectories, ingested to a temporary file)
with SmolLM2's own ChatML template and with each shared template of ../shared/data/chat-templates
(stand-in tokenizers: SmolLM2's plus the family's special tokens, tests/dataset/families.py), the
builder's per-trajectory core (`Encoder.encode`: render, locate, tokenize, label, check). Each
template's pass is timed right after a ChatML pass (the machine is shared, so the two are paired
and the ratio is the median of the pairs' ratios). Goal (issue #20): <= 1.2x ChatML. `--reasoning every-turn` is timed separately for the templates that
drop reasoning from history, with the extra rows and tokens it writes.

    python benchmarks/template_speed.py [--sample 50] [--repeat 3] [--templates qwen3,glm-4.6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
GEMINI = SHARED / "trajectories" / "mini-swe-agent-v1-gemini"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.dataset.families import FAMILIES, standin

    from srft.corpus.ingest import ingest
    from srft.corpus.io import read_corpus
    from srft.dataset.build import BuildError, Encoder, load_tokenizer
    from srft.dataset.policies import make_policy
    from srft.smollm2 import smollm2_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=50, help="trajectories (0 = all 250)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (median)")
    parser.add_argument("--templates", default=",".join(FAMILIES))
    args = parser.parse_args()
    if not GEMINI.is_dir():
        sys.exit(f"{GEMINI} is absent")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "gemini.jsonl"
        ingest([GEMINI], output=corpus)
        trajectories = list(read_corpus(corpus))
    if args.sample and args.sample < len(trajectories):
        step = len(trajectories) / args.sample
        trajectories = [trajectories[int(k * step)] for k in range(args.sample)]
    sft = make_policy("sft")
    decisions = [sft.decide(t, None) for t in trajectories]

    def one_pass(encoder: Encoder, reasoning: str = "template") -> tuple[float, int, int, int, int]:
        rows = extra = dropped = rejected = 0
        start = time.perf_counter()
        for t, d in zip(trajectories, decisions, strict=True):
            try:
                e = encoder.encode(t, d, policy="sft", max_length=10**9, reasoning=reasoning)
            except BuildError:
                rejected += 1
                continue
            rows += 1 + len(e.turn_rows)
            extra += sum(int(r["num_tokens"]) for r in e.turn_rows)
            dropped += e.reasoning[1]
        return time.perf_counter() - start, rows, extra, dropped, rejected

    chatml = Encoder(load_tokenizer(smollm2_dir()))

    def paired(encoder: Encoder, reasoning: str = "template") -> tuple[float, float, tuple]:
        """(ChatML seconds, ratio), medians over `repeat` pairs, and the template pass's counts."""
        bases, ratios = [], []
        for _ in range(args.repeat):
            base = one_pass(chatml)[0]
            result = one_pass(encoder, reasoning)
            bases.append(base)
            ratios.append(result[0] / base)
        return statistics.median(bases), statistics.median(ratios), result

    steps = sum(len(t.steps) for t in trajectories)
    print(
        f"{len(trajectories)} Gemini trajectories, {steps} steps, median of {args.repeat} pairs\n"
    )
    print("| template | ChatML (s) | ratio to ChatML | rejected | reasoning dropped |")
    print("| --- | --- | --- | --- | --- |")
    every: list[str] = []
    for family in args.templates.split(","):
        template = (SHARED / "chat-templates" / f"{family}.jinja").read_text(encoding="utf-8")
        encoder = Encoder(standin(smollm2_dir(), family, "special"), template)
        base, ratio, (_, _, _, dropped, rejected) = paired(encoder)
        print(f"| {family} | {base:.2f} | {ratio:.2f}x | {rejected} | {dropped} |", flush=True)
        if dropped:
            base, ratio, (_, rows, extra, _, _) = paired(encoder, "every-turn")
            every.append(
                f"| {family} | {base:.2f} | {ratio:.2f}x | {rows - len(trajectories)} | {extra} |"
            )
    if every:
        print("\n--reasoning every-turn (templates that drop reasoning from history)\n")
        print("| template | ChatML (s) | ratio to ChatML | extra rows | extra tokens |")
        print("| --- | --- | --- | --- | --- |")
        print("\n".join(every))


if __name__ == "__main__":
    main()
