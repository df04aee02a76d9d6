"""Rolling a trained student out in the toy environment.

The student sees exactly what the teacher's trajectories show (system prompt, issue, its own
replies, the observations, rendered by the tokenizer's chat template) and acts through the same
protocol: a reply without exactly one bash block gets mini-swe-agent's format error. Episodes
advance in lockstep so that each turn is one batched `generate` call over all running episodes:
a ~1M-parameter model costs little more for 200 sequences than for one, so this is what makes
evaluation affordable on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from srft.toy.env import ConfigRepo, Episode, Observation, grep_hits
from srft.toy.protocol import (
    STEP_LIMIT,
    SYSTEM_PROMPT,
    format_error_message,
    observation_message,
    parse_action,
    task_message,
)

# The copies an episode asks for, in order (`EpisodeRollout.skills`).
SKILLS = ("grep_key", "edit_key", "edit_right_line", "write_right_value")

# What a wrong edit changed (`EpisodeRollout.wrong_edit_kinds`): the issue's line with a wrong
# value; the line of the first hit of `grep KEY` (the teacher's majority mistake); another of
# its hits (the issue's key in another file, or a decoy key); a line that grep does not find.
WRONG_EDITS = ("wrong_value", "first_hit", "other_hit", "other_line")


@dataclass
class EpisodeRollout:
    """One student episode: what it said, what it saw, and how it ended."""

    episode: Episode
    repo: ConfigRepo
    messages: list[dict[str, str]]
    commands: list[str | None] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    stop: str = "running"

    @property
    def done(self) -> bool:
        return self.stop != "running"

    @property
    def resolved(self) -> bool:
        """Submitted with exactly the issue's change (the environment's own verdict)."""
        return self.repo.resolved

    @property
    def steps(self) -> int:
        return len(self.commands)

    @property
    def errors(self) -> int:
        """Steps whose command failed or whose reply broke the format."""
        return sum(1 for o in self.observations if o.returncode != 0)

    @property
    def wrong_edits(self) -> int:
        """Successful edits that set anything but the issue's key, file and value."""
        return len(self.wrong_edit_kinds())

    def wrong_edit_kinds(self) -> list[str]:
        """What each successful wrong edit changed, in order (`WRONG_EDITS`).

        A wrong-edit rate says that a student fails at the line choice or at the value; the kind
        says which, and whether it is the teacher's majority mistake (the first grep hit) or a
        line it chose for another reason. Hits are those of `grep KEY` in the episode's original
        repository, as the environment prints them.
        """
        e = self.episode
        hits = [(f, k) for f, k, _ in grep_hits(ConfigRepo(e).run(f"grep {e.target_key}"))]
        kinds = []
        for c, o in zip(self.commands, self.observations, strict=True):
            words = (c or "").split()
            if len(words) != 4 or words[0] != "edit" or o.returncode != 0:
                continue
            line = (words[1], words[2])
            if line == (e.target_file, e.target_key):
                if words[3] != e.new_value:
                    kinds.append("wrong_value")
            elif line == hits[0]:
                kinds.append("first_hit")
            else:
                kinds.append("other_hit" if line in hits else "other_line")
        return kinds

    def skills(self) -> dict[str, bool]:
        """The sub-skills an episode needs, each seen at least once (partial credit).

        A student at 0% success may already grep the issue's key, or edit the right line with
        a wrong value: these show what it learned when success cannot. The rungs are the copies
        an episode asks for, in order: the key from the issue into `grep` (`grep_key`) and into
        `edit` (`edit_key`, whether or not the edit succeeds), the file from the right grep hit
        (`edit_right_line`: file and key of the issue's line, edited), the value from the issue
        (`write_right_value`).
        """
        e = self.episode
        grepped = edit_key = edited_line = wrote_value = False
        for c, o in zip(self.commands, self.observations, strict=True):
            words = (c or "").split()
            grepped |= words == ["grep", e.target_key]
            if len(words) == 4 and words[0] == "edit":
                edit_key |= words[2] == e.target_key
                if o.returncode == 0:
                    edited_line |= words[1:3] == [e.target_file, e.target_key]
                    wrote_value |= words[3] == e.new_value
        return dict(zip(SKILLS, (grepped, edit_key, edited_line, wrote_value), strict=True))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record of the episode."""
        return {
            "instance_id": self.episode.instance_id,
            "level": self.episode.level,
            "resolved": self.resolved,
            "stop": self.stop,
            "steps": self.steps,
            "errors": self.errors,
            "wrong_edits": len(kinds := self.wrong_edit_kinds()),
            "wrong_edit_kinds": kinds,
            "commands": self.commands,
        }


def load_student(
    path: str | Path, tokenizer_path: str | Path | None = None, device: str | None = None
) -> tuple[Any, Any]:
    """Model and tokenizer from a `srft train` run folder (its `model/`) or a model folder.

    Loading is the trainer's own (`srft.train.model.load_model`: full, merged or LoRA runs).
    The model goes to `device` (default: the GPU when there is one).
    """
    from transformers import AutoTokenizer

    from srft.train.model import load_model

    path = Path(path)
    folder = path / "model" if (path / "model").is_dir() else path
    if not any((folder / n).exists() for n in ("config.json", "adapter_config.json")):
        raise FileNotFoundError(f"{path}: no model here (no config.json, nor model/config.json)")
    model, tokenizer = load_model(folder)
    if tokenizer_path is not None or tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_path or folder))
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.eval()
    return model, tokenizer


@torch.no_grad()
def rollout(
    model: Any,
    tokenizer: Any,
    episodes: list[Episode],
    *,
    temperature: float = 0.0,
    seed: int = 0,
    max_steps: int = STEP_LIMIT,
    max_new_tokens: int = 64,
    batch_size: int = 128,
) -> list[EpisodeRollout]:
    """Play every episode with the student; greedy when `temperature` is 0, else sampled."""
    torch.manual_seed(seed)
    tokenizer.padding_side = "left"
    runs = [
        EpisodeRollout(
            episode=e,
            repo=ConfigRepo(e),
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": task_message(e.issue)},
            ],
        )
        for e in episodes
    ]
    for _turn in range(max_steps):
        active = [r for r in runs if not r.done]
        if not active:
            break
        for start in range(0, len(active), batch_size):
            chunk = active[start : start + batch_size]
            _play_turn(model, tokenizer, chunk, temperature, max_new_tokens)
    for r in runs:
        if not r.done:
            r.stop = "step_limit"
    return runs


def _encode(tokenizer: Any, runs: list[EpisodeRollout]) -> Any:
    """The runs' conversations so far as one left-padded batch of generation prompts."""
    prompts = [
        tokenizer.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
        for r in runs
    ]
    return tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)


def _play_turn(
    model: Any,
    tokenizer: Any,
    chunk: list[EpisodeRollout],
    temperature: float,
    max_new_tokens: int,
) -> None:
    """One turn of every run of `chunk`: generate the replies in one batch and act on them."""
    limit = getattr(model.config, "max_position_embeddings", 4096)
    enc = _encode(tokenizer, chunk)
    if enc["input_ids"].shape[1] + max_new_tokens > limit:
        # Episodes too long for the model's context stop here, unresolved.
        lengths = enc["attention_mask"].sum(dim=1).tolist()
        keep = [r for r, n in zip(chunk, lengths, strict=True) if n + max_new_tokens <= limit]
        for r in chunk:
            if r not in keep:
                r.stop = "context"
        chunk = keep
        if not chunk:
            return
        enc = _encode(tokenizer, chunk)
    enc = enc.to(getattr(model, "device", "cpu"))
    end_id = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_id
    sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
    out = model.generate(
        **enc,
        max_new_tokens=max_new_tokens,
        eos_token_id=end_id,
        pad_token_id=pad_id,
        **(sampling if temperature > 0 else {"do_sample": False}),
    )
    new = out[:, enc["input_ids"].shape[1] :]
    for r, ids in zip(chunk, new, strict=True):
        _act(r, tokenizer.decode(ids, skip_special_tokens=True))


def _act(run: EpisodeRollout, reply: str) -> None:
    """Run the reply's command (or answer the format error) and record the turn."""
    run.messages.append({"role": "assistant", "content": reply})
    command = parse_action(reply)
    run.commands.append(command)
    if command is None:
        obs = Observation(1, format_error_message(reply))
        run.observations.append(obs)
        run.messages.append({"role": "user", "content": obs.output})
        return
    obs = run.repo.run(command)
    run.observations.append(obs)
    if run.repo.submitted:
        run.stop = "submitted"
        run.messages.append({"role": "user", "content": obs.output})
    else:
        run.messages.append({"role": "user", "content": observation_message(obs)})
