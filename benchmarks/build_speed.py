"""How fast `srft build` computes exact masks, next to the alternatives, in one run.

Prints ratios measured side by side on the same trajectories and tokenizer:

  (ours) render the whole trajectory once, tokenize once with the turn boundaries as cuts,
         label and verify (`Encoder.encode`, the builder's per-trajectory core);
  (a)    the common approach: render and tokenize the conversation prefix once per assistant
         turn (with and without the turn) and take the difference as the turn's tokens;
  (b)    raw tokenization of the same rendered text (the floor: no masks at all), and
  (b')   rendering + raw tokenization.

Goals (issue #4): ours >= 5x faster than (a), and within 2x of (b).
Default corpus: the 250 Gemini trajectories in ../shared/data/trajectories, ingested to a
temporary file; `--sample N` times every k-th trajectory so (a), which is quadratic, stays short.

    python benchmarks/build_speed.py [--corpus corpus.jsonl] [--sample 25] [--repeat 1]
    python benchmarks/build_speed.py --sample 0 --no-prefix   # (b) on all 250
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
GEMINI = ROOT.parent / "shared" / "data" / "trajectories" / "mini-swe-agent-v1-gemini"


def _corpus(path: str | None, tmp: Path) -> Path:
    if path:
        return Path(path)
    if not GEMINI.is_dir():
        sys.exit(f"no --corpus given and {GEMINI} is absent")
    from srft.corpus.ingest import ingest

    out = tmp / "gemini.jsonl"
    ingest([GEMINI], output=out)
    return out


def per_turn_prefix_masks(renderer, tokenizer, trajectory) -> list[tuple[int, int]]:
    """(a): the quadratic approach; a turn's tokens are those between the prefix rendered with
    a generation prompt and the prefix rendered with the turn (2 renders + 2 tokenizations
    per assistant turn)."""
    messages, tools = renderer.template_messages(trajectory)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = renderer.apply(messages[:i], tools, add_generation_prompt=True)
        upto = renderer.apply(messages[: i + 1], tools)
        a = len(tokenizer.backend_tokenizer.encode(before, add_special_tokens=False).ids)
        b = len(tokenizer.backend_tokenizer.encode(upto, add_special_tokens=False).ids)
        spans.append((a, b))
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus JSONL (default: ingest the Gemini folder)")
    parser.add_argument("--sample", type=int, default=25, help="trajectories to time (0 = all)")
    parser.add_argument("--repeat", type=int, default=1, help="timed repetitions (median)")
    parser.add_argument(
        "--no-prefix", action="store_true", help="skip (a), e.g. to time (b) on every trajectory"
    )
    args = parser.parse_args()

    from srft.dataset.encoder import Encoder, load_tokenizer
    from srft.dataset.policies import make_policy
    from srft.files.corpus import CORPUS
    from srft.smollm2 import smollm2_dir

    with tempfile.TemporaryDirectory() as tmp:
        trajectories = list(CORPUS.read(_corpus(args.corpus, Path(tmp))))
    if args.sample and args.sample < len(trajectories):
        step = len(trajectories) / args.sample
        trajectories = [trajectories[int(k * step)] for k in range(args.sample)]
    tokenizer = load_tokenizer(smollm2_dir())
    encoder = Encoder(tokenizer)
    renderer, backend = encoder.renderer, encoder.backend
    sft = make_policy("sft")
    decisions = [sft.decide(t, None) for t in trajectories]
    texts = [renderer.render(t).text for t in trajectories]

    def ours() -> None:
        for t, d in zip(trajectories, decisions, strict=True):
            encoder.encode(t, d, policy="sft", max_length=10**9)

    def prefix() -> None:
        for t in trajectories:
            per_turn_prefix_masks(renderer, tokenizer, t)

    def raw() -> None:
        for text in texts:
            backend.encode(text, add_special_tokens=False)

    def render_raw() -> None:
        for t in trajectories:
            messages, tools = renderer.template_messages(t)
            backend.encode(renderer.apply(messages, tools), add_special_tokens=False)

    def timed(fn) -> float:
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)

    t_raw, t_render_raw, t_ours = timed(raw), timed(render_raw), timed(ours)
    t_prefix = None if args.no_prefix else timed(prefix)
    tokens = sum(len(backend.encode(x, add_special_tokens=False).ids) for x in texts)
    steps = sum(len(t.steps) for t in trajectories)
    print(f"{len(trajectories)} trajectories, {steps} steps, {tokens} tokens (SmolLM2 tokenizer)")
    print(f"(ours) render once + tokenize once + label + verify: {t_ours:8.2f} s")
    if t_prefix is not None:
        print(f"(a)    per-turn prefix re-rendering:                 {t_prefix:8.2f} s")
    print(f"(b)    raw tokenization of the rendered text:        {t_raw:8.2f} s")
    print(f"(b')   render + raw tokenization:                    {t_render_raw:8.2f} s")
    if t_prefix is not None:
        print(f"speed-up over (a): {t_prefix / t_ours:6.1f}x   (goal >= 5x)")
    print(f"cost relative to (b): {t_ours / t_raw:6.2f}x   (goal <= 2x)")
    print(f"cost relative to (b'): {t_ours / t_render_raw:6.2f}x")


if __name__ == "__main__":
    main()
