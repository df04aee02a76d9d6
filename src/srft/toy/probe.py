"""Decision probes: what a student prefers at the two decisions that masking changes.

Rollout success needs every skill at once (format, copying the key, the file, the value), so
a small student can score 0% for all policies long before the policies differ in what they
taught. The probes isolate the decisions the teacher's mistakes live at, teacher-forced on
fresh episodes, by comparing the student's log-probability of two whole replies:

- `first_hit`: after a `grep` whose first hit is *not* the issue's line, editing the right line
  vs editing the first hit (the teacher's majority mistake at this point);
- `after_wrong_edit`: after such a wrong edit, whose output shows the wrong change, undoing it
  vs submitting (the recovery that masked mistakes might, or might not, still teach).

A probe reports the share of decisions where the student prefers the right reply, the mean
log-probability margin (right minus wrong, in nats), and every case's margin in order: the cases
depend only on the seed, so two students' margins pair case by case, which is what gives a
paired difference its interval.
"""

from __future__ import annotations

from typing import Any

import torch

from srft.toy.env import ConfigRepo, make_episode
from srft.toy.generate import episode_seed
from srft.toy.protocol import (
    SYSTEM_PROMPT,
    assistant_message,
    observation_message,
    task_message,
)
from srft.toy.teacher import EDIT_THOUGHT, FIND, SUBMIT_THOUGHT, UNDO_THOUGHT


def decision_cases(n: int, *, seed: int) -> list[dict[str, Any]]:
    """`n` level-3 episodes whose first grep hit is wrong: two decisions each, right and wrong replies."""
    cases: list[dict[str, Any]] = []
    i = 0
    while len(cases) < 2 * n:
        episode = make_episode(episode_seed(seed, i), 3)
        i += 1
        repo = ConfigRepo(episode)
        key, old, new = episode.target_key, episode.old_value, episode.new_value
        grep = repo.run(f"grep {key}")
        first = grep.output.splitlines()[0]
        if first == f"{episode.target_file}:{key} = {old}":
            continue
        f_file, rest = first.split(":", 1)
        f_key, f_old = rest.split(" = ")
        context = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": task_message(episode.issue)},
            {
                "role": "assistant",
                "content": assistant_message(f"{FIND} {key} .", f"grep {key}"),
            },
            {"role": "user", "content": observation_message(grep)},
        ]
        wrong_edit = assistant_message(EDIT_THOUGHT, f"edit {f_file} {f_key} {new}")
        cases.append(
            {
                "probe": "first_hit",
                "context": context,
                "right": assistant_message(EDIT_THOUGHT, f"edit {episode.target_file} {key} {new}"),
                "wrong": wrong_edit,
            }
        )
        edited = repo.run(f"edit {f_file} {f_key} {new}")
        cases.append(
            {
                "probe": "after_wrong_edit",
                "context": [
                    *context,
                    {"role": "assistant", "content": wrong_edit},
                    {"role": "user", "content": observation_message(edited)},
                ],
                "right": assistant_message(UNDO_THOUGHT, f"edit {f_file} {f_key} {f_old}"),
                "wrong": assistant_message(SUBMIT_THOUGHT, "submit"),
            }
        )
    return cases


@torch.no_grad()
def reply_logprob(model: Any, tokenizer: Any, context: list[dict[str, str]], reply: str) -> float:
    """log p(reply and its end-of-turn token | context) under the student."""
    prompt = tokenizer.apply_chat_template(context, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    reply_ids = tokenizer(reply + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    device = getattr(model, "device", "cpu")
    ids = torch.tensor([prompt_ids + reply_ids], device=device)
    logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1]
    logp = torch.log_softmax(logits.float(), dim=-1)
    return float(logp.gather(1, torch.tensor(reply_ids, device=device)[:, None]).sum())


def run_probes(model: Any, tokenizer: Any, *, n: int = 100, seed: int = 9999) -> dict[str, Any]:
    """Preference for the right reply at each probe: share preferred, mean and per-case margins."""
    margins: dict[str, list[float]] = {}
    for case in decision_cases(n, seed=seed):
        margin = reply_logprob(model, tokenizer, case["context"], case["right"]) - reply_logprob(
            model, tokenizer, case["context"], case["wrong"]
        )
        margins.setdefault(case["probe"], []).append(round(margin, 4))
    return {
        name: {
            "n": len(m),
            "prefers_right": sum(x > 0 for x in m) / len(m),
            "margin": sum(m) / len(m),
            "margins": m,
        }
        for name, m in margins.items()
    }
