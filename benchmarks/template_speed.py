"""Build time per chat template, as a ratio to ChatML, measured side by side in one run.

Encodes the same Gemini trajectories (../shared/data/trajectories, ingested to a temporary file)
with SmolLM2's own ChatML template and with each shared template of ../shared/data/chat-templates
(stand-in tokenizers: SmolLM2's plus the family's special tokens, tests/dataset/families.py), the
builder's per-trajectory core (`Encoder.encode`: render, locate, tokenize, label, check). Each
trajectory is encoded with ChatML and with the template back to back (the machine is shared:
pairing keeps load bursts off the ratio). Goal (issue #20): <= 1.2x ChatML. `--reasoning every-turn` is timed separately for the templates that
drop reasoning from history, with the extra rows and tokens it writes.

    python benchmarks/template_speed.py [--sample 50] [--repeat 3] [--templates qwen3,glm-4.6]
"""

from __future__ import annotations

import argparse
import os
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
    from srft.dataset.encoder import BuildError, Encoder, load_tokenizer
    from srft.dataset.policies import make_policy
    from srft.files.corpus import CORPUS
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
        trajectories = list(CORPUS.read(corpus))
    if args.sample and args.sample < len(trajectories):
        step = len(trajectories) / args.sample
        trajectories = [trajectories[int(k * step)] for k in range(args.sample)]
    sft = make_policy("sft")
    decisions = [sft.decide(t, None) for t in trajectories]

    chatml = Encoder(load_tokenizer(smollm2_dir()))

    def paired(encoder: Encoder, reasoning: str = "template") -> tuple[float, float, tuple]:
        """ChatML seconds, the template's time as a ratio to it, and the template's counts.

        Each trajectory is encoded with ChatML and then with the template, back to back, so a
        burst of load from other processes weighs on both sides alike."""
        base = mine = 0.0
        rows = extra = dropped = rejected = 0
        for _ in range(args.repeat):
            rows = extra = dropped = rejected = 0
            for t, d in zip(trajectories, decisions, strict=True):
                start = time.perf_counter()
                chatml.encode(t, d, policy="sft", max_length=10**9)
                middle = time.perf_counter()
                try:
                    e = encoder.encode(t, d, policy="sft", max_length=10**9, reasoning=reasoning)
                except BuildError:
                    rejected += 1
                    continue
                finally:
                    base += middle - start
                    mine += time.perf_counter() - middle
                rows += 1 + len(e.turn_rows)
                extra += sum(int(r["num_tokens"]) for r in e.turn_rows)
                dropped += e.reasoning[1]
        return base / args.repeat, mine / base, (rows, extra, dropped, rejected)

    steps = sum(len(t.steps) for t in trajectories)
    print(
        f"{len(trajectories)} Gemini trajectories, {steps} steps, {args.repeat} pass(es), back to back per trajectory\n"
    )
    print("| template | ChatML (s) | ratio to ChatML | rejected | reasoning dropped |")
    print("| --- | --- | --- | --- | --- |")
    every: list[str] = []
    for family in args.templates.split(","):
        template = (SHARED / "chat-templates" / f"{family}.jinja").read_text(encoding="utf-8")
        encoder = Encoder(standin(smollm2_dir(), family, "special"), template)
        base, ratio, (_, _, dropped, rejected) = paired(encoder)
        print(f"| {family} | {base:.2f} | {ratio:.2f}x | {rejected} | {dropped} |", flush=True)
        if dropped:
            base, ratio, (rows, extra, _, _) = paired(encoder, "every-turn")
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
