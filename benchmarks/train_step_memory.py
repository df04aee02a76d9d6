"""Peak memory of LoRA training steps on CPU, with glibc's dynamic mmap threshold and fixed.

    python benchmarks/train_step_memory.py [--tokens 1024] [--steps 2]

Runs SmolLM2-135M + LoRA (rank 8, activation checkpointing, as in the demo) for a few forward
and backward passes over one packed row of `--tokens` tokens, twice, each in a fresh process:
once as glibc comes (its mmap threshold grows as blocks are freed, so freed activations stay in
the heap) and once after `srft.memory.return_freed_memory()`. Prints the peak RSS (VmHWM) after
loading and after the steps, and their ratio side by side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, torch
from pathlib import Path
from srft.memory import return_freed_memory
from srft.smollm2 import smollm2_dir
from srft.train.config import TrainConfig
from srft.train.model import build_model

fixed, tokens, steps = sys.argv[1] == "fixed", int(sys.argv[2]), int(sys.argv[3])
if fixed:
    return_freed_memory()

def peak_mb():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024

config = TrainConfig(data=Path("."), output_dir=Path("."), model=str(smollm2_dir()), lora_r=8,
                     lora_alpha=16, gradient_checkpointing=True)
model = build_model(config)
model.train()
row = torch.randint(0, model.config.vocab_size, (1, tokens))
with torch.no_grad():
    model(input_ids=row, logits_to_keep=1)  # every weight paged in
loaded = peak_mb()
for _ in range(steps):
    model(input_ids=row, logits_to_keep=1).logits.sum().backward()  # the layers, not the loss
print(json.dumps({"loaded_mb": loaded, "steps_mb": peak_mb()}))
"""


def run(mode: str, tokens: int, steps: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(tokens), str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    dynamic = run("dynamic", args.tokens, args.steps)
    fixed = run("fixed", args.tokens, args.steps)
    print(f"{args.steps} LoRA steps of SmolLM2-135M on {args.tokens} tokens, peak RSS (MB):")
    print(f"  glibc's dynamic threshold: loaded {dynamic['loaded_mb']:.0f}, "
          f"after the steps {dynamic['steps_mb']:.0f}")  # fmt: skip
    print(f"  fixed (srft.memory):       loaded {fixed['loaded_mb']:.0f}, "
          f"after the steps {fixed['steps_mb']:.0f}")  # fmt: skip
    print(f"ratio dynamic/fixed after the steps: {dynamic['steps_mb'] / fixed['steps_mb']:.2f}x")


if __name__ == "__main__":
    main()
