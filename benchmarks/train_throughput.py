"""Training throughput on the reference workload W32k, three ways, side by side in one process.

(a) plain Hugging Face: a padded batch of 4, stock loss (full fp32 logits), SDPA;
(b) TRL SFTTrainer, padding_free, chunked_nll loss, flex_attention (the field's best);
(c) srft's path through `srft.train.trainer.train` (packed row, fused loss on trained positions
    only, flex_attention), in several configurations (activation checkpointing on every layer,
    every second layer, off; with and without torch.compile).

W32k (`../shared/docs/performance.md`): a randomly initialised Qwen2.5-1.5B shape (or 0.5B), bf16,
AdamW; one optimizer step = four sequences of 3,000/5,000/9,000/15,000 tokens, loss on half of
each sequence's tokens (alternating 250-token spans, as masked agent steps look). Throughput
counts real tokens only; peak is `torch.cuda.max_memory_allocated`. It prints tokens/s, peak
memory, the ratios against (b), srft's fastest configuration and its fastest one whose peak
memory is <= (b)'s. Goal: (c) >= 1.5x (b).

    python benchmarks/train_throughput.py                  # GPU: both shapes, all paths
    python benchmarks/train_throughput.py --shape 1.5b --json out.json
    python benchmarks/train_throughput.py --cpu            # CI smoke test: tiny shape, no timing claims
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

SHAPES: dict[str, dict[str, Any]] = {
    "1.5b": dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2, intermediate_size=8960, vocab_size=151936),
    "0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, intermediate_size=4864, vocab_size=151936),
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, intermediate_size=128, vocab_size=1024),
}  # fmt: skip
GPU_LENGTHS = (3000, 5000, 9000, 15000)
CPU_LENGTHS = (30, 50, 90, 150)
SPAN = 250  # trained / masked alternation, in tokens


def qwen2_config(shape: str, max_len: int) -> Any:
    from transformers import Qwen2Config

    return Qwen2Config(
        **SHAPES[shape],
        max_position_embeddings=max(32768, max_len),
        tie_word_embeddings=True,
        rope_theta=1e6,
        use_cache=False,
    )


def workload(shape: str, lengths: tuple[int, ...], seed: int = 0) -> list[dict[str, list[int]]]:
    """The four sequences of one optimizer step; half of each sequence's tokens trained."""
    g = torch.Generator().manual_seed(seed)
    vocab = SHAPES[shape]["vocab_size"]
    span = SPAN if min(lengths) >= 4 * SPAN else max(2, min(lengths) // 6)
    rows = []
    for n in lengths:
        ids = torch.randint(3, vocab, (n,), generator=g).tolist()
        labels = [t if (i // span) % 2 == 1 else -100 for i, t in enumerate(ids)]
        rows.append({"input_ids": ids, "labels": labels})
    return rows


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def _reset() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _result(name: str, step_times: list[float], warmup: int, tokens: int) -> dict[str, Any]:
    """Median of the timed steps; the first step's time too, which holds any compilation (what a
    short GPU lease must budget for)."""
    median = statistics.median(step_times[warmup:])
    return {"path": name, "tokens_per_s": tokens / median, "step_s": median,
            "first_step_s": step_times[0], "peak_gib": _peak_gib()}  # fmt: skip


def run_plain_hf(
    shape: str, rows: list[dict], steps: int, warmup: int, gpu: bool
) -> dict[str, Any]:
    """(a) a padded batch of 4, the model's own loss (full logits), SDPA, checkpointing."""
    from transformers import AutoModelForCausalLM

    from srft.train.model import enable_checkpointing

    _reset()
    dtype = torch.bfloat16 if gpu else torch.float32
    device = "cuda" if gpu else "cpu"
    longest = max(len(r["input_ids"]) for r in rows)
    cfg = qwen2_config(shape, longest)
    model = AutoModelForCausalLM.from_config(cfg, dtype=dtype, attn_implementation="sdpa").to(
        device
    )
    enable_checkpointing(model, every_n_layers=1, offload=False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=gpu or None)
    ids = torch.zeros((len(rows), longest), dtype=torch.long)
    labels = torch.full((len(rows), longest), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n], labels[i, :n], mask[i, :n] = (torch.tensor(r["input_ids"]),
                                                  torch.tensor(r["labels"]), 1)  # fmt: skip
    ids, labels, mask = ids.to(device), labels.to(device), mask.to(device)
    times = []
    for _step in range(warmup + steps):
        _sync()
        t = time.perf_counter()
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync()
        times.append(time.perf_counter() - t)
    out = _result(
        "(a) plain HF, padded, stock loss, SDPA",
        times,
        warmup,
        sum(len(r["input_ids"]) for r in rows),
    )
    del model, opt
    return out


def run_trl(shape: str, rows: list[dict], steps: int, warmup: int, gpu: bool) -> dict[str, Any]:
    """(b) TRL SFTTrainer: padding_free, chunked_nll, flex_attention (SDPA on CPU)."""
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    _reset()
    dtype = torch.bfloat16 if gpu else torch.float32
    attn = "flex_attention" if gpu else "sdpa"
    cfg = qwen2_config(shape, max(len(r["input_ids"]) for r in rows))
    model = AutoModelForCausalLM.from_config(cfg, dtype=dtype, attn_implementation=attn)
    tokenizer = _tiny_tokenizer()
    ds = _dataset(rows * (warmup + steps))
    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            _sync()
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            _sync()
            times.append(time.perf_counter() - self.t)

    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(
            output_dir=tmp,
            per_device_train_batch_size=len(rows),
            gradient_accumulation_steps=1,
            max_steps=warmup + steps,
            learning_rate=1e-5,
            padding_free=True,
            # TRL 1.16 deprecates the name (its "nll" now chunks the same way); kept because it is
            # the configuration measured in performance.md and it still selects the chunked path.
            loss_type="chunked_nll",
            max_length=None,
            bf16=gpu,
            use_cpu=not gpu,
            # TrainingArguments' own name for it before transformers 5.23 (the GPU image's 5.17)
            **{_checkpointing_arg(SFTConfig): True},
            report_to=[],
            save_strategy="no",
            logging_steps=10**6,
            dataloader_drop_last=True,
            remove_unused_columns=False,
        )
        trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer,
                             callbacks=[Timer()])  # fmt: skip
        trainer.train()
    out = _result("(b) TRL SFTTrainer, padding_free, chunked_nll, " + attn, times, warmup,
                  sum(len(r["input_ids"]) for r in rows))  # fmt: skip
    del trainer, model
    return out


def _checkpointing_arg(config_cls: type) -> str:
    """`activation_checkpointing` since transformers 5.23, `gradient_checkpointing` before."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_cls)}
    return "activation_checkpointing" if "activation_checkpointing" in names else (
        "gradient_checkpointing")  # fmt: skip


def _dataset(rows: list[dict[str, Any]]) -> Any:
    """A datasets.Dataset of the rows with a fixed fingerprint, as srft's builder writes one.

    `Dataset.from_list` fingerprints the table by pickling it with dill, which fails on the GPU
    image (Python 3.12, pyarrow 26: "Can't pickle <class 'MonthDayNano'>").
    """
    import datasets
    import pyarrow as pa
    from datasets.table import InMemoryTable

    return datasets.Dataset(InMemoryTable(pa.Table.from_pylist(rows)), fingerprint="w32k")


def _tiny_tokenizer() -> Any:
    """TRL wants a tokenizer object; the data are already token ids, so any will do."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({"<pad>": 0, "<unk>": 1, "</s>": 2}, unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")  # fmt: skip


SRFT_VARIANTS: dict[str, dict[str, Any]] = {
    "ckpt every layer": {"activation_checkpointing": True},
    "ckpt every layer + compile": {"activation_checkpointing": True, "compile": True},
    "ckpt every 2nd layer": {"activation_checkpointing": True, "checkpoint_every_n_layers": 2},
    "ckpt every 2nd layer + compile": {"activation_checkpointing": True,
                                       "checkpoint_every_n_layers": 2, "compile": True},
    "no ckpt": {"activation_checkpointing": False},
    "no ckpt + compile": {"activation_checkpointing": False, "compile": True},
}  # fmt: skip


def run_srft(shape: str, rows: list[dict], steps: int, warmup: int, gpu: bool, name: str,
             knobs: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """(c) srft's own `train()`: packed row, fused loss, flex_attention; timings from metrics.jsonl."""

    from srft.train.config import TrainConfig
    from srft.train.trainer import train

    _reset()
    total = sum(len(r["input_ids"]) for r in rows)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        data = [{**r, "num_tokens": len(r["input_ids"])} for r in rows]
        _dataset(data).save_to_disk(str(tmp_path / "data" / "hf"))
        qwen2_config(shape, max(len(r["input_ids"]) for r in rows)).save_pretrained(
            tmp_path / "arch"
        )
        cfg = TrainConfig(
            data=tmp_path / "data",
            output_dir=tmp_path / "run",
            model_config_path=tmp_path / "arch" / "config.json",
            full=True,
            lr=1e-5,
            lr_scheduler="constant",
            batch_tokens=total,  # the four sequences in one packed row: one step
            max_steps=warmup + steps,
            precision="bf16" if gpu else "fp32",
            attn_implementation="flex_attention" if gpu else "sdpa",
            loss_impl="fused",
            progress=False,
            **knobs,
        )
        train(cfg)
        metrics = [
            json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
        ]
    times = [total / m["tokens_per_s"] for m in metrics]
    out = _result(f"(c) srft, {name}", times, warmup, total)
    out["peak_gib"] = max((m["peak_memory_gib"] or 0) for m in metrics) if gpu else None
    return out


def _guarded(fn: Callable[[], dict[str, Any]], name: str) -> dict[str, Any]:
    """One failing path (out of memory, a missing kernel) is reported, not fatal."""
    try:
        return fn()
    except Exception as err:
        _reset()
        return {"path": name, "error": f"{type(err).__name__}: {str(err)[:300]}"}


def bench_shape(shape: str, gpu: bool, steps: int, warmup: int, variants: list[str],
                paths: str) -> list[dict[str, Any]]:  # fmt: skip
    rows = workload(shape, GPU_LENGTHS if gpu else CPU_LENGTHS)
    results = []
    if "a" in paths:
        results.append(
            _printed(
                _guarded(lambda: run_plain_hf(shape, rows, steps, warmup, gpu), "(a) plain HF")
            )
        )
    if "b" in paths:
        results.append(
            _printed(_guarded(lambda: run_trl(shape, rows, steps, warmup, gpu), "(b) TRL"))
        )
    if "c" in paths:
        for name in variants:
            results.append(_printed(_guarded(
                lambda name=name: run_srft(shape, rows, steps, warmup, gpu, name, SRFT_VARIANTS[name]),
                f"(c) srft, {name}")))  # fmt: skip
    for r in results:
        r["shape"] = shape
    return results


def _printed(result: dict[str, Any]) -> dict[str, Any]:
    """Each path's result as soon as it is known, so a run cut off by a time limit still tells."""
    print(json.dumps(result), flush=True)
    return result


def summarise(results: list[dict[str, Any]]) -> list[str]:
    """Table lines with ratios against (b) and srft's best overall / within (b)'s memory."""
    lines = []
    for shape in dict.fromkeys(r["shape"] for r in results):
        rs = [r for r in results if r["shape"] == shape]
        trl = next((r for r in rs if r["path"].startswith("(b)") and "error" not in r), None)
        lines.append(f"\n## {shape} shape")
        lines.append(
            "| path | tokens/s | peak GiB | x (b) | first step, s |\n| --- | --- | --- | --- | --- |"
        )
        for r in rs:
            if "error" in r:
                lines.append(f"| {r['path']} | failed: {r['error']} | | | |")
                continue
            ratio = f"{r['tokens_per_s'] / trl['tokens_per_s']:.2f}" if trl else "-"
            peak = f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "n/a"
            first = f"{r['first_step_s']:.1f}" if "first_step_s" in r else "-"
            lines.append(f"| {r['path']} | {r['tokens_per_s']:,.0f} | {peak} | {ratio} | {first} |")
        ours = [r for r in rs if r["path"].startswith("(c)") and "error" not in r]
        if ours and trl:
            best = max(ours, key=lambda r: r["tokens_per_s"])
            lines.append(
                f"srft best: {best['path']} = {best['tokens_per_s'] / trl['tokens_per_s']:.2f}x (b)"
            )
            if trl["peak_gib"] is not None:
                lean = [
                    r
                    for r in ours
                    if r["peak_gib"] is not None and r["peak_gib"] <= trl["peak_gib"]
                ]
                if lean:
                    b = max(lean, key=lambda r: r["tokens_per_s"])
                    lines.append(f"srft best within (b)'s peak ({trl['peak_gib']:.1f} GiB): {b['path']} = "
                                 f"{b['tokens_per_s'] / trl['tokens_per_s']:.2f}x (b), {b['peak_gib']:.1f} GiB")  # fmt: skip
                else:
                    lines.append("srft: no configuration within (b)'s peak memory")
    return lines


def versions() -> dict[str, str]:
    import accelerate
    import peft
    import transformers
    import trl

    info = {"torch": torch.__version__, "transformers": transformers.__version__,
            "trl": trl.__version__, "peft": peft.__version__, "accelerate": accelerate.__version__}  # fmt: skip
    info["device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cpu", action="store_true", help="tiny shape on CPU (smoke test; no timing claims)"
    )
    parser.add_argument("--shape", action="append", choices=["1.5b", "0.5b"], help="default: both")
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps per path (GPU 4, CPU 1)"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps first (GPU 2, CPU 1)"
    )
    parser.add_argument("--paths", default="abc", help="which of a, b, c to run (default abc)")
    parser.add_argument(
        "--variants", default=None, help="comma-separated srft variants (default all on GPU)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--summarise",
        type=Path,
        nargs="+",
        default=None,
        help="only print the tables of earlier --json files, merged (e.g. one process per path, "
        "each under its own time limit); with --json, also write the merged file",
    )
    args = parser.parse_args(argv)
    if args.summarise:
        docs = [json.loads(p.read_text()) for p in args.summarise]
        merged = {
            "versions": docs[0]["versions"],
            "results": [r for d in docs for r in d["results"]],
        }
        print(json.dumps(merged["versions"]))
        print("\n".join(summarise(merged["results"])))
        if args.json:
            args.json.write_text(json.dumps(merged, indent=2))
        return 0
    gpu = not args.cpu
    if gpu and not torch.cuda.is_available():
        parser.error("no CUDA device: pass --cpu for the tiny smoke run")
    shapes = ["tiny"] if args.cpu else (args.shape or ["1.5b", "0.5b"])
    steps = args.steps or (4 if gpu else 1)
    warmup = args.warmup if args.warmup is not None else (2 if gpu else 1)
    if args.variants:
        variants = [v.strip() for v in args.variants.split(",")]
        unknown = [v for v in variants if v not in SRFT_VARIANTS]
        if unknown:
            parser.error(f"unknown variant(s) {unknown}; known: {list(SRFT_VARIANTS)}")
    else:
        variants = list(SRFT_VARIANTS) if gpu else ["ckpt every layer", "no ckpt"]
    results = []
    for shape in shapes:
        results += bench_shape(shape, gpu, steps, warmup, variants, args.paths)
    print(json.dumps(versions()))
    print("\n".join(summarise(results)))
    if args.json:
        args.json.write_text(json.dumps({"versions": versions(), "results": results}, indent=2))
    failed = [r for r in results if "error" in r]
    return 1 if failed and args.cpu else 0


if __name__ == "__main__":
    sys.exit(main())
