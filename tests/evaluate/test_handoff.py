"""The agent-evaluation hand-off: merged model, and commands that name it."""

from __future__ import annotations

import json
import shutil

from srft.evaluate.handoff import write_handoff
from srft.files.handoff import HANDOFF


def test_handoff_writes_serve_agent_and_harness_commands_naming_the_model(tmp_path, tiny_model_dir):
    h = write_handoff(tmp_path / "run", tiny_model_dir, name="srft", subset="lite", workers=2)
    folder = tmp_path / "run" / "handoff" / "srft"
    data = json.loads((folder / "handoff.json").read_text())
    assert data["format"] == HANDOFF.format and data["merged"] is False
    assert h.commands["serve"].startswith(f"vllm serve {tiny_model_dir.resolve()}")
    assert "--served-model-name srft-srft" in h.commands["serve"]
    assert "--model hosted_vllm/srft-srft" in h.commands["agent"]
    assert "HOSTED_VLLM_API_BASE=http://localhost:8000/v1" in h.commands["agent"]
    assert "--dataset_name princeton-nlp/SWE-bench_Lite" in h.commands["harness"]
    assert "preds.json" in h.commands["harness"]
    for step in ("serve", "agent", "harness"):
        script = (folder / f"{step}.sh").read_text()
        assert h.commands[step] in script
    assert h.commands["serve"] in (folder / "README.md").read_text()


def test_a_lora_adapter_is_merged_into_a_servable_model(tmp_path, tiny_model_dir):
    import torch
    from peft import LoraConfig, get_peft_model
    from tokenizers import Tokenizer, models
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    base_dir = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"a": 0, "<unk>": 1}, unk_token="<unk>"))
    )
    tok.save_pretrained(base_dir)
    peft_model = get_peft_model(
        base, LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    )
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)

    h = write_handoff(tmp_path / "run", adapter)
    merged = tmp_path / "run" / "handoff" / "student" / "merged"
    assert h.merged and h.model_dir == str(merged.resolve())
    assert not (merged / "adapter_config.json").exists()
    ids = torch.tensor([[1, 2, 3, 4]])
    reloaded = AutoModelForCausalLM.from_pretrained(merged).eval()
    with torch.no_grad():
        expected = peft_model.eval()(input_ids=ids).logits
        assert torch.allclose(reloaded(input_ids=ids).logits, expected, atol=1e-5)


def test_the_handoff_command_prints_the_commands_and_uses_a_run_folders_model(
    tmp_path, tiny_model_dir
):
    from typer.testing import CliRunner

    from srft.cli import app

    run = tmp_path / "runs" / "srft"
    shutil.copytree(tiny_model_dir, run / "model")
    (run / "train.json").write_text("{}")
    result = CliRunner().invoke(
        app, ["evaluate", "handoff", str(tmp_path), str(run), "--name", "srft"]
    )
    assert result.exit_code == 0, result.output
    assert f"vllm serve {(run / 'model').resolve()}" in result.output
    assert (tmp_path / "handoff" / "srft" / "serve.sh").is_file()
