"""What every `srft ... --help` shows besides its options: a worked example.

Kept in one table rather than in each stage's `commands.py` so the examples read as one story
(the README's pipeline, command by command) and a test can check that no command lacks one. A
plug-in's command group adds its own examples to the table when it registers.
Required options are marked by typer itself (`[required]`); `srft train`, whose required
values may come from its --config file, says so in their help.
"""

from __future__ import annotations

import typer

# Command path (as typed after `srft`) -> example lines shown at the end of its --help.
EXAMPLES: dict[str, str] = {
    "ingest": "srft ingest trajs/ --labels results.json -o corpus.jsonl",
    "stats": "srft stats corpus.jsonl --tokenizer smollm2",
    "critic": "srft critic corpus.jsonl -o verdicts.jsonl --critic rules\n"
    "srft critic corpus.jsonl -o verdicts.jsonl --critic llm --base-url "
    "http://localhost:8000/v1 --model Qwen/Qwen2.5-72B-Instruct",
    "critic-eval": "srft critic-eval --pred verdicts.jsonl --gold gold.jsonl",
    "critic-status": "srft critic-status critic-cache.sqlite --corpus corpus.jsonl",
    "critic-vote": "srft critic-vote a.jsonl b.jsonl c.jsonl -o voted.jsonl",
    "critic-bench": "srft critic-bench corpus.jsonl -o bench/",
    "build": "srft build corpus.jsonl --verdicts verdicts.jsonl --policy srft "
    "--tokenizer smollm2 --max-length 4096 -o dataset/",
    "template check": "srft template check --tokenizer smollm2 --end-of-turn '<|im_end|>'",
    "export": "srft export dataset/ --to llamafactory -o export/",
    "train": "srft train --data dataset/ --model smollm2 -o run/ --max-steps 100 "
    "--learning-rate 1e-4",
    "train-configs": "accelerate launch --config_file $(srft train-configs fsdp2) "
    "-m srft.cli train --config $(srft train-configs full-multi-gpu) ...",
    "report": "srft report --corpus corpus.jsonl --verdicts verdicts.jsonl --output report.html",
    "run": "srft run config.yaml --dry-run\nsrft run config.yaml",
    "demo": "srft demo --dir srft-demo",
    "evaluate nll": "srft evaluate nll datasets/heldout/ --model base=smollm2 --model srft=run/",
    "evaluate handoff": "srft evaluate handoff run-folder/ run-folder/runs/srft",
    "split": "srft split corpus.jsonl --verdicts verdicts.jsonl --heldout-fraction 0.2 -o split/",
}  # a plug-in's commands (`srft.commands` entry points) add theirs when they register


def _epilog(example: str) -> str:
    # Rich markup folds single newlines; a blank line between examples keeps them apart.
    lines = example.split("\n")
    return "[bold]Example:[/bold]\n\n" + "\n\n".join(f"  $ {line}" for line in lines)


def add_examples(app: typer.Typer, prefix: str = "") -> None:
    """Set the example of every command of `app` (and its sub-apps) that has none yet."""
    for info in app.registered_commands:
        name = f"{prefix}{info.name}"
        if info.epilog is None and name in EXAMPLES:
            info.epilog = _epilog(EXAMPLES[name])
    for group in app.registered_groups:
        if group.typer_instance is not None:
            add_examples(group.typer_instance, f"{prefix}{group.name} ")
