"""The toy experiment: do sft < rft < srft hold when the students are rolled out?

For each teacher setting and seed: generate teacher episodes (`srft.toy.generate`), ingest them
(`srft.corpus.ingest`), label them with the true labels and with the `rules` critic, build four
datasets with the product's builder (sft; rft; srft with true labels; srft with rules labels),
train a small word-level Llama from scratch on each with the product's trainer
(`srft.train.trainer.train`, equal optimizer steps), and roll every student out on the same
fresh episodes, greedy and sampled at T=1 (`srft.toy.eval`).

Training runs in chunks (constant learning rate after warm-up, resumed from the trainer's own
checkpoints), and all students are evaluated after every chunk, so a time limit still leaves
complete, paired numbers. Results are appended to `<out>/results.jsonl` as they come; rerun
with a larger `--steps` to extend an experiment (evaluations on file are not repeated).
`--summarise` turns that file into the markdown tables of experiments/toy/NOTEBOOK.md (means over seeds,
pooled Wilson intervals, paired differences pooled and over seeds); `--final` does the same
for `srft toy eval` results (the final evaluation, one or more files per seed), with the
skill ladder. The tables are `toy_results.py`, beside this script.

The recipe whose students solve episodes on a CPU (experiments/toy/NOTEBOOK.md, fourth and fifth
to sixth sessions: about 50 minutes per student and core), one process per policy `p` and seed `s` on
data prepared once:

    python experiments/toy/toy_experiment.py --out /tmp/toy --episodes 10000 --settings default \\
        --prepare-only --hidden 64 --layers 2
    python experiments/toy/toy_experiment.py --out /tmp/toy-$p-s$s --data-root /tmp/toy \\
        --episodes 10000 --settings default --seeds $s --policies $p --steps 7000 \\
        --eval-every 1000 --eval-episodes 100 --batch-tokens 600 --grad-accum 12 --hidden 64 \\
        --layers 2 --lr 3e-3 --warmup 100 --threads 1 --time-limit 120
    python experiments/toy/toy_experiment.py --summarise --out /tmp/toy-*/

`--summarise` merges the folders: records of the same (episodes, teacher, seed, step) pair up.
`--policies` also takes the masking ablations `rft-masked` and `srft-judged` (toy_results.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

# The tables live beside this script (run as `python experiments/toy/toy_experiment.py`, its folder
# is first on sys.path).
from toy_results import (
    POLICIES,
    STUDENTS,
    across,
    copy_steps,
    critic_agreement,
    decision_signal,
    eval_records,
    learning_curves,
    merged_results,
    read_results,
    skill_ladder,
    skills_by_step,
    step_signal,
    summarise,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def student_config(vocab_size: int, hidden: int, layers: int, max_len: int) -> dict[str, Any]:
    """A small Llama, word-level vocabulary, trained from random init."""
    return {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": layers,
        "num_attention_heads": max(1, hidden // 32),
        "num_key_value_heads": max(1, hidden // 32),
        "max_position_embeddings": max_len,
        "tie_word_embeddings": True,
        "rms_norm_eps": 1e-5,
        "bos_token_id": None,
        "eos_token_id": None,
        "pad_token_id": 0,
    }


def prepare(
    out: Path,
    setting: str,
    seed: int,
    episodes: int,
    tokenizer: Path,
    max_len: int,
    policies: tuple[str, ...] | list[str] = STUDENTS,
) -> dict[str, Path]:
    """Data of one (setting, data seed): generate, ingest, label, build the four datasets.

    Every training seed of a setting trains on the same data (seeds vary initialisation and
    data order), so the policies and seeds compare on one corpus.
    """
    from srft.corpus.ingest import ingest
    from srft.critic.rules import judge_rules
    from srft.dataset.build import build_dataset
    from srft.files.corpus import CORPUS
    from srft.files.verdicts import VERDICTS
    from srft.toy.generate import generate
    from srft.toy.teacher import TeacherConfig

    root = out / setting / f"data-{seed}"
    data = root / "data"
    if not (data / "toy.json").exists():
        generate(data, episodes, seed=seed, config=TeacherConfig.preset(setting))
    corpus = root / "corpus.jsonl"
    if not corpus.exists():
        ingest([data / "trajs"], labels=[data / "toy.teacher.json"], output=corpus)
    verdicts = {"true": data / "labels.jsonl", "rules": root / "rules.verdicts.jsonl"}
    if not verdicts["rules"].exists():
        VERDICTS.write(verdicts["rules"], (judge_rules(t) for t in CORPUS.read(corpus)))
    datasets = {}
    for name, (policy, labels, options) in POLICIES.items():
        if name not in policies:
            continue
        folder = root / "datasets" / name
        if not (folder / "build.json").exists():
            build_dataset(
                corpus,
                verdicts[labels] if labels else None,
                policy=policy,
                policy_options=options,
                tokenizer=str(tokenizer),
                output=folder,
                max_length=max_len,
                overlong="skip",
            )
        datasets[name] = folder
    return datasets


def dataset_facts(folder: Path) -> dict[str, Any]:
    """Rows and trained tokens of a built dataset (from its manifest)."""
    manifest = json.loads((folder / "build.json").read_text())
    return {k: manifest.get(k) for k in ("counts", "stats") if k in manifest}


def train_to(
    run: Path,
    data: Path,
    steps: int,
    args: argparse.Namespace,
    seed: int,
    model_cfg: Path,
    tokenizer: Path,
) -> None:
    """Train (or resume) the student in `run` up to `steps` optimizer steps."""
    from srft.train.config import TrainConfig
    from srft.train.trainer import train

    train(
        TrainConfig(
            data=data,
            output_dir=run,
            model_config_path=model_cfg,
            tokenizer=str(tokenizer),
            full=True,
            max_steps=steps,
            lr=args.lr,
            lr_scheduler="constant_with_warmup",
            warmup_steps=min(args.warmup, args.eval_every),
            batch_tokens=args.batch_tokens,
            grad_accum=args.grad_accum,
            max_length=args.max_len,
            seed=seed,
            precision=args.precision,
            attn_implementation=args.attn,
            activation_checkpointing=False,
            save_steps=args.eval_every,
            save_total_limit=1,
            loss_impl=args.loss,
            resume=(run / "metrics.jsonl").exists(),
            progress=False,
            log_steps=10_000,
        )
    )


def run(args: argparse.Namespace) -> None:
    """The whole experiment; appends one JSON line per (setting, seed, step) evaluation."""
    import torch

    from srft.toy.eval import evaluate_students, format_table
    from srft.toy.rollout import load_student
    from srft.toy.tokenizer import save_tokenizer

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer_dir = out / "tokenizer"
    tok = save_tokenizer(tokenizer_dir)
    model_cfg = out / "student-config.json"
    model_cfg.write_text(
        json.dumps(student_config(len(tok), args.hidden, args.layers, args.max_len))
    )
    data_root = Path(args.data_root) if args.data_root else out
    if args.prepare_only:
        for setting in args.settings:
            prepare(data_root, setting, args.data_seed, args.episodes, tokenizer_dir,
                    args.max_len, args.policies)  # fmt: skip
        return
    results = out / "results.jsonl"
    deadline = time.monotonic() + args.time_limit * 60
    hardware = {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    # A rerun with more --steps extends the experiment: evaluations on file are not repeated.
    done = {(r["setting"], r["seed"], r["step"]) for r in read_results(out)}
    for chunk_end in range(args.eval_every, args.steps + 1, args.eval_every):
        for setting in args.settings:
            for seed in args.seeds:
                if (setting, seed, chunk_end) in done:
                    continue
                if time.monotonic() > deadline:
                    print("time limit reached; results so far are in", results, flush=True)
                    return
                t0 = time.monotonic()
                datasets = prepare(
                    data_root,
                    setting,
                    args.data_seed,
                    args.episodes,
                    tokenizer_dir,
                    args.max_len,
                    args.policies,
                )
                runs = {}
                for name, data in datasets.items():
                    runs[name] = out / setting / f"seed-{seed}" / "runs" / name
                    train_to(runs[name], data, chunk_end, args, seed, model_cfg, tokenizer_dir)
                t_train = time.monotonic() - t0
                students = {name: load_student(path) for name, path in runs.items()}
                result = evaluate_students(
                    students,
                    episodes=args.eval_episodes,
                    seed=args.eval_seed,
                    temperatures=(0.0, 1.0),
                    max_steps=args.eval_step_limit,
                    max_new_tokens=64,
                    batch_size=args.rollout_batch,
                    probes=args.probes,
                )
                record = {
                    "setting": setting,
                    "seed": seed,
                    "step": chunk_end,
                    "train_episodes": args.episodes,
                    "seconds_train": round(t_train, 1),
                    "seconds_eval": round(time.monotonic() - t0 - t_train, 1),
                    "datasets": {n: dataset_facts(d) for n, d in datasets.items()},
                    "final_loss": {
                        n: json.loads((p / "metrics.jsonl").read_text().splitlines()[-1]).get(
                            "loss"
                        )
                        for n, p in runs.items()
                    },
                    "args": {k: v for k, v in vars(args).items() if k != "func"},
                    "hardware": hardware,
                    "eval": result,
                }
                with results.open("a") as f:
                    f.write(json.dumps(record) + "\n")
                print(
                    f"== {setting} seed {seed} step {chunk_end} "
                    f"(train {t_train:.0f}s, eval {record['seconds_eval']:.0f}s)",
                    flush=True,
                )
                print(format_table(result), flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--out",
        nargs="+",
        help="The experiment folder; with --summarise, one or more (e.g. one per data size).",
    )
    p.add_argument("--summarise", action="store_true", help="Print the tables of results.jsonl.")
    p.add_argument(
        "--final",
        nargs="+",
        type=Path,
        help="Print the skill ladder and the tables of these `srft toy eval` results (one or "
        "more files per training seed), labelled with --episodes, --settings and --steps; stop.",
    )
    p.add_argument(
        "--episodes", type=int, default=2000, help="Teacher episodes per (setting, seed)."
    )
    p.add_argument("--settings", type=lambda s: s.split(","), default=["default", "sloppy"])
    p.add_argument("--data-seed", type=int, default=0, help="Seed of the generated data.")
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument(
        "--policies",
        type=lambda s: s.split(","),
        default=list(STUDENTS),
        help=f"Students to train (default {','.join(STUDENTS)}; any of {','.join(POLICIES)}).",
    )
    p.add_argument("--steps", type=int, default=300, help="Optimizer steps per student.")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-episodes", type=int, default=150)
    p.add_argument("--eval-seed", type=int, default=9999)
    p.add_argument("--probes", type=int, default=100, help="Decision probes per decision.")
    p.add_argument("--eval-step-limit", type=int, default=8, help="Turns per eval episode.")
    p.add_argument(
        "--batch-tokens",
        type=int,
        default=8192,
        help="Tokens per packed micro-batch. On a CPU keep it near the longest trajectory: "
        "SDPA runs a packed row's block-diagonal mask densely, so cost grows with its square.",
    )
    p.add_argument("--grad-accum", type=int, default=1, help="Micro-batches per optimizer step.")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=10, help="Linear warm-up steps.")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--max-len", type=int, default=1024)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--attn",
        default="sdpa",
        help="Trainer attention. sdpa: flex_attention compiles a kernel per process, which costs "
        "more than it saves for a 0.7M-parameter student.",
    )
    p.add_argument("--precision", default="fp32", help="Trainer precision (fp32 | bf16 | auto).")
    p.add_argument(
        "--rollout-batch", type=int, default=128, help="Episodes per batched generate call."
    )
    p.add_argument(
        "--data-root",
        default=None,
        help="Where the generated data and datasets live (default --out); lets several "
        "processes (one per seed) train on one prepared copy.",
    )
    p.add_argument(
        "--prepare-only",
        action="store_true",
        help="Generate, label and build the datasets of --settings and --policies, then stop.",
    )
    p.add_argument(
        "--loss",
        default="stock",
        help="Trainer loss_impl (stock is fastest for tiny vocabularies).",
    )
    p.add_argument(
        "--time-limit", type=float, default=60.0, help="Minutes; stops between evaluations."
    )
    args = p.parse_args(argv)
    unknown = [n for n in args.policies if n not in POLICIES]
    if unknown:
        p.error(f"unknown student {', '.join(unknown)}; choose from {', '.join(POLICIES)}")
    if args.final:
        records = eval_records(args.final, args.episodes, args.settings[0], args.steps)
        print(skill_ladder(records))
        print(summarise(records))
        return
    if not args.out:
        p.error("--out is required")
    if args.summarise:
        outs = [Path(o) for o in args.out]
        records = merged_results(outs)
        print(across(records))
        print()
        # Success, then the two copies that decide it (the file, the value).
        for measure in ("success", "edit_right_line", "write_right_value"):
            print(learning_curves(records, measure=measure))
            print()
        print(copy_steps(records))
        print()
        print(skills_by_step(records))
        print(summarise(records))
        for out in outs:
            print(f"\n## {out}\n")
            print(decision_signal(out))
            print()
            print(step_signal(out))
            print()
            print(critic_agreement(out))
        return
    if len(args.out) != 1:
        sys.exit("an experiment runs in one --out folder")
    args.out = args.out[0]
    if args.steps % args.eval_every:
        sys.exit("--steps must be a multiple of --eval-every")
    run(args)


if __name__ == "__main__":
    main()
