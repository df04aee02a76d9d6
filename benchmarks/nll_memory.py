"""Peak memory of held-out NLL: chunked output head (srft.evaluate.nll) vs one full forward.

Why it matters: the plain `model(input_ids).logits` of an 8k-token trajectory with a 150k
vocabulary is a ~5 GB float32 matrix, before cross-entropy copies it; `token_nll` applies the
output head to chunks of positions instead. Each mode runs in its own process (so the peak RSS
is its own) on the same random tiny Llama and the same tokens; the script prints both peaks,
their ratio, and the largest difference between the two NLL vectors.

    python benchmarks/nll_memory.py [--tokens 4096] [--vocab 49152]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def run_mode(mode: str, tokens: int, vocab: int) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from srft.evaluate.nll import token_nll

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=tokens,
    )  # fmt: skip
    model = LlamaForCausalLM(config).eval()
    ids = torch.randint(0, vocab, (tokens,)).tolist()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if mode == "chunked":
        nll = token_nll(model, ids)[1:]
    else:
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            nll = torch.nn.functional.cross_entropy(
                logits, torch.tensor(ids[1:]), reduction="none"
            ).tolist()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mb": peak / 1024, "growth_mb": (peak - before) / 1024,
                      "seconds": seconds, "nll": nll[:64] + nll[-64:]}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--vocab", type=int, default=49152)
    parser.add_argument("--mode", choices=["chunked", "full"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        run_mode(args.mode, args.tokens, args.vocab)
        return
    results = {}
    for mode in ("full", "chunked"):
        out = subprocess.run(
            [sys.executable, __file__, "--mode", mode, "--tokens", str(args.tokens),
             "--vocab", str(args.vocab)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    full, chunked = results["full"], results["chunked"]
    diff = max(abs(a - b) for a, b in zip(full["nll"], chunked["nll"], strict=True))
    print(f"tokens {args.tokens}, vocab {args.vocab}")
    for mode in ("full", "chunked"):
        r = results[mode]
        print(
            f"{mode:8s} growth {r['growth_mb']:8.0f} MB  peak {r['peak_mb']:8.0f} MB  {r['seconds']:.2f} s"
        )
    print(
        f"memory growth ratio full/chunked: {full['growth_mb'] / max(chunked['growth_mb'], 1):.1f}x"
    )
    print(f"time ratio full/chunked: {full['seconds'] / chunked['seconds']:.2f}x")
    print(f"max |NLL difference|: {diff:.2e}")


if __name__ == "__main__":
    main()
