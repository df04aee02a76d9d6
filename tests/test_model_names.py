"""Model and tokenizer names: `smollm2` everywhere, and one quick line when a model is missing."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from srft.cli import app
from srft.models import ModelNotFound, resolve_model

CORPUS = Path(__file__).parent / "fixtures" / "critic" / "small-corpus.jsonl"


def srft(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def closed_port() -> int:
    """A local port nothing listens on: a hub endpoint that refuses at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_uncached_hub_id_offline_fails_in_under_two_seconds_with_one_line(tmp_path: Path):
    started = time.perf_counter()
    result = srft(
        "build", str(CORPUS), "--policy", "sft", "--tokenizer", "Qwen/Qwen2.5-7B-Instruct",
        "--max-length", "4096", "-o", str(tmp_path / "ds"),
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )  # fmt: skip
    assert time.perf_counter() - started < 2
    assert result.exit_code == 1
    assert error_lines(result.output) == [
        "error: tokenizer 'Qwen/Qwen2.5-7B-Instruct' is not in the local Hugging Face cache and "
        "HF_HUB_OFFLINE is set: give a local folder instead, or run `huggingface-cli download "
        "Qwen/Qwen2.5-7B-Instruct` on a machine with network and copy the folder it prints (or "
        "its HF_HOME cache) here"
    ]


def test_an_unreachable_hub_without_the_offline_flag_also_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    started = time.perf_counter()
    with pytest.raises(ModelNotFound, match="not in the local Hugging Face cache and the hub "
                       "cannot be reached"):  # fmt: skip
        resolve_model("Qwen/Qwen2.5-7B-Instruct")
    assert time.perf_counter() - started < 2


def test_a_local_folder_without_its_files_names_the_missing_file(tmp_path: Path):
    (tmp_path / "student").mkdir()
    result = srft("train", "--data", str(tmp_path), "--model", str(tmp_path / "student"),
                  "-o", str(tmp_path / "run"))  # fmt: skip
    assert result.exit_code == 1
    assert error_lines(result.output) == [
        f"error: model folder {tmp_path / 'student'}: config.json is missing "
        "(nor is there adapter_config.json)"
    ]


def test_a_path_that_does_not_exist_is_named_as_such(tmp_path: Path):
    with pytest.raises(ModelNotFound, match=r"tokenizer '\./nowhere': no such file or folder"):
        resolve_model("./nowhere", "tokenizer")


def test_the_smollm2_alias_works_on_the_command_line(tmp_path: Path, smollm2_path: Path):
    result = srft("build", str(CORPUS), "--policy", "sft", "--tokenizer", "smollm2",
                  "--max-length", "8192", "--overlong", "skip", "-o", str(tmp_path / "ds"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert resolve_model("smollm2") == str(smollm2_path)
    build = (tmp_path / "ds" / "build.json").read_text()
    assert "SmolLM2" in build or "smollm2" in build.lower()
