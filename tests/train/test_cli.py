"""`srft train` from the command line: flags and config file share one schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from srft.cli import app
from srft.train.config import TrainConfigError, load_config

from .tiny import make_rows, save_dataset, tiny_config


def _word_tokenizer(folder: Path) -> Path:
    """A word-level tokenizer built in code (as the toy testbed does), saved as a folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"w{i}": i for i in range(3, 128)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", eos_token="</s>")
    tok.save_pretrained(folder)
    return folder


def test_random_init_training_from_a_config_and_a_built_tokenizer(tmp_path: Path):
    """The toy testbed's path: a tiny Llama from scratch, tokenizer built in code, via the CLI."""
    tiny_config("llama").save_pretrained(tmp_path / "arch")
    tokenizer = _word_tokenizer(tmp_path / "tok")
    save_dataset(make_rows([30, 50, 40, 20]), tmp_path / "data")
    (tmp_path / "train.yaml").write_text(
        "learning_rate: 0.01\nper_device_train_batch_tokens: 64\nseed: 3\nsave_steps: 2\n"
    )
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--config", str(tmp_path / "train.yaml"),
            "--data", str(tmp_path / "data"),
            "--model-config-path", str(tmp_path / "arch" / "config.json"),
            "--tokenizer", str(tokenizer),
            "--full",
            "--max-steps", "3",
            "-o", str(tmp_path / "run"),
            "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "run" / "train.json").read_text())
    assert info["config"]["learning_rate"] == 0.01 and info["config"]["max_steps"] == 3
    assert info["model_kind"] == "full" and info["total_steps"] == 3
    from srft.train import load_model

    model, tok = load_model(tmp_path / "run")
    assert model.config.model_type == "llama"
    assert tok.convert_tokens_to_ids("w7") == 7


def test_a_flag_wins_over_the_config_file(tmp_path: Path):
    (tmp_path / "c.yaml").write_text("learning_rate: 0.5\ngradient_accumulation_steps: 3\n")
    cfg = load_config(
        tmp_path / "c.yaml",
        {"learning_rate": 0.25, "data": "d", "output_dir": "o", "model": "m"},
    )
    assert (cfg.learning_rate, cfg.gradient_accumulation_steps, cfg.num_train_epochs) == (
        0.25,
        3,
        1,
    )


def test_the_old_srft_names_still_read_as_the_transformers_names(tmp_path: Path):
    (tmp_path / "c.yaml").write_text("lr: 0.5\ngrad_accum: 3\nbatch_tokens: 64\nepochs: 2\n")
    cfg = load_config(tmp_path / "c.yaml", {"data": "d", "output_dir": "o", "model": "m"})
    assert cfg.dump()["learning_rate"] == 0.5
    assert (cfg.gradient_accumulation_steps, cfg.per_device_train_batch_tokens) == (3, 64)
    assert cfg.num_train_epochs == 2 and "lr" not in cfg.dump()


def test_an_unknown_config_field_names_the_file_the_field_and_the_closest_name(tmp_path: Path):
    (tmp_path / "c.yaml").write_text("lern_rate: 0.1\n")
    with pytest.raises(
        TrainConfigError, match=r"c.yaml: lern_rate: unknown key \(did you mean 'learning_rate'\?\)"
    ):
        load_config(tmp_path / "c.yaml", {"data": "d", "output_dir": "o", "model": "m"})


def test_a_model_is_required_from_exactly_one_source():
    with pytest.raises(TrainConfigError, match="exactly one of `model`"):
        load_config(None, {"data": "d", "output_dir": "o"})


def test_the_cli_reports_a_bad_value_in_the_users_words_without_a_traceback(tmp_path: Path):
    result = CliRunner().invoke(
        app, ["train", "--data", "d", "-o", "o", "--model", "m", "--learning-rate", "-1"]
    )
    assert result.exit_code == 2
    assert "learning_rate: -1.0 should be greater than 0" in result.output
    assert "Traceback" not in result.output and "Input should" not in result.output


def test_a_misspelt_flag_suggests_the_transformers_name():
    result = CliRunner().invoke(app, ["train", "--lern-rate", "1e-4"])
    assert result.exit_code == 2
    assert "No such option: --lern-rate" in result.output
    assert "--learning-rate" in result.output


def test_every_train_flag_is_a_config_key_of_the_same_spelling():
    import typer.main

    from srft.train.config import TrainConfig

    command = typer.main.get_command(app).commands["train"]
    fields = set(TrainConfig.model_fields)
    for param in command.params:
        if param.hidden or param.name == "config":
            continue
        long_flags = [o for o in param.opts if o.startswith("--")]
        assert long_flags, param.name
        assert long_flags[0][2:].replace("-", "_") in fields, long_flags[0]


def test_a_missing_dataset_folder_is_a_one_line_error(tmp_path: Path):
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(tmp_path / "nope"),
            "-o",
            str(tmp_path / "run"),
            "--model",
            "smollm2",
        ],
    )
    assert result.exit_code == 1
    assert "nope: no such dataset folder" in result.output


def test_a_bad_tokenizer_path_fails_before_any_training(tmp_path: Path, model_dir: Path):
    from srft.train.trainer import train

    save_dataset(make_rows([20, 20]), tmp_path / "data")
    cfg = load_config(
        None,
        {"data": tmp_path / "data", "output_dir": tmp_path / "run", "model": str(model_dir),
         "tokenizer": str(tmp_path / "no-tokenizer"), "full": True, "progress": False},
    )  # fmt: skip
    with pytest.raises(ValueError, match="no-tokenizer': no such file or folder"):
        train(cfg)
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_the_old_flag_spellings_still_read_and_the_new_flag_wins(monkeypatch, tmp_path: Path):
    import srft.train.config as config_module

    seen = {}

    def capture(path, overrides):
        seen.update(overrides)
        raise TrainConfigError("stop here")

    monkeypatch.setattr(config_module, "load_config", capture)
    args = ["train", "--lr", "0.5", "--learning-rate", "0.25", "--epochs", "2", "--output", "o"]
    result = CliRunner().invoke(app, [*args, "--grad-accum", "3", "--lora", "--attn", "sdpa"])
    assert result.exit_code == 2 and "stop here" in result.output
    assert (seen["learning_rate"], seen["num_train_epochs"], seen["output_dir"]) == (
        0.25,
        2,
        Path("o"),
    )
    assert (seen["gradient_accumulation_steps"], seen["full"]) == (3, False)
    assert seen["attn_implementation"] == "sdpa" and seen["model"] is None
