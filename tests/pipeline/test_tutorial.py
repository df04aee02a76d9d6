"""docs/tutorial.md runs as written: every command block, in order, on real trajectories.

The blocks run in bash exactly as the tutorial prints them, with stand-ins for what a CI machine
lacks, each one a plain text substitution listed in `STAND_INS`: a local OpenAI-compatible test
server for the vLLM endpoints, a two-layer model (SmolLM2's tokenizer and chat template) for the
7B student, one process for `accelerate launch` on 8 GPUs, the CPU for CUDA, two training steps
for 500. The trajectories are six of the public Gemini runs in ../shared/data (the shortest
resolved and unresolved ones), under the path the tutorial names. A block after the comment
`<!-- tutorial-test: skip (...) -->` is left out (installing and serving vLLM).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.critic.fake_server import FakeChatServer

pytestmark = pytest.mark.slow

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
SKIP = "<!-- tutorial-test: skip"
GEMINI_RUNS = (
    "django__django-16429",  # resolved
    "django__django-17029",  # resolved
    "django__django-14765",  # resolved
    "sympy__sympy-23534",  # resolved
    "django__django-10999",  # unresolved
    "django__django-16667",  # unresolved
)
STUDENT = "Qwen/Qwen2.5-Coder-7B-Instruct"
ACCELERATE_8_GPUS = (
    "accelerate launch --config_file $(srft train-configs deepspeed-zero3) \\\n"
    "{indent}--num_processes 8 -m srft.cli train"
)


def blocks(markdown: str) -> list[tuple[str, str]]:
    """The fenced blocks (language, text) the test runs, in order; skipped ones left out."""
    found = []
    for match in re.finditer(r"(<!--[^\n]*-->\n)?```(\w+)\n(.*?)```", markdown, re.S):
        if match.group(1) and match.group(1).startswith(SKIP):
            continue
        found.append((match.group(2), match.group(3)))
    return found


def stand_ins(text: str, *, server: str, student: Path) -> str:
    """The tutorial's text with the CI stand-ins put in (see the module docstring)."""
    text = re.sub(r"http://gpu-\d:8000/v1", server, text)
    text = text.replace(STUDENT, str(student))
    for indent in ("    ", "      "):
        text = text.replace(ACCELERATE_8_GPUS.format(indent=indent), "python -m srft.cli train")
    text = text.replace(
        "launcher: accelerate launch --config_file zero3.yaml --num_processes 8",
        "launcher: python",
    )
    text = text.replace("--device cuda", "--device cpu")
    # One real trajectory per micro-batch: on the CPU the attention mask of a packed row grows
    # with the square of its length (65536 tokens would take 13 GB).
    text = text.replace(
        "--per-device-train-batch-tokens 65536", "--per-device-train-batch-tokens 8192"
    )
    text = text.replace(
        "per_device_train_batch_tokens: 65536", "per_device_train_batch_tokens: 8192"
    )
    text = text.replace("--max-steps 500", "--max-steps 2").replace(
        "max_steps: 500", "max_steps: 2"
    )
    return text


@pytest.fixture
def workdir(tmp_path: Path, shared_trajectories: Path) -> Path:
    """`data/gemini/{trajs,logs}` as the tutorial names them, linking six real runs."""
    source = shared_trajectories / "mini-swe-agent-v1-gemini"
    for kind in ("trajs", "logs"):
        (tmp_path / "data" / "gemini" / kind).mkdir(parents=True)
        for run in GEMINI_RUNS:
            (tmp_path / "data" / "gemini" / kind / run).symlink_to(source / kind / run)
    return tmp_path


def test_every_command_block_of_the_tutorial_runs_as_written(
    workdir: Path, tiny_student: Path
) -> None:
    markdown = TUTORIAL.read_text(encoding="utf-8")
    assert markdown.count(SKIP) == 1  # only the vLLM server is left out
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }
    ran = []
    with FakeChatServer() as server:
        for language, text in blocks(markdown):
            text = stand_ins(text, server=server.base_url, student=tiny_student)
            if language == "yaml":
                name = text.splitlines()[0].removeprefix("# ").strip()
                (workdir / name).write_text(text, encoding="utf-8")
                continue
            assert language == "bash", language
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", text],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert done.returncode == 0, f"{text}\n--- output ---\n{done.stdout}\n{done.stderr}"
            ran.append(done.stdout)
        assert server.requests, "the critic never called the endpoint"

    for path in (
        "corpus.jsonl", "verdicts.jsonl", "split/heldout.jsonl", "datasets/heldout",
        "runs/srft/model", "eval.json", "report.html",
        "runs/swe/comparison.md", "runs/swe/report.html",
    ):  # fmt: skip
        assert (workdir / path).exists(), path
    dry_run = next(out for out in ran if out.startswith("Plan for "))
    assert "critic `llm`: " in dry_run and " requests for 6 trajectories" in dry_run
