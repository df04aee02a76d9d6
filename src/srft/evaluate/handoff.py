"""The agent-evaluation hand-off: what to run to measure a student as an agent on SWE-bench.

Resolving SWE-bench tasks needs a GPU server, Docker and hours; srft does not run it. It writes
what a user needs to do it with the field's tools: a merged model folder (a LoRA adapter is
merged into its base with PEFT, since vLLM serves plain checkpoints most simply), and the exact
commands to serve it with vLLM, run mini-swe-agent on SWE-bench with it, and score the patches
with the SWE-bench harness. The commands are written as scripts and a README into the run
folder (`handoff/<name>/`), plus `handoff.json` for tools (`srft.files.handoff`); see
`docs/evaluate.md`.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from srft.files.handoff import HANDOFF, HANDOFF_JSON, Handoff
from srft.files.train_run import is_train_run
from srft.outputs import check_output, child_path, write_text_atomic

SWEBENCH_DATASETS = {
    "verified": "princeton-nlp/SWE-bench_Verified",
    "lite": "princeton-nlp/SWE-bench_Lite",
    "full": "princeton-nlp/SWE-bench",
}


def is_adapter(model_dir: str | Path) -> bool:
    """True if the folder holds a PEFT adapter rather than a full model."""
    return (Path(model_dir) / "adapter_config.json").is_file()


def merge_adapter(adapter_dir: str | Path, output: str | Path) -> Path:
    """Merge a LoRA adapter into its base model and save the result as a plain model folder.

    The base model is the one named in `adapter_config.json`; the tokenizer saved beside the
    adapter (or else the base's) is saved with it so the folder is servable on its own.
    """
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    adapter_dir, output = Path(adapter_dir), Path(output)
    model = AutoPeftModelForCausalLM.from_pretrained(adapter_dir)
    merged = model.merge_and_unload()
    output.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(output)
    base = json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"]
    tokenizer_source = adapter_dir if (adapter_dir / "tokenizer_config.json").exists() else base
    AutoTokenizer.from_pretrained(tokenizer_source).save_pretrained(output)
    return output


def build_commands(
    h: Handoff, *, max_model_len: int, tool_call_parser: str | None
) -> dict[str, str]:
    """The shell commands of the hand-off, each a complete line a user can paste.

    mini-swe-agent talks to models through litellm: `hosted_vllm/<name>` with
    `HOSTED_VLLM_API_BASE` reaches a vLLM server, and cost tracking is told to ignore a model
    litellm has no price for.
    """
    q = shlex.quote
    serve = [
        "vllm serve", q(h.model_dir),
        "--served-model-name", q(h.served_name),
        "--port", str(h.port),
        "--max-model-len", str(max_model_len),
    ]  # fmt: skip
    if tool_call_parser:
        serve += ["--enable-auto-tool-choice", "--tool-call-parser", q(tool_call_parser)]
    agent_env = (
        f"HOSTED_VLLM_API_BASE=http://localhost:{h.port}/v1 MSWEA_COST_TRACKING=ignore_errors"
    )
    agent = [
        agent_env, "mini-extra swebench",
        "--model", q(f"hosted_vllm/{h.served_name}"),
        "--subset", q(h.subset), "--split", q(h.split),
        "--workers", str(h.workers),
        "--output", q(h.agent_output),
    ]  # fmt: skip
    harness = [
        "python -m swebench.harness.run_evaluation",
        "--dataset_name", q(SWEBENCH_DATASETS.get(h.subset, h.subset)),
        "--split", q(h.split),
        "--predictions_path", q(str(Path(h.agent_output) / "preds.json")),
        "--max_workers", str(h.workers),
        "--run_id", q(h.run_id),
    ]  # fmt: skip
    return {
        "install": "pip install vllm mini-swe-agent swebench",
        "serve": " ".join(serve),
        "agent": " ".join(agent),
        "harness": " ".join(harness),
    }


def write_handoff(
    run_dir: str | Path,
    model_dir: str | Path,
    *,
    name: str = "student",
    merge: bool = True,
    port: int = 8000,
    subset: str = "verified",
    split: str = "test",
    workers: int = 8,
    max_model_len: int = 32768,
    tool_call_parser: str | None = None,
    overwrite: bool = True,
) -> Handoff:
    """Write the hand-off for `model_dir` into `run_dir/handoff/<name>/` and return it.

    `model_dir` is a model folder or a train run folder (its `model/` is used).

    A LoRA adapter is merged into `run_dir/handoff/<name>/merged/` when `merge` is set
    (otherwise the commands name the adapter folder as it is, which vLLM cannot serve alone:
    the README says so). `tool_call_parser` (e.g. `hermes` for Qwen) is for students trained on tool calls;
    mini-swe-agent's default text actions need none.

    `name` must be a plain name (it names a folder; `../x` is refused), and an existing
    hand-off of that name is replaced only with `overwrite` (the CLI's default is not to).
    """
    run_dir, model_dir = Path(run_dir), Path(model_dir)
    if is_train_run(model_dir):
        model_dir = model_dir / "model"  # its final model
    if not model_dir.is_dir():
        raise FileNotFoundError(f"{model_dir}: no such model folder")
    folder = child_path(run_dir / "handoff", name, what="--name")
    check_output(folder, kind="folder", overwrite=overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    merged = False
    served_dir = model_dir
    if is_adapter(model_dir) and merge:
        served_dir = merge_adapter(model_dir, folder / "merged")
        merged = True
    h = Handoff(
        name=name,
        model_dir=str(served_dir.resolve()),
        merged=merged,
        served_name=f"srft-{name}",
        port=port,
        subset=subset,
        split=split,
        workers=workers,
        agent_output=str((folder / "swebench").resolve()),
        run_id=f"srft-{name}",
    )
    h.commands = build_commands(h, max_model_len=max_model_len, tool_call_parser=tool_call_parser)
    HANDOFF.write(folder / HANDOFF_JSON, h)
    for step in ("serve", "agent", "harness"):
        script = folder / f"{step}.sh"
        write_text_atomic(script, f"#!/usr/bin/env bash\nset -euo pipefail\n{h.commands[step]}\n")
        script.chmod(0o755)
    write_text_atomic(folder / "README.md", _readme(h, adapter=is_adapter(served_dir)))
    return h


def _readme(h: Handoff, *, adapter: bool) -> str:
    warning = (
        "\n**This folder is a LoRA adapter, not a full model**: merge it first "
        "(`srft evaluate handoff --merge`), or serve the base model with "
        "`--enable-lora --lora-modules`.\n"
        if adapter
        else ""
    )
    return f"""# Agent evaluation of `{h.name}`

The student below is evaluated as an agent on SWE-bench ({h.subset}, split {h.split}) in three
steps: serve it with vLLM, let mini-swe-agent solve the tasks with it, score the patches with
the SWE-bench harness (needs Docker). Each step is also a script beside this file.

Model: `{h.model_dir}`{" (LoRA merged into its base)" if h.merged else ""}
{warning}
```bash
{h.commands["install"]}

# 1. serve the student (leave running; a GPU with room for the model)
{h.commands["serve"]}

# 2. run the agent on SWE-bench; writes trajectories and preds.json to the output folder
{h.commands["agent"]}

# 3. score the predictions with the SWE-bench harness
{h.commands["harness"]}
```

The resolved rate is in the harness's report (`*.{h.run_id}.json`). The trajectories
mini-swe-agent writes can be read back with `srft ingest`, so the student's own runs can become
the next round's training data.
"""
