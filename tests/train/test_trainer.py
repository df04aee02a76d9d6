"""The training loop: the loss is the mean over a step's trained tokens, resume is exact, and
the run folder holds what the next stages load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from srft.train.config import TrainConfig
from srft.train.trainer import DatasetError, train

from .tiny import make_rows, save_dataset

torch = pytest.importorskip("torch")
safetensors = pytest.importorskip("safetensors.torch")


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return safetensors.load_file(str(run / "model" / "model.safetensors"))


def assert_same_weights(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    """Equal up to float noise: Adam divides by sqrt(v), so a summation-order difference in a
    near-zero gradient can move a weight by ~1e-6 at lr 1e-2 (a real difference moves it ~1e-2)."""
    assert got.keys() == want.keys()
    for name in got:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=2e-5, msg=name)


def _config(tmp_path: Path, model_dir: Path, name: str, **kwargs) -> TrainConfig:
    values = dict(
        data=tmp_path / "data",
        model=str(model_dir),
        output_dir=tmp_path / name,
        full=True,
        learning_rate=1e-2,
        lr_scheduler="linear",
        progress=False,
        seed=7,
    )
    values.update(kwargs)
    return TrainConfig(**values)


@pytest.fixture
def equal_rows(tmp_path: Path) -> Path:
    """Eight rows of 24 tokens: any token budget that is a multiple of 24 packs whole rows."""
    return save_dataset(make_rows([24] * 8, seed=1), tmp_path / "data")


def test_grad_accum_of_four_micro_batches_equals_one_batch_four_times_larger(
    tmp_path, model_dir, equal_rows
):
    accum = train(
        _config(
            tmp_path,
            model_dir,
            "accum",
            per_device_train_batch_tokens=24,
            gradient_accumulation_steps=4,
            max_steps=2,
        )
    )
    whole = train(
        _config(
            tmp_path,
            model_dir,
            "whole",
            per_device_train_batch_tokens=96,
            gradient_accumulation_steps=1,
            max_steps=2,
        )
    )
    assert _losses(accum) == pytest.approx(_losses(whole), abs=1e-5)
    assert_same_weights(_weights(accum), _weights(whole))


def test_rows_of_unequal_trained_counts_weigh_by_token_not_by_row(tmp_path, model_dir):
    """One row trains 2 tokens, the other 20: the step loss is the token mean, not the row mean."""
    rows = make_rows([40, 40], seed=2)
    rows[0]["labels"] = [-100] * 38 + rows[0]["input_ids"][38:]
    save_dataset(rows, tmp_path / "data")
    run = train(
        _config(
            tmp_path,
            model_dir,
            "run",
            per_device_train_batch_tokens=40,
            gradient_accumulation_steps=2,
            max_steps=1,
        )
    )
    from transformers import AutoModelForCausalLM

    from srft.train.collate import pack
    from srft.train.loss import loss_sum

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    alone = [pack([r["input_ids"]], [r["labels"]]) for r in rows]
    with torch.no_grad():
        sums = [float(loss_sum(model, batch, "stock")) for batch in alone]
    counts = [batch.num_trained for batch in alone]
    assert counts[0] == 2 and counts[1] > 10
    token_mean = sum(sums) / sum(counts)
    row_mean = (sums[0] / counts[0] + sums[1] / counts[1]) / 2
    assert _losses(run)[0] == pytest.approx(token_mean, rel=1e-5)
    assert _losses(run)[0] != pytest.approx(row_mean, rel=1e-3)


def test_resumed_at_step_three_continues_exactly_like_an_uninterrupted_run(tmp_path, model_dir):
    save_dataset(make_rows([11, 30, 17, 25, 40, 9, 33, 21, 14, 28], seed=4), tmp_path / "data")
    cfg = _config(
        tmp_path,
        model_dir,
        "run",
        per_device_train_batch_tokens=45,
        num_train_epochs=3,
        save_steps=3,
        lora_dropout=0.0,
    )
    run = train(cfg)
    uninterrupted = _losses(run)
    final = _weights(run)
    assert len(uninterrupted) > 4
    # Simulate a crash right after the checkpoint of step 3: later state is gone.
    for ckpt in (run / "checkpoints").iterdir():
        if ckpt.name != "step-3":
            shutil.rmtree(ckpt)
    shutil.rmtree(run / "model")
    resumed = train(cfg.model_copy(update={"resume": True}))
    assert _losses(resumed) == pytest.approx(uninterrupted, abs=1e-5)
    assert_same_weights(_weights(resumed), final)


def test_an_existing_run_folder_is_not_overwritten_without_resume(tmp_path, model_dir, equal_rows):
    cfg = _config(tmp_path, model_dir, "run", per_device_train_batch_tokens=96, max_steps=1)
    train(cfg)
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg)


def test_the_run_folder_holds_train_json_metrics_checkpoints_and_model(
    tmp_path, model_dir, equal_rows
):
    run = train(
        _config(
            tmp_path, model_dir, "run", per_device_train_batch_tokens=48, max_steps=2, save_steps=1
        )
    )
    info = json.loads((run / "train.json").read_text())
    assert (info["format"], info["version"], info["status"]) == ("srft.train", 1, "completed")
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    for key in ("loss", "lr", "grad_norm", "trained_tokens", "tokens_per_s"):
        assert all(m[key] is not None for m in metrics), key
    ckpt = run / "checkpoints" / "step-1"
    assert (ckpt / "model.safetensors").exists()
    assert {"optimizer.bin", "scheduler.bin", "trainer_state.json"} <= {
        p.name for p in ckpt.iterdir()
    }
    assert (run / "model" / "model.safetensors").exists()


def test_the_run_folder_files_read_back_through_their_models(tmp_path, model_dir, equal_rows):
    from srft.files.train_run import TRAIN_METRICS, TRAIN_RUN, read_train_metrics

    run = train(_config(tmp_path, model_dir, "run", per_device_train_batch_tokens=48, max_steps=2))
    info = TRAIN_RUN.read(run / "train.json")
    assert (info.status, info.steps, info.model_kind) == ("completed", 2, "full")
    assert info.final == json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    for line, record in TRAIN_METRICS.read_lines(run / "metrics.jsonl"):
        assert TRAIN_METRICS.dumps(record) == line  # the model serialises the file's own bytes
    assert [r.step for r in read_train_metrics(run)] == [1, 2]


def test_save_total_limit_keeps_only_the_newest_checkpoints(tmp_path, model_dir, equal_rows):
    run = train(
        _config(
            tmp_path,
            model_dir,
            "run",
            per_device_train_batch_tokens=24,
            max_steps=4,
            save_steps=1,
            save_total_limit=2,
        )
    )
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-3", "step-4"]


@pytest.mark.parametrize("merge", [False, True])
def test_a_lora_run_saves_a_model_that_load_model_returns(tmp_path, model_dir, equal_rows, merge):
    from srft.train import load_model

    run = train(
        _config(
            tmp_path,
            model_dir,
            "run",
            full=False,
            lora_r=4,
            merge_lora=merge,
            per_device_train_batch_tokens=96,
            max_steps=1,
        )
    )
    assert (run / "model" / "adapter_config.json").exists() is not merge
    model, _ = load_model(run)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[5, 6, 7]])).logits
    assert logits.shape == (1, 3, 128)


def test_a_lora_run_changes_only_adapter_weights(tmp_path, model_dir, equal_rows):
    run = train(
        _config(
            tmp_path,
            model_dir,
            "run",
            full=False,
            lora_r=4,
            per_device_train_batch_tokens=96,
            max_steps=2,
        )
    )
    saved = safetensors.load_file(str(run / "model" / "adapter_model.safetensors"))
    assert saved and all("lora_" in name for name in saved)
    assert any(t.abs().sum() > 0 for n, t in saved.items() if "lora_B" in n)


def test_a_missing_label_column_is_reported_with_the_dataset_path(tmp_path, model_dir):
    import datasets

    datasets.Dataset.from_list([{"input_ids": [1, 2, 3]}]).save_to_disk(
        str(tmp_path / "data" / "hf")
    )
    with pytest.raises(DatasetError, match=r"data/hf: missing column\(s\) labels"):
        train(_config(tmp_path, model_dir, "run", max_steps=1))


def test_rows_over_max_length_fail_with_row_and_length_unless_truncated(tmp_path, model_dir):
    save_dataset(make_rows([10, 50, 12]), tmp_path / "data")
    with pytest.raises(DatasetError, match="row 1 has 50 tokens > max_length 20"):
        train(_config(tmp_path, model_dir, "a", max_length=20, max_steps=1))
    run = train(_config(tmp_path, model_dir, "b", max_length=20, truncate=True, max_steps=1))
    assert json.loads((run / "train.json").read_text())["dataset"]["tokens"] == 10 + 20 + 12


def test_a_lora_checkpoint_holds_only_the_adapter_and_resumes_exactly(tmp_path, model_dir):
    save_dataset(make_rows([11, 30, 17, 25, 40, 9, 33], seed=4), tmp_path / "data")
    cfg = _config(
        tmp_path,
        model_dir,
        "run",
        full=False,
        lora_r=4,
        per_device_train_batch_tokens=60,
        num_train_epochs=2,
        save_steps=2,
    )
    run = train(cfg)
    uninterrupted = _losses(run)
    saved = safetensors.load_file(str(run / "checkpoints" / "step-2" / "model.safetensors"))
    assert saved and all("lora_" in name for name in saved)
    for ckpt in (run / "checkpoints").iterdir():
        if ckpt.name != "step-2":
            shutil.rmtree(ckpt)
    resumed = train(cfg.model_copy(update={"resume": True}))
    assert _losses(resumed) == pytest.approx(uninterrupted, abs=1e-5)
