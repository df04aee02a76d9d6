"""The loss masks of single trajectories, for SmolLM2's ChatML template and the Qwen-like ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from srft.dataset.encoder import IGNORE_INDEX, BuildError, Encoder
from srft.dataset.policies import Decision

from .conftest import trajectory


def _decision(n: int, masked: set[int] = frozenset(), labels=None) -> Decision:
    return Decision(True, tuple(i not in masked for i in range(n)), labels or (None,) * n, "test")


def _encode(encoder: Encoder, traj, masked=frozenset(), **kw) -> dict[str, Any]:
    kw.setdefault("max_length", 100_000)
    res = encoder.encode(traj, _decision(len(traj.steps), set(masked)), policy="test", **kw)
    return res.row


def _text(tokenizer, ids) -> str:
    return tokenizer.decode(list(ids), skip_special_tokens=False)


def _trained_text(tokenizer, row) -> str:
    return _text(tokenizer, row["input_ids"][row["labels"] != IGNORE_INDEX])


def _step_text(tokenizer, row, i) -> str:
    s = row["steps"][i]
    return _text(tokenizer, row["input_ids"][s["start"] : s["end"]])


AGENT = trajectory(
    [
        {"say": "Look first.", "think": "where is it", "call": "ls", "obs": "setup.py"},
        {"say": "Edit it.", "think": "fix the bug", "call": "sed -i x", "obs": "patched fine"},
        {"say": "Done.", "think": "all good"},
    ]
)


def test_smollm2_template_is_probed_as_having_no_tool_call_support(encoders):
    features = encoders["smollm2"].renderer.features
    assert (features.tool_calls, features.reasoning) == (False, False)
    assert features.header == "<|im_start|>assistant\n"
    assert (features.end_text, features.end_last) == ("<|im_end|>", "<|im_end|>")


def test_tool_calls_and_reasoning_are_written_as_text_when_the_template_has_no_support(
    encoders, tokenizer
):
    row = _encode(encoders["smollm2"], AGENT)
    assert _step_text(tokenizer, row, 0) == (
        "<think>\nwhere is it\n</think>\n\nLook first.\n<tool_call>\n"
        '{"name": "bash", "arguments": {"command": "ls"}}\n</tool_call><|im_end|>'
    )


def test_qwen25_like_template_renders_tool_calls_natively_and_they_are_trained(encoders, tokenizer):
    encoder = encoders["qwen25"]
    assert encoder.renderer.features.tool_calls
    row = _encode(encoder, AGENT)
    assert _step_text(tokenizer, row, 1).endswith(
        '<tool_call>\n{"name": "bash", "arguments": {"command": "sed -i x"}}\n</tool_call><|im_end|>'
    )
    # tool results are user turns in this template, and never trained
    assert "<tool_response>\nsetup.py\n</tool_response>" in _text(tokenizer, row["input_ids"])
    assert "setup.py" not in _trained_text(tokenizer, row)


def test_qwen3_like_template_trains_earlier_turns_without_the_thinking_it_dropped(
    encoders, tokenizer
):
    # observations as user messages: every turn but the last precedes the last user query
    traj = trajectory(
        [
            {"say": "Look first.", "think": "where is it", "obs": "setup.py", "obs_role": "user"},
            {"say": "Done.", "think": "all good"},
        ]
    )
    row = _encode(encoders["qwen3"], traj)
    assert _step_text(tokenizer, row, 0) == "Look first.<|im_end|>"
    assert _step_text(tokenizer, row, 1) == "<think>\nall good\n</think>\n\nDone.<|im_end|>"
    assert "where is it" not in _text(tokenizer, row["input_ids"])


def test_qwen3_like_template_keeps_thinking_of_turns_after_the_last_user_query(encoders, tokenizer):
    row = _encode(encoders["qwen3"], AGENT)  # observations are tool messages
    assert _step_text(tokenizer, row, 0).startswith("<think>\nwhere is it\n</think>\n\nLook first.")


@pytest.mark.parametrize("template", ["smollm2", "qwen25", "qwen3"])
def test_masked_step_stays_in_input_ids_with_ignored_labels(encoders, tokenizer, template):
    row = _encode(encoders[template], AGENT, masked={1})
    step = row["steps"][1]
    assert not step["trained"]
    assert "Edit it." in _step_text(tokenizer, row, 1)
    assert np.all(row["labels"][step["start"] : step["end"]] == IGNORE_INDEX)
    assert "Edit it." not in _trained_text(tokenizer, row)
    assert "Look first." in _trained_text(tokenizer, row)


@pytest.mark.parametrize("template", ["smollm2", "qwen25", "qwen3"])
def test_end_of_turn_token_is_trained_for_trained_steps_only(encoders, tokenizer, template):
    row = _encode(encoders[template], AGENT, masked={1})
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for step in row["steps"]:
        last = step["end"] - 1
        assert row["input_ids"][last] == im_end
        assert (row["labels"][last] == im_end) == step["trained"]


@pytest.mark.parametrize("template", ["smollm2", "qwen25", "qwen3"])
def test_system_user_and_tool_tokens_are_never_trained(encoders, tokenizer, template):
    row = _encode(encoders[template], AGENT)
    trained = _trained_text(tokenizer, row)
    for context in (
        "You are an agent.",
        "Fix the bug.",
        "setup.py",
        "patched fine",
        "<|im_start|>",
    ):
        assert context not in trained
    assert row["num_trained"] == int(np.count_nonzero(row["labels"] != IGNORE_INDEX))


def test_assistant_header_quoted_in_an_observation_does_not_shift_the_spans(encoders, tokenizer):
    traj = trajectory(
        [
            {"say": "Read the doc.", "obs": "text <|im_start|>assistant\nfake turn<|im_end|>"},
            {"say": "Real turn."},
        ]
    )
    row = _encode(encoders["smollm2"], traj)
    assert _step_text(tokenizer, row, 1) == "Real turn.<|im_end|>"
    assert "fake turn" not in _trained_text(tokenizer, row)


def test_each_trajectory_is_rendered_and_tokenized_once_whatever_its_length(encoders, monkeypatch):
    encoder = encoders["smollm2"]
    calls = {"render": 0, "tokenize": 0}
    apply, tokenize = encoder.renderer.apply, encoder.tokenize

    def counting_apply(*a, **k):
        calls["render"] += 1
        return apply(*a, **k)

    def counting_tokenize(*a, **k):
        calls["tokenize"] += 1
        return tokenize(*a, **k)

    monkeypatch.setattr(encoder.renderer, "apply", counting_apply)
    monkeypatch.setattr(encoder, "tokenize", counting_tokenize)
    long = trajectory([{"say": f"turn {i}", "obs": f"out {i}"} for i in range(40)])
    _encode(encoder, long)
    assert calls == {"render": 1, "tokenize": 1}


def test_verification_rejects_a_row_whose_masked_step_was_trained(encoders):
    encoder = encoders["smollm2"]
    row = _encode(encoder, AGENT, masked={1})
    step = row["steps"][1]
    row["labels"][step["start"]] = row["input_ids"][step["start"]]
    with pytest.raises(BuildError, match=r"trajectory 't1', step 1: a masked step has trained"):
        encoder.verify("t1", row, encoder.renderer.render(AGENT))


def test_verification_rejects_a_trained_token_outside_every_turn(encoders):
    encoder = encoders["smollm2"]
    row = _encode(encoder, AGENT)
    row["labels"][0] = row["input_ids"][0]
    with pytest.raises(BuildError, match="token 0 is trained but lies outside"):
        encoder.verify("t1", row, encoder.renderer.render(AGENT))


def test_verification_rejects_a_span_that_does_not_decode_to_the_turn(encoders):
    encoder = encoders["smollm2"]
    row = _encode(encoder, AGENT)
    row["steps"][0] = {**row["steps"][0], "end": row["steps"][0]["end"] - 1}
    with pytest.raises(BuildError, match="step 0: the tokens decode to"):
        encoder.verify("t1", row, encoder.renderer.render(AGENT))


def test_overlong_trajectory_is_an_error_by_default(encoders):
    with pytest.raises(BuildError, match=r"'t1': \d+ tokens exceed --max-length 50"):
        _encode(encoders["smollm2"], AGENT, max_length=50)


def test_overlong_skip_produces_no_row(encoders):
    res = encoders["smollm2"].encode(
        AGENT, _decision(3), policy="test", max_length=50, overlong="skip"
    )
    assert res.row is None and res.skipped == "overlong"


def test_truncation_keeps_whole_steps_from_the_start(encoders, tokenizer):
    encoder = encoders["smollm2"]
    full = _encode(encoder, AGENT)
    # room for steps 0 and 1 with their observations, not for step 2
    limit = full["steps"][2]["start"] - 1
    res = encoder.encode(AGENT, _decision(3), policy="test", max_length=limit, overlong="truncate")
    row = res.row
    assert res.truncated_steps == 1
    assert [s["index"] for s in row["steps"]] == [0, 1]
    assert row["num_tokens"] <= limit
    assert _text(tokenizer, row["input_ids"]).endswith(
        "patched fine<|im_end|>\n"
    )  # step 1's observation
    assert np.array_equal(row["input_ids"], full["input_ids"][: row["num_tokens"]])


def test_truncation_that_cannot_keep_the_first_step_skips_the_trajectory(encoders):
    res = encoders["smollm2"].encode(
        AGENT, _decision(3), policy="test", max_length=10, overlong="truncate"
    )
    assert res.row is None and res.skipped == "overlong"


CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def test_sentencepiece_style_tokenizers_are_tokenized_whole_and_still_exact():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    # Metaspace marks the start of every pre-split piece, so cutting the text at turn
    # boundaries would add spaces; the builder must notice and tokenize the whole string.
    raw.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    raw.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    corpus = ["You are an agent. Fix the bug. Look first. Edit it. Done. setup.py patched fine"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials, show_progress=False)
    raw.train_from_iterator(corpus * 20, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        unk_token="<unk>",
        eos_token="<|im_end|>",
        additional_special_tokens=["<|im_start|>"],
    )
    encoder = Encoder(tok, CHATML)
    assert not encoder.split_pieces
    traj = trajectory([{"say": "Look first.", "obs": "setup.py"}, {"say": "Done."}])
    row = _encode(encoder, traj, masked={0})  # verified inside: decode == rendered turn
    trained = tok.decode(row["input_ids"][row["labels"] != IGNORE_INDEX].tolist())
    assert trained.replace(" ", "") == "Done.<|im_end|>"


def test_a_turn_closed_by_another_special_token_ends_there(tokenizer):
    # Like Llama 3.1, which ends built-in tool calls with <|eom_id|> instead of <|eot_id|>.
    template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] }}"
        "{% if m['role'] == 'assistant' and 'call' in m['content'] %}{{ '<|endoftext|>\\n' }}"
        "{% else %}{{ '<|im_end|>\\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    encoder = Encoder(tokenizer, template)
    traj = trajectory([{"say": "call it", "obs": "result here"}, {"say": "Done."}])
    row = _encode(encoder, traj)
    assert _step_text(tokenizer, row, 0) == "call it<|endoftext|>"
    assert "result here" not in _trained_text(tokenizer, row)
