"""Equal steps or equal trained tokens? srft-true resumed to rft's trained-token count, then probed.

`srft` masks mistakes, so at equal optimizer steps it trains about 30% fewer tokens than `rft`
(experiments/toy/NOTEBOOK.md, "Equal steps, unequal signal"). This script takes the srft-true students
of a finished `toy_experiment.py` folder at `--from-step`, copies them, resumes each to
`--steps` (the trainer's own resume; the learning rate is constant after warm-up, so this equals
a run of `--steps` from the start), probes them on the experiment's own probe cases, and prints
paired margin differences against rft and srft-true at `--from-step` (pooled over seeds and
cases, 95% intervals).

    python experiments/toy/toy_equal_tokens.py --exp /tmp/exp/e10000 --steps 2240 --out /tmp/exp/tok
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exp", required=True, help="A finished toy_experiment.py --out folder.")
    p.add_argument("--out", required=True, help="Where the resumed students go.")
    p.add_argument("--steps", type=int, required=True, help="Optimizer steps to resume to.")
    p.add_argument("--from-step", type=int, default=1600)
    args = p.parse_args()

    import torch
    import toy_experiment as te

    from srft.toy.eval import paired_difference
    from srft.toy.probe import run_probes
    from srft.toy.rollout import load_student

    exp, out = Path(args.exp), Path(args.out)
    records = [json.loads(x) for x in (exp / "results.jsonl").read_text().splitlines() if x]
    settings = argparse.Namespace(**records[0]["args"])
    torch.set_num_threads(settings.threads)
    print("| teacher | probe | srft-true margin at", args.steps, "| minus rft at", args.from_step,
          "| minus srft-true at", args.from_step, "|")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for setting in sorted({r["setting"] for r in records}):
        pooled: dict[str, dict[str, list[float]]] = {}
        for seed in sorted({r["seed"] for r in records if r["setting"] == setting}):
            at = [
                r
                for r in records
                if r["setting"] == setting and r["seed"] == seed and r["step"] == args.from_step
            ]
            if not at:
                continue
            run = out / setting / f"seed-{seed}"
            if not (run / "done").exists():
                shutil.rmtree(run, ignore_errors=True)
                shutil.copytree(exp / setting / f"seed-{seed}" / "runs" / "srft-true", run)
                te.train_to(
                    run,
                    exp / setting / f"data-{settings.data_seed}" / "datasets" / "srft-true",
                    args.steps,
                    settings,
                    seed,
                    exp / "student-config.json",
                    exp / "tokenizer",
                )
                (run / "done").write_text("")
            probes = run_probes(*load_student(run), n=settings.probes, seed=settings.eval_seed)
            for probe, v in probes.items():
                cell = pooled.setdefault(probe, {"long": [], "rft": [], "srft": []})
                cell["long"] += v["margins"]
                cell["rft"] += at[0]["eval"]["probes"]["rft"][probe]["margins"]
                cell["srft"] += at[0]["eval"]["probes"]["srft-true"][probe]["margins"]
        for probe, cell in pooled.items():
            a = paired_difference(cell["long"], cell["rft"])
            b = paired_difference(cell["long"], cell["srft"])
            print(
                f"| {setting} | {probe} | {sum(cell['long']) / len(cell['long']):+.2f} | "
                f"{a['diff']:+.2f} [{a['lo']:+.2f}, {a['hi']:+.2f}] | "
                f"{b['diff']:+.2f} [{b['lo']:+.2f}, {b['hi']:+.2f}] |"
            )


if __name__ == "__main__":
    main()
