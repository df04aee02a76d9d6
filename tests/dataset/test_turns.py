"""The model's own turn: where it starts, which token ends it, and the check that a trained
span is the whole turn (issue #20)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from srft.cli import app
from srft.dataset.encoder import BuildError, Encoder
from srft.dataset.policies import Decision
from srft.dataset.render import ChatRenderer, check_turn
from srft.files.corpus import CORPUS

from .conftest import trajectory
from .templates import QWEN25_LIKE

# A template whose end-of-turn marker is no known family's: only the user or the model folder
# can say that `<|fin|>` ends a turn.
FIN = (
    "{% for m in messages %}<|role|>{{ m.role }}\n{{ m.content }}<|fin|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|role|>assistant\n{% endif %}"
)
TURNS = [{"say": "Look.", "call": "ls", "obs": "a.py"}, {"say": "Done."}]


def _decision(n: int) -> Decision:
    return Decision(True, (True,) * n, (None,) * n, "test")


def _steps(encoder: Encoder, traj) -> list[str]:
    row = encoder.encode(traj, _decision(len(traj.steps)), policy="t", max_length=10**5).row
    ids = row["input_ids"]
    return [
        encoder.tokenizer.decode(list(ids[s["start"] : s["end"]]), skip_special_tokens=False)
        for s in row["steps"]
    ]


def _call_message(command: str) -> dict[str, Any]:
    call = {"id": "c", "type": "function", "function": {"name": "bash", "arguments": {}}}
    call["function"]["arguments"] = {"command": command}
    return {"role": "assistant", "content": "Look.", "tool_calls": [call]}


ENDS = ("<|im_end|>",)


def test_a_turn_cut_before_its_end_token_fails_the_check():
    text = 'Look.\n<tool_call>\n{"name": "bash", "arguments": {"command": "ls"}}\n</tool_call>'
    assert "does not end" in check_turn(text, _call_message("ls"), "<|im_end|>", ENDS)


def test_a_turn_cut_after_the_function_name_fails_the_check():
    # what GLM masks looked like: trained up to the name, arguments never trained
    assert "lacks 'ls -la'" in check_turn(
        "Look.\n<tool_call>bash<|im_end|>", _call_message("ls -la"), "<|im_end|>", ENDS
    )


def test_a_turn_ending_with_a_token_that_ends_no_turn_fails_the_check():
    text = 'Look.\n<tool_call>\n{"name": "bash", "arguments": {"command": "ls"}}\n</tool_call>'
    assert "no end-of-turn token" in check_turn(text, _call_message("ls"), "</tool_call>", ENDS)


def test_the_whole_turn_passes_the_check_with_arguments_in_any_written_form():
    for args in ('{"command": "echo \\"hi\\""}', '<arg_value>echo "hi"</arg_value>'):
        text = f"Look.\n<tool_call>bash {args}<|im_end|>"
        assert check_turn(text, _call_message('echo "hi"'), "<|im_end|>", ENDS) is None


def test_a_span_shortened_after_it_was_found_is_rejected_by_the_builder(tokenizer, monkeypatch):
    encoder = Encoder(tokenizer, QWEN25_LIKE)
    locate = ChatRenderer._locate

    def shortened(self, *args):
        parts, starts = locate(self, *args)
        cut = [p.__class__(**{**p.__dict__, "end": p.end - len(p.end_token)}) for p in parts]
        return cut, starts

    monkeypatch.setattr(ChatRenderer, "_locate", shortened)
    with pytest.raises(BuildError, match="does not end with its end-of-turn token"):
        _steps(encoder, trajectory(TURNS))


def test_an_end_token_the_tokenizer_does_not_know_is_found_from_end_of_turn(tokenizer):
    plain = Encoder(tokenizer, FIN)
    assert plain.renderer.features.end_text == ""
    told = Encoder(tokenizer, FIN, end_of_turn=["<|fin|>"])
    assert told.renderer.features.end_text == "<|fin|>"
    assert _steps(told, trajectory([{"say": "Done."}])) == ["Done.<|fin|>"]


def test_generation_config_stop_ids_count_as_end_of_turn_tokens(smollm2_path, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(smollm2_path))
    tok.add_tokens(["<|fin|>"])  # an ordinary token: not marked special
    folder = tmp_path / "model"
    tok.save_pretrained(folder)
    fin = tok.convert_tokens_to_ids("<|fin|>")
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": [2, fin]}))
    renderer = ChatRenderer(tok, FIN, model_folder=folder)
    assert renderer.features.end_text == "<|fin|>"


def test_the_generation_prompts_opened_think_is_not_trained(tokenizer):
    opens = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
    )
    encoder = Encoder(tokenizer, opens)
    assert encoder.renderer.features.prompt_opens == "<think>\n"
    steps = _steps(encoder, trajectory([{"say": "Done.", "think": "why"}]))
    assert steps == ["why\n</think>\n\nDone.<|im_end|>"]


def test_a_template_that_cannot_render_is_one_error_line_not_a_traceback(tmp_path):
    corpus, template = tmp_path / "corpus.jsonl", tmp_path / "broken.jinja"
    CORPUS.write(corpus, [trajectory(TURNS, id="u1")])
    template.write_text("{{ raise_exception('this template renders nothing') }}")
    result = _build(corpus, template, tmp_path)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "this template renders nothing" in lines[0]


def test_a_trajectory_the_template_cannot_express_is_rejected_with_its_reason(tmp_path):
    # a template that raises on tool results: the turn after a call cannot be rendered
    corpus, template = tmp_path / "corpus.jsonl", tmp_path / "no_tools.jinja"
    CORPUS.write(corpus, [trajectory(TURNS, id="u1"), trajectory([{"say": "Done."}], id="u2")])
    template.write_text(
        "{% for m in messages %}{% if m.role == 'tool' or 'tool_call' in m.content %}"
        "{{ raise_exception('no tools here') }}{% endif %}"
        "<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    result = _build(corpus, template, tmp_path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    rejects = [json.loads(x) for x in (tmp_path / "ds" / "rejected.jsonl").read_text().splitlines()]
    assert [r["trajectory_id"] for r in rejects] == ["u1"]
    assert "no tools here" in rejects[0]["reason"]


def _build(corpus: Path, template: Path, tmp_path: Path, *extra: str) -> Any:
    from srft.smollm2 import smollm2_dir

    args = ["build", str(corpus), "--policy", "sft", "--tokenizer", str(smollm2_dir())]
    args += ["--chat-template", str(template), "--max-length", "100000", "-o"]
    return CliRunner().invoke(app, [*args, str(tmp_path / "ds"), *extra])


def test_every_turn_reasoning_trains_each_dropped_turn_as_the_latest_in_its_own_row(tokenizer):
    from .templates import QWEN3_LIKE

    # observations as user messages: the Qwen3-like template drops every earlier turn's thinking
    traj = trajectory(
        [
            {"say": "Look.", "think": "where is it", "obs": "a.py"},
            {"say": "Done.", "think": "all good"},
        ]
    )
    encoder = Encoder(tokenizer, QWEN3_LIKE)
    kept = encoder.encode(traj, _decision(2), policy="t", max_length=10**5)
    assert kept.reasoning == (2, 1) and kept.turn_rows == []
    every = encoder.encode(traj, _decision(2), policy="t", max_length=10**5, reasoning="every-turn")
    row, [own] = every.row, every.turn_rows
    assert [s["trained"] for s in row["steps"]] == [False, True]  # trained in its own row
    assert own["trajectory_id"] == "t1@step0" and [s["index"] for s in own["steps"]] == [0]
    s = own["steps"][0]
    text = tokenizer.decode(list(own["input_ids"][s["start"] : s["end"]]))
    assert text == "<think>\nwhere is it\n</think>\n\nLook.<|im_end|>"
    assert own["num_trained"] == s["end"] - s["start"]


def test_template_check_shows_trained_masked_and_context_spans(smollm2_path, tmp_path):
    template = tmp_path / "qwen25.jinja"
    template.write_text(QWEN25_LIKE)
    args = ["template", "check", "--tokenizer", str(smollm2_path), "--chat-template", str(template)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["features"]["end_call"] == "<|im_end|>"
    runs = {kind: "".join(t for k, t in report["runs"] if k == kind) for kind, _ in report["runs"]}
    assert '"cat a.py"' in runs["masked"]  # step 1, masked in the sample
    assert '"pytest -q"' in runs["trained"] and '"git diff"' in runs["trained"]
    assert "Fix the failing test." in runs["context"] and "1 failed" in runs["context"]
    plain = CliRunner().invoke(app, args)
    assert plain.exit_code == 0 and "end of a tool-call turn" in plain.output


def test_build_json_counts_dropped_reasoning_and_the_every_turn_rows(smollm2_path, tmp_path):
    from srft.dataset.build import build_dataset

    from .templates import QWEN3_LIKE

    corpus, template = tmp_path / "corpus.jsonl", tmp_path / "qwen3.jinja"
    turns = [{"say": "Look.", "think": "where", "obs": "a.py"}, {"say": "Done.", "think": "ok"}]
    CORPUS.write(corpus, [trajectory(turns, id="u1"), trajectory([{"say": "Hi."}], id="u2")])
    template.write_text(QWEN3_LIKE)
    common = dict(policy="sft", tokenizer=smollm2_path, max_length=10**5, chat_template=template)
    kept = build_dataset(corpus, None, output=tmp_path / "a", **common)
    assert kept.manifest["reasoning"]["turns"] == 2
    assert kept.manifest["reasoning"]["dropped_by_template"] == 1
    assert kept.counts["rows"] == 2 and "turn_rows" not in kept.counts
    every = build_dataset(corpus, None, output=tmp_path / "b", reasoning="every-turn", **common)
    assert every.counts["rows"] == 2 and every.counts["turn_rows"] == 1
    assert every.stats["reasoning"]["turn_rows"] == 1
    assert (
        every.stats["reasoning"]["turn_row_tokens"]
        > every.stats["reasoning"]["turn_row_trained_tokens"]
        > 0
    )
    manifest = json.loads((tmp_path / "b" / "build.json").read_text())
    assert manifest["reasoning_mode"] == "every-turn"
