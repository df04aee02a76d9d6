"""Two CPU processes (gloo, launched by torchrun) train exactly like one process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from srft.train.config import TrainConfig
from srft.train.trainer import train

from .tiny import make_rows, save_dataset

torch = pytest.importorskip("torch")
safetensors = pytest.importorskip("safetensors.torch")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _losses(run: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_process_data_parallel_equals_one_process_with_the_same_step(tmp_path, model_dir):
    save_dataset(make_rows([24] * 8, seed=1), tmp_path / "data")
    common = ["--data", str(tmp_path / "data"), "--model", str(model_dir), "--full"]
    common += [
        "--per-device-train-batch-tokens",
        "24",
        "--max-steps",
        "2",
        "--learning-rate",
        "0.01",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    launch += ["--master-port", str(_free_port()), "-m", "srft.cli", "train"]
    done = subprocess.run(
        [*launch, *common, "--gradient-accumulation-steps", "1", "-o", str(tmp_path / "ddp")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((tmp_path / "ddp" / "train.json").read_text())
    assert info["resolved"]["world_size"] == 2

    # One process doing both ranks' micro-batches as gradient accumulation: the same step.
    single = train(
        TrainConfig(
            data=tmp_path / "data",
            model=str(model_dir),
            output_dir=tmp_path / "single",
            full=True,
            per_device_train_batch_tokens=24,
            gradient_accumulation_steps=2,
            max_steps=2,
            learning_rate=0.01,
            progress=False,
        )
    )
    assert _losses(tmp_path / "ddp") == pytest.approx(_losses(single), abs=1e-5)
    got = safetensors.load_file(str(tmp_path / "ddp" / "model" / "model.safetensors"))
    want = safetensors.load_file(str(single / "model" / "model.safetensors"))
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=2e-5, msg=name)
