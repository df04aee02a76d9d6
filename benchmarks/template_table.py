"""Build the shared trajectories with each shared chat template and tabulate what happened.

For every template in ../shared/data/chat-templates and every stand-in tokenizer variant
(tests/dataset/families.py: SmolLM2's tokenizer plus the family's special tokens), runs the real
`build_dataset` with `--skip-invalid` over the shared non-Gemini trajectories and prints one
Markdown row: template, variant, rows built, trajectories rejected, and the rejection reasons.
Every built row has passed the builder's turn check, so "built" means "exact or rejected".

    python benchmarks/template_table.py [--variants special,bare] [--templates qwen3,glm-4.6]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FOLDERS = (
    "mini-swe-agent-v2-deepseek",
    "mini-swe-agent-legacy",
    "swe-agent",
    "openhands-v0",
    "nebius-swe-agent",
    "swe-gym-openhands",
    "swe-smith",
)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import datasets
    from tests.dataset.families import FAMILIES, VARIANTS, standin

    from srft.corpus.ingest import ingest
    from srft.dataset.build import BuildError, build_dataset
    from srft.smollm2 import smollm2_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--templates", default=",".join(FAMILIES))
    args = parser.parse_args()
    datasets.disable_progress_bars()
    tmp = Path(tempfile.mkdtemp(prefix="srft-templates-"))
    corpus = tmp / "corpus.jsonl"
    ingest([SHARED / "trajectories" / f for f in FOLDERS], output=corpus)
    trajectories = [json.loads(line) for line in corpus.open(encoding="utf-8")]
    calls = sum(1 for t in trajectories if any(m.get("tool_calls") for m in t["messages"]))
    steps = sum(len(t["steps"]) for t in trajectories)
    print(f"{len(trajectories)} trajectories ({calls} with tool calls), {steps} steps\n")
    print("| template | tokenizer | built | rejected | reasons |")
    print("| --- | --- | --- | --- | --- |")
    for family in args.templates.split(","):
        template = SHARED / "chat-templates" / f"{family}.jinja"
        for variant in args.variants.split(","):
            folder = tmp / f"{family}-{variant}"
            standin(smollm2_dir(), family, variant).save_pretrained(folder)
            out = tmp / f"out-{family}-{variant}"
            try:
                summary = build_dataset(
                    corpus,
                    None,
                    policy="sft",
                    tokenizer=folder,
                    output=out,
                    max_length=10**7,
                    chat_template=template,
                    skip_invalid=True,
                )
                counts = summary.counts
            except BuildError as e:
                print(f"| {family} | {variant} | 0 | all | {e} |")
                continue
            reasons: collections.Counter[str] = collections.Counter()
            rejects = out / "rejected.jsonl"
            if rejects.exists():
                for line in rejects.open(encoding="utf-8"):
                    reason = json.loads(line)["reason"]
                    reasons[reason.split(": ", 1)[-1] if "trajectory" in reason else reason] += 1
            why = "; ".join(f"{n} x {r}" for r, n in reasons.items()) or "-"
            print(f"| {family} | {variant} | {counts['rows']} | {counts['rejected']} | {why} |")


if __name__ == "__main__":
    main()
