"""Do two versions of srft write the same files? A refactoring's proof of "behaviour unchanged".

Runs one fixed scenario on the real trajectories of ../shared/data with each version of the
code, in the same folder (so absolute paths inside the outputs agree), and compares every file
they wrote byte for byte:

    python scripts/same_outputs.py --before 5e21861            # a git revision vs this tree
    python scripts/same_outputs.py --before 5e21861 --after HEAD

The scenario: `srft ingest` of every shared format (with its outcome labels and rejects),
`srft stats --json`, `srft critic --critic rules`, `srft build` with two policies on SmolLM2's
real tokenizer and chat template, `srft export --to trl`, `srft report`, and `srft run` of a
config (rules critic, two policies, a tiny random Llama trained 2 steps on the CPU, held-out
NLL, comparison, report). Each version runs in a child process with its own `src/` first on
`PYTHONPATH`, so the installed srft does not matter.

A few values cannot repeat between two runs of even the same code: wall-clock times and
throughputs, timestamps. They are listed in `VOLATILE` (JSON keys); where two files differ, the comparison
replaces just these keys' values and compares again, and counts the files equal only so. Exit 0
when everything is identical, 1 otherwise (each differing file named, with its first
differing line).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "trajectories"

# JSON keys whose values are wall-clock times, speeds or timestamps, wherever they stand (JSON,
# JSON Lines, or the JSON embedded in report.html); everything else must be equal to the byte.
# In the run manifest, a training stage's `output_hash` hashes metrics.jsonl (and so its speeds),
# and the stages after it hash that hash into theirs: those hashes are masked too (`_manifest`),
# while every file they hash is compared here itself.
VOLATILE = (
    "seconds", "elapsed_s", "tokens_per_s", "trained_tokens_per_s", "started_at",
    "finished_at", "started", "finished", "generated", "requests_per_s", "wall_s",
)  # fmt: skip
_VOLATILE = re.compile(
    r'("(?:' + "|".join(map(re.escape, VOLATILE)) + r')":\s*)("[^"]*"|-?[0-9][0-9.eE+-]*|null)'
)


def sh(cmd: list[str], *, src: Path, cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    env.pop("CI", None)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode not in (0, 3):
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def tiny_student(folder: Path, tokenizer_dir: Path) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer (seeded: the same weights every time)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def scenario(src: Path, work: Path, tokenizer: Path, student: Path) -> None:
    """Every stage once, on ../shared/data, into `work`."""
    srft = [sys.executable, "-m", "srft.cli"]
    data = SHARED
    sh([*srft, "ingest", str(data), "--labels", str(data / "mini-swe-agent-v1-gemini/logs"),
        "--labels", str(data / "mini-swe-agent-v2-deepseek/deepseek__deepseek-chat.deepseek_chat_dev.json"),
        "--skip-invalid", "--rejects", "rejects.jsonl", "-o", "corpus.jsonl"], src=src, cwd=work)  # fmt: skip
    env_json = work / "stats.json"
    with env_json.open("w") as f:
        subprocess.run([*srft, "stats", "corpus.jsonl", "--json"], cwd=work, stdout=f, check=True,
                       env={**os.environ, "PYTHONPATH": str(src)})  # fmt: skip
    sh(
        [*srft, "critic", "corpus.jsonl", "--critic", "rules", "-o", "verdicts.jsonl"],
        src=src,
        cwd=work,
    )
    for policy in ("srft", "sft"):
        sh([*srft, "build", "corpus.jsonl", "--verdicts", "verdicts.jsonl", "--policy", policy,
            "--tokenizer", str(tokenizer), "--max-length", "32768", "--overlong", "truncate",
            "-o", f"dataset-{policy}"], src=src, cwd=work)  # fmt: skip
    sh([*srft, "export", "dataset-srft", "--to", "trl", "-o", "export-trl"], src=src, cwd=work)
    sh([*srft, "report", "--corpus", "corpus.jsonl", "--verdicts", "verdicts.jsonl",
        "--dataset", "srft=dataset-srft", "--dataset", "sft=dataset-sft", "-o", "report.html"], src=src, cwd=work)  # fmt: skip
    config = {
        "name": "same-outputs",
        "run_dir": "run",
        "inputs": [str(data / "mini-swe-agent-v2-deepseek")],
        "critic": {"name": "rules"},
        "policies": ["sft", "srft"],
        "build": {"max_length": 6144, "overlong": "truncate"},
        "train": {"model": str(student), "options": {
            "max_steps": 2, "full": True, "learning_rate": 1e-3,
            "per_device_train_batch_tokens": 8192, "progress": False}},
        "evaluate": {"heldout_fraction": 0.25, "seed": 0},
    }  # fmt: skip
    (work / "run.yaml").write_text(json.dumps(config), encoding="utf-8")
    sh([*srft, "run", "run.yaml"], src=src, cwd=work)


AFTER_TRAINING = ("train", "evaluate", "compare", "report")


def _manifest(text: str) -> str:
    """A run manifest with the hashes of the stages at and after training masked."""
    data = json.loads(text)
    for record in data.get("stages", {}).values():
        if record.get("kind") in AFTER_TRAINING:
            record["input_hash"] = record["output_hash"] = "<volatile>"
    return json.dumps(data, indent=2)


def masked(data: bytes, rel: Path) -> bytes:
    """`data` with the values of the `VOLATILE` keys replaced by one placeholder."""
    text = data.decode("utf-8", errors="replace")
    if rel.name == "manifest.json":
        text = _manifest(text)
    return _VOLATILE.sub(r"\1<volatile>", text).encode()


def compare(a: Path, b: Path) -> list[str]:
    """Names of the files that differ (or exist on one side only), with the first difference."""
    files = sorted({p.relative_to(a) for p in a.rglob("*") if p.is_file()}
                   | {p.relative_to(b) for p in b.rglob("*") if p.is_file()})  # fmt: skip
    problems, normalised = [], 0
    for rel in files:
        fa, fb = a / rel, b / rel
        if not fa.exists() or not fb.exists():
            problems.append(f"{rel}: only {'after' if fb.exists() else 'before'}")
            continue
        da, db = fa.read_bytes(), fb.read_bytes()
        if da == db:
            continue
        da, db = masked(da, rel), masked(db, rel)
        if da == db:
            normalised += 1
            continue
        la, lb = da.decode(errors="replace").splitlines(), db.decode(errors="replace").splitlines()
        first = next(
            (i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y),
            min(len(la), len(lb)),
        )
        before = la[first][:160] if first < len(la) else "<end>"
        after = lb[first][:160] if first < len(lb) else "<end>"
        problems.append(f"{rel}: line {first + 1}\n    before: {before}\n    after:  {after}")
    print(f"{len(files)} files compared; {normalised} equal once times and speeds are masked")
    return problems


def tree_at(rev: str, into: Path) -> Path:
    """A checkout of `rev` (a git worktree in `into`)."""
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(into), rev], cwd=ROOT,
                   check=True, capture_output=True)  # fmt: skip
    return into


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="git revision of the old code")
    ap.add_argument(
        "--after", default=None, help="git revision of the new code (default: this tree)"
    )
    ap.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED}: not found (the real trajectories of ../shared/data)")
    from srft.smollm2 import smollm2_dir

    tmp = Path(tempfile.mkdtemp(prefix="same-outputs-"))
    keep = args.keep or tmp
    keep.mkdir(parents=True, exist_ok=True)
    trees = []
    try:
        tokenizer = smollm2_dir()
        student = tiny_student(tmp / "student", tokenizer)
        sides = {"before": tree_at(args.before, tmp / "tree-before")}
        sides["after"] = tree_at(args.after, tmp / "tree-after") if args.after else ROOT
        trees = [p for p in sides.values() if p != ROOT]
        for side, tree in sides.items():
            work = tmp / "work"  # the same path for both sides: paths inside outputs agree
            work.mkdir()
            print(f"{side}: {tree}", flush=True)
            scenario(tree / "src", work, tokenizer, student)
            shutil.move(work, keep / side)
        problems = compare(keep / "before", keep / "after")
    finally:
        for tree in trees:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           capture_output=True)  # fmt: skip
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    for line in problems:
        print("DIFFERENT", line)
    print("identical" if not problems else f"{len(problems)} files differ")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
