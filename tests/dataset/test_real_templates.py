"""Exact masks for the 13 real chat templates of `../shared/data/chat-templates/`.

Every template is tried with three stand-in tokenizers (`families.py`: every family token
special, tool tags ordinary, every family token ordinary) on conversations with text turns, tool
calls with and without content, two calls in one message, reasoning, and masked steps. The
expected trained strings below are written from each template's documented syntax
(`SOURCES.md`), not from the builder: each case is exact, or rejected with the reason asserted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from srft.dataset.encoder import IGNORE_INDEX, BuildError, Encoder
from srft.dataset.policies import Decision
from srft.files.corpus import Message, Outcome, Source, ToolCall, Trajectory

from .families import FAMILIES, VARIANTS, standin


def conversation(turns: list[dict[str, Any]], id: str = "t") -> Trajectory:
    """System + task, then per turn: `say`, `think`, `calls` (bash commands), `obs` (results)."""
    messages = [
        Message(role="system", content="You are an agent."),
        Message(role="user", content="Fix the bug."),
    ]
    for n, turn in enumerate(turns):
        calls = [
            ToolCall(id=f"call_{n}_{k}", name="bash", arguments={"command": c})
            for k, c in enumerate(turn.get("calls", []))
        ]
        messages.append(
            Message(
                role="assistant",
                content=turn.get("say", ""),
                reasoning=turn.get("think"),
                tool_calls=calls,
            )
        )
        for k, o in enumerate(turn.get("obs", [])):
            messages.append(Message(role="tool", content=o, tool_call_id=f"call_{n}_{k}"))
    return Trajectory.from_messages(
        messages=messages,
        id=id,
        instance_id=f"repo__{id}",
        source=Source(format="test", file="test.jsonl", record=id),
        outcome=Outcome(status="resolved"),
    )


CONVERSATIONS = {
    # content beside a call, a call alone, a final answer
    "calls": conversation(
        [
            {"say": "List files.", "calls": ["ls -la"], "obs": ["a.py"]},
            {"calls": ["cat a.py"], "obs": ["print(1)"]},
            {"say": "Done."},
        ]
    ),
    # two calls in one message
    "multi": conversation([{"calls": ["ls", "pwd"], "obs": ["a.py", "/repo"]}, {"say": "Done."}]),
    # reasoning on a call turn and on the final answer
    "think": conversation(
        [
            {"say": "Look.", "think": "where is it", "calls": ["ls"], "obs": ["a.py"]},
            {"say": "Done.", "think": "all good"},
        ]
    ),
}

# -- the oracle: each family's documented syntax -------------------------------------------------

IM = "<|im_end|>"
EOS_DS = "<｜end▁of▁sentence｜>"


def think(r: str) -> str:
    return f"<think>\n{r}\n</think>\n\n"


def hermes(cmd: str) -> str:
    return f'<tool_call>\n{{"name": "bash", "arguments": {{"command": "{cmd}"}}}}\n</tool_call>'


def coder(cmd: str) -> str:
    return (
        f"<tool_call>\n<function=bash>\n<parameter=command>\n{cmd}\n</parameter>\n"
        "</function>\n</tool_call>"
    )


def glm(cmd: str) -> str:
    return (
        f"<tool_call>bash\n<arg_key>command</arg_key>\n<arg_value>{cmd}</arg_value>\n</tool_call>"
    )


def harmony(cmd: str) -> str:
    return f' to=functions.bash<|channel|>commentary json<|message|>{{"command": "{cmd}"}}<|call|>'


def deepseek(*cmds: str) -> str:
    calls = "".join(
        f'<｜tool▁call▁begin｜>bash<｜tool▁sep｜>{{"command": "{c}"}}<｜tool▁call▁end｜>'
        for c in cmds
    )
    return f"<｜tool▁calls▁begin｜>{calls}<｜tool▁calls▁end｜>"


def llama(cmd: str) -> str:
    return f'{{"name": "bash", "parameters": {{"command": "{cmd}"}}}}'


def mistral(cmd: str) -> str:
    return f'[TOOL_CALLS]bash[ARGS]{{"command": "{cmd}"}}'


def mistral_id(cmd: str) -> str:
    """A regular expression: Mistral Small 3.2 writes a 9-character alphanumeric call id."""
    return (
        re.escape("[TOOL_CALLS]bash[CALL_ID]")
        + "[A-Za-z0-9]{9}"
        + re.escape(f'[ARGS]{{"command": "{cmd}"}}')
    )


def final(text: str, end: str = "<|end|>") -> str:
    return f"<|channel|>final<|message|>{text}{end}"


NO_CONTENT_BESIDE_CALL = "renders no content beside a tool call"

# family -> conversation -> trained text of each turn (a step split into turns has several),
# or the reason of the rejection. `{eos}` is the tokenizer's EOS, which the template writes.
EXPECTED: dict[str, dict[str, list[Any] | str]] = {
    "qwen2.5-instruct": {
        "calls": [
            f"List files.\n{hermes('ls -la')}{IM}",
            f"{hermes('cat a.py')}{IM}",
            f"Done.{IM}",
        ],
        "multi": [f"{hermes('ls')}\n{hermes('pwd')}{IM}", f"Done.{IM}"],
        # no reasoning field: reasoning is written as <think> text, and kept
        "think": [
            f"{think('where is it')}Look.\n{hermes('ls')}{IM}",
            f"{think('all good')}Done.{IM}",
        ],
    },
    "qwen3": {
        # the last turn always opens an (empty) think block
        "calls": [
            f"List files.\n{hermes('ls -la')}{IM}",
            f"{hermes('cat a.py')}{IM}",
            f"<think>\n\n</think>\n\nDone.{IM}",
        ],
        "multi": [f"{hermes('ls')}\n{hermes('pwd')}{IM}", f"<think>\n\n</think>\n\nDone.{IM}"],
        "think": [
            f"{think('where is it')}Look.\n{hermes('ls')}{IM}",
            f"{think('all good')}Done.{IM}",
        ],
    },
    "qwen3-coder": {
        "calls": [
            f"List files.\n\n{coder('ls -la')}{IM}",
            f"{coder('cat a.py')}{IM}",
            f"Done.{IM}",
        ],
        "multi": [f"{coder('ls')}\n{coder('pwd')}{IM}", f"Done.{IM}"],
        "think": [
            f"{think('where is it')}Look.\n\n{coder('ls')}{IM}",
            f"{think('all good')}Done.{IM}",
        ],
    },
    "qwq-32b": {
        "calls": [
            f"List files.\n{hermes('ls -la')}{IM}",
            f"{hermes('cat a.py')}{IM}",
            f"Done.{IM}",
        ],
        "multi": [f"{hermes('ls')}\n{hermes('pwd')}{IM}", f"Done.{IM}"],
        # history loses its reasoning; the last turn's `<think>\n` is the generation prompt's
        "think": [f"Look.\n{hermes('ls')}{IM}", f"all good\n</think>\n\nDone.{IM}"],
    },
    "hermes-3-tool-use": {
        # content beside a call is not rendered: it becomes a turn of its own
        "calls": [
            f"List files.{IM}",
            f"{hermes('ls -la')}{IM}",
            f"{hermes('cat a.py')}{IM}",
            f"Done.{IM}",
        ],
        "multi": [f"{hermes('ls')}\n{hermes('pwd')}{IM}", f"Done.{IM}"],
        "think": [
            f"{think('where is it')}Look.{IM}",
            f"{hermes('ls')}{IM}",
            f"{think('all good')}Done.{IM}",
        ],
    },
    "glm-4.6": {
        # a call turn ends with <|observation|>; the last turn has no end token in the template
        "calls": [
            f"\n<think></think>\nList files.\n{glm('ls -la')}<|observation|>",
            f"\n<think></think>\n{glm('cat a.py')}<|observation|>",
            "\n<think></think>\nDone.",
        ],
        "multi": [
            f"\n<think></think>\n{glm('ls')}\n{glm('pwd')}<|observation|>",
            "\n<think></think>\nDone.",
        ],
        "think": [
            f"\n<think>where is it</think>\nLook.\n{glm('ls')}<|observation|>",
            "\n<think>all good</think>\nDone.",
        ],
    },
    "gpt-oss": {
        # one call per message, content beside a call dropped in history: split into turns
        "calls": [
            final("List files."),
            harmony("ls -la"),
            harmony("cat a.py"),
            final("Done.", "<|return|>"),
        ],
        "multi": [harmony("ls"), harmony("pwd"), final("Done.", "<|return|>")],
        "think": [
            final("Look."),
            harmony("ls"),
            "<|channel|>analysis<|message|>all good<|end|><|start|>assistant"
            + final("Done.", "<|return|>"),
        ],
    },
    "deepseek-v3.1": {
        "calls": [
            f"List files.{deepseek('ls -la')}{EOS_DS}",
            f"{deepseek('cat a.py')}{EOS_DS}",
            f"Done.{EOS_DS}",
        ],
        "multi": [f"{deepseek('ls', 'pwd')}{EOS_DS}", f"Done.{EOS_DS}"],
        "think": [
            f"{think('where is it')}Look.{deepseek('ls')}{EOS_DS}",
            f"{think('all good')}Done.{EOS_DS}",
        ],
    },
    "deepseek-r1-distill-qwen": {
        # native calls need content None, which transformers never passes: calls as text
        "calls": [
            f"List files.\n{hermes('ls -la')}{EOS_DS}",
            f"{hermes('cat a.py')}{EOS_DS}",
            f"Done.{EOS_DS}",
        ],
        "multi": [f"{hermes('ls')}\n{hermes('pwd')}{EOS_DS}", f"Done.{EOS_DS}"],
        # content up to </think> is stripped from every turn but the generated last one
        "think": [f"\n\nLook.\n{hermes('ls')}{EOS_DS}", f"all good\n</think>\n\nDone.{EOS_DS}"],
    },
    "llama-3.3-instruct": {
        "calls": [
            "List files.<|eot_id|>",
            f"{llama('ls -la')}<|eot_id|>",
            f"{llama('cat a.py')}<|eot_id|>",
            "Done.<|eot_id|>",
        ],
        "multi": [f"{llama('ls')}<|eot_id|>", f"{llama('pwd')}<|eot_id|>", "Done.<|eot_id|>"],
        "think": [
            f"{think('where is it')}Look.<|eot_id|>",
            f"{llama('ls')}<|eot_id|>",
            f"{think('all good')}Done.<|eot_id|>",
        ],
    },
    "devstral-small-2507": {
        "calls": [
            f"List files.{mistral('ls -la')}{{eos}}",
            f"{mistral('cat a.py')}{{eos}}",
            "Done.{eos}",
        ],
        "multi": [f"{mistral('ls')}{mistral('pwd')}{{eos}}", "Done.{eos}"],
        "think": [
            f"{think('where is it')}Look.{mistral('ls')}{{eos}}",
            f"{think('all good')}Done.{{eos}}",
        ],
    },
    "mistral-small-3.2": {
        "calls": NO_CONTENT_BESIDE_CALL,
        "multi": [
            lambda eos: mistral_id("ls") + mistral_id("pwd") + re.escape(eos),
            "Done.{eos}",
        ],
        "think": NO_CONTENT_BESIDE_CALL,
    },
    "gemma-2": {
        # no system role, no tools: system merged into the first user turn, calls as text
        "calls": [
            f"List files.\n{hermes('ls -la')}<end_of_turn>",
            f"{hermes('cat a.py')}<end_of_turn>",
            "Done.<end_of_turn>",
        ],
        "multi": [f"{hermes('ls')}\n{hermes('pwd')}<end_of_turn>", "Done.<end_of_turn>"],
        "think": [
            f"{think('where is it')}Look.\n{hermes('ls')}<end_of_turn>",
            f"{think('all good')}Done.<end_of_turn>",
        ],
    },
}

# reasoning texts of the "think" conversation that each template leaves out of the trained text
REASONING_DROPPED = {"qwq-32b": 1, "deepseek-r1-distill-qwen": 1, "gpt-oss": 1}


_ENCODERS: dict[tuple[str, str], Encoder] = {}


@pytest.fixture
def encoder_of(smollm2_path: Path, shared_chat_templates: Path):
    """`encoder_of(family, variant)`: an encoder of the shared template with its stand-in
    tokenizer (built once per test session)."""

    def make(family: str, variant: str) -> Encoder:
        if (family, variant) not in _ENCODERS:
            template = (shared_chat_templates / f"{family}.jinja").read_text(encoding="utf-8")
            tokenizer = standin(smollm2_path, family, variant)
            _ENCODERS[family, variant] = Encoder(tokenizer, template)
        return _ENCODERS[family, variant]

    return make


def _encode(encoder: Encoder, trajectory: Trajectory, masked: set[int] = frozenset()):
    n = len(trajectory.steps)
    decision = Decision(True, tuple(i not in masked for i in range(n)), (None,) * n, "test")
    return encoder.encode(trajectory, decision, policy="test", max_length=100_000)


def _turn_texts(encoder: Encoder, row: dict[str, Any]) -> list[str]:
    ids = row["input_ids"]
    return [
        encoder.tokenizer.decode(list(ids[s["start"] : s["end"]]), skip_special_tokens=False)
        for s in row["steps"]
    ]


def _matches(got: str, want: Any, eos: str) -> bool:
    if callable(want):  # a regular expression, given the EOS
        return re.fullmatch(want(eos), got) is not None
    return got == want.replace("{eos}", eos)


CASES = [(f, v) for f in FAMILIES for v in VARIANTS]
IDS = [f"{f}-{v}" for f, v in CASES]


@pytest.mark.shared
@pytest.mark.parametrize(("family", "variant"), CASES, ids=IDS)
@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_every_trained_turn_is_exactly_the_models_own_turn_or_the_trajectory_is_rejected(
    encoder_of, family, variant, name
):
    encoder = encoder_of(family, variant)
    expected = EXPECTED[family][name]
    if isinstance(expected, str):
        with pytest.raises(BuildError, match=expected):
            _encode(encoder, CONVERSATIONS[name])
        return
    row = _encode(encoder, CONVERSATIONS[name]).row
    got = _turn_texts(encoder, row)
    eos = encoder.tokenizer.eos_token
    assert len(got) == len(expected), got
    for g, w in zip(got, expected, strict=True):
        assert _matches(g, w, eos), (g, w)
    # the trained tokens are exactly the turns, nothing else
    trained = row["input_ids"][row["labels"] != IGNORE_INDEX]
    assert len(trained) == sum(s["end"] - s["start"] for s in row["steps"])


@pytest.mark.shared
@pytest.mark.parametrize(("family", "variant"), CASES, ids=IDS)
def test_a_masked_step_keeps_its_tokens_in_context_with_no_label(encoder_of, family, variant):
    encoder = encoder_of(family, variant)
    row = _encode(encoder, CONVERSATIONS["multi"], masked={0}).row
    labels, ids = row["labels"], row["input_ids"]
    for step in row["steps"]:
        span = labels[step["start"] : step["end"]]
        if step["index"] == 0:
            assert step["end"] > step["start"] and np.all(span == IGNORE_INDEX)
        else:
            assert np.array_equal(span, ids[step["start"] : step["end"]])
    text = encoder.tokenizer.decode(list(ids[labels != IGNORE_INDEX]), skip_special_tokens=False)
    assert text.endswith(encoder.renderer.features.end_last or "Done.")


@pytest.mark.shared
@pytest.mark.parametrize("family", list(FAMILIES))
def test_reasoning_the_template_drops_is_counted(encoder_of, family):
    if isinstance(EXPECTED[family]["think"], str):
        pytest.skip("the conversation is rejected by this template")
    encoded = _encode(encoder_of(family, "special"), CONVERSATIONS["think"])
    assert encoded.reasoning == (2, REASONING_DROPPED.get(family, 0))
