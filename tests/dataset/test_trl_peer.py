"""The peer check: srft's trained text next to TRL's `assistant_masks`, turn by turn.

For every text family where TRL ships an original template and a `_training` copy patched with
`{% generation %}` markers (read from the installed `trl` package), srft builds the shared
tool-call trajectories from the original template (no abort; a reject must carry a reason), and
TRL masks the same conversation with the training template
(`apply_chat_template(..., return_assistant_tokens_mask=True)`). Each trained turn must then be
equal, or differ only in the documented classes of `docs/dataset.md` ("Peer check: TRL"); a
difference outside them fails the test.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from srft.dataset.encoder import BuildError, Encoder
from srft.dataset.policies import Decision

from .families import standin_from_templates

TRAJECTORY_FOLDERS = (
    "mini-swe-agent-v2-deepseek",
    "swe-agent",
    "openhands-v0",
    "swe-gym-openhands",
)
# Vision-language templates (they index message content as lists of parts) and DiffusionGemma
# (a diffusion model: it does not generate a turn left to right and stop) are out of scope.
NOT_TEXT = {"idefics3", "llava_next", "qwen2_5_vl", "qwen3_vl", "smolvlm", "diffusion_gemma"}

# The documented classes of difference (docs/dataset.md), and families whose templates cannot
# express some shared trajectories, with the reason srft gives.
CLASSES = (
    "separator",  # TRL trains the whitespace after the end-of-turn token
    "prompt-text",  # TRL trains text the generation prompt already holds
    "empty-think",  # TRL's patch writes an empty think block the original leaves out
    "trl-keeps-reasoning",  # TRL's patch keeps reasoning the original drops
    "trl-end-token",  # TRL's patch adds an end token the original does not write
    "trl-drops-call",  # TRL's training template drops a tool call srft trains
    "split-turn",  # srft split the message into turns; TRL also trains the lead between them
)
EXPECTED_REJECTS = {
    # DeepSeek-V3's template never resets `is_first`: a conversation's second tool-call turn
    # loses `<｜Assistant｜>` and `<｜tool▁calls▁begin｜>`, so it cannot be located
    "deepseekv3": ("is not in the rendering", "does not contain"),
}


def _trl_templates() -> Path:
    return Path(str(importlib.resources.files("trl") / "chat_templates"))


def _families() -> list[str]:
    try:
        folder = _trl_templates()
    except ModuleNotFoundError:
        return []
    names = sorted(p.name[: -len("_training.jinja")] for p in folder.glob("*_training.jinja"))
    return [n for n in names if (folder / f"{n}.jinja").exists() and n not in NOT_TEXT]


@pytest.fixture(scope="module")
def tool_call_trajectories(shared_trajectories: Path, tmp_path_factory) -> list[Any]:
    from srft.corpus.ingest import ingest
    from srft.files.corpus import CORPUS

    corpus = tmp_path_factory.mktemp("peer") / "corpus.jsonl"
    ingest([shared_trajectories / f for f in TRAJECTORY_FOLDERS], output=corpus)
    return [t for t in CORPUS.read(corpus) if any(m.tool_calls for m in t.messages)]


def _trl_runs(tokenizer: Any, messages: list, tools: list | None, template: str) -> list[str]:
    """The text of each contiguous run of tokens TRL trains."""
    out = tokenizer.apply_chat_template(
        messages,
        tools=tools,
        chat_template=template,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    ids, mask = np.asarray(out["input_ids"]), np.asarray(out["assistant_masks"], dtype=bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return [
        tokenizer.decode(ids[a:b].tolist(), skip_special_tokens=False)
        for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


def classify(ours: str, trl: str, features: Any, lead: str) -> set[str] | None:
    """The classes that turn TRL's trained text into srft's, or None if they do not."""
    classes: set[str] = set()
    changed = True
    while changed:  # trailing: whitespace after the end token, end tokens the template appends
        changed = False
        if trl != trl.rstrip() and ours == ours.rstrip():
            trl, changed = trl.rstrip(), True
            classes.add("separator")
        for token in features.end_tokens:
            if (trl.endswith(token) and not ours.endswith(token)) or trl.endswith(token * 2):
                trl, changed = trl[: -len(token)], True
                classes.add("trl-end-token")
    # leading: text the prompt holds at inference (a piece of the turn's lead and opened text)
    opening = lead + features.prompt_opens
    pieces = sorted(
        {opening[i:j] for i in range(len(opening)) for j in range(i + 1, len(opening) + 1)},
        key=len,
        reverse=True,
    )
    candidates = [(trl, classes)] + [
        (trl[len(p) :], classes | {"prompt-text"})
        for p in pieces
        if trl.startswith(p) and not ours.startswith(p)
    ]
    for text, found in candidates:
        if text == ours:
            return found
        think = _THINK.match(text)
        if think and not _THINK.match(ours) and text[think.end() :] in (ours, ours.lstrip()):
            return found | {"trl-keeps-reasoning" if think.group(1).strip() else "empty-think"}
    return None


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("family", _families())
def test_srft_and_trl_train_the_same_turns_up_to_documented_differences(
    family, smollm2_path: Path, tool_call_trajectories
):
    folder = _trl_templates()
    original = (folder / f"{family}.jinja").read_text(encoding="utf-8")
    training = (folder / f"{family}_training.jinja").read_text(encoding="utf-8")
    tokenizer = standin_from_templates(smollm2_path, [original, training])
    encoder = Encoder(tokenizer, original)  # no probe failure: a template error would raise here
    found: Counter[str] = Counter()
    for trajectory in tool_call_trajectories:
        n = len(trajectory.steps)
        decision = Decision(True, (True,) * n, (None,) * n, "sft")
        try:
            encoded = encoder.encode(trajectory, decision, policy="sft", max_length=10**7)
        except BuildError as e:
            assert any(r in str(e) for r in EXPECTED_REJECTS.get(family, ())), str(e)
            found["rejected"] += 1
            continue
        row = encoded.row
        rendering = encoder.renderer.render(trajectory)
        ours, split, leads = _turn_texts(rendering)
        messages = json.loads(row["messages"])
        tools = json.loads(row["tools"]) if row["tools"] else None
        theirs = _trl_runs(tokenizer, messages, tools, training)
        if len(theirs) < len(ours):
            # TRL trains fewer turns: each missing one must be a tool call it dropped
            missing = [o for o in ours if not any(o.strip() in t for t in theirs)]
            assert all("tool_call" in o or "functions." in o for o in missing), missing
            found["trl-drops-call"] += len(missing)
            kept = [k for k, o in enumerate(ours) if o not in missing]
            ours, split, leads = ([x[k] for k in kept] for x in (ours, split, leads))
        assert len(theirs) == len(ours), (trajectory.id, len(theirs), len(ours))
        for mine, trl, several, lead in zip(ours, theirs, split, leads, strict=True):
            classes = classify(mine, trl, encoder.renderer.features, lead)
            assert classes is not None, (trajectory.id, mine[-300:], trl[-300:])
            found.update((classes | ({"split-turn"} if several else set())) or {"equal"})
    assert set(found) - {"equal", "rejected"} <= set(CLASSES)
    compared = found["equal"] + sum(found[c] for c in CLASSES)
    assert compared > 0 or family in EXPECTED_REJECTS


def _turn_texts(rendering: Any) -> tuple[list[str], list[bool], list[str]]:
    """srft's trained text per turn TRL sees as one: parts of adjacent assistant messages of a
    step are one run for TRL (srft split the message; TRL also trains the lead between them),
    from the first part's start to the last part's end. Also: whether it was split, and the
    lead into its first part."""
    runs: list[list[Any]] = []
    for part in rendering.parts:
        if part.step is None:
            continue
        last = runs[-1] if runs else None
        if last and last[0] == part.step and last[3] == part.message - 1:
            last[2], last[3], last[4] = part.end, part.message, True
        else:
            runs.append([part.step, part.start, part.end, part.message, False, part.lead])
    return (
        [rendering.text[r[1] : r[2]] for r in runs],
        [r[4] for r in runs],
        [r[5] for r in runs],
    )
