"""The teacher: a scripted, noisy policy whose every step carries its true label.

It plays the environment like a careless engineer: `grep` the issue's key, edit a hit, submit.
Noise, each at a configurable rate, makes the steps worth labelling:

- typo: a misspelt or incomplete command first (an error observation) -> `mistake`;
- unnecessary: an `ls` before the search or a `cat` of some file after it -> `unnecessary`;
- first hit: with several `grep` hits, edit the first one although another line holds the
  issue's value (a silent mistake: the edit succeeds) -> `mistake`. Its default rate is above
  one half, so in that context the mistake is the teacher's *majority* choice and a student
  decoding greedily learns it unless it is masked;
- wrong value: set some other value than the issue's -> `mistake`;
- premature submit: submit before editing -> `mistake`;
- recovery: after a wrong edit, undo it and make the right one -> `recover` (the cue is in the
  edit's own observation, `file:key = old -> new`, so a student can learn when to recover);
  without recovery, the submit that follows a wrong edit is a `mistake` too: the edit's output
  showed the wrong change, and submitting it is what makes the run fail.

Other steps are `good`. The labels are what the teacher *did*, known by construction, so they
are true labels for training (`srft critic --critic file`) and for scoring critics.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from srft.toy.env import VALUE_RANGE, ConfigRepo, Episode, Observation, grep_hits

_TYPOS = {"ls": "sl", "grep": "grpe", "cat": "cta", "edit": "edti", "submit": "sumbit"}

# What the teacher thinks before each kind of step (`FIND` and `READ` are followed by a name).
LIST_THOUGHT = "Let me list the files ."
FIND = "Let me find"
READ = "Let me read"
EDIT_THOUGHT = "I will change the line with the old value ."
SUBMIT_THOUGHT = "The change is done , I will submit ."
UNDO_THOUGHT = "That edit changed the wrong line , I will undo it ."
REDO_THOUGHT = "Now I will change the right line ."
THOUGHT_PHRASES = (
    LIST_THOUGHT,
    FIND,
    READ,
    EDIT_THOUGHT,
    SUBMIT_THOUGHT,
    UNDO_THOUGHT,
    REDO_THOUGHT,
)


@dataclass(frozen=True)
class TeacherConfig:
    """Rates of the teacher's noise; each is a probability in [0, 1]."""

    typo: float = 0.1
    unnecessary: float = 0.15
    first_hit: float = 0.65
    wrong_value: float = 0.3
    premature_submit: float = 0.08
    recover: float = 0.25

    def __post_init__(self) -> None:
        for name, rate in asdict(self).items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"teacher rate {name} must lie in [0, 1], not {rate!r}")

    @classmethod
    def preset(cls, name: str) -> TeacherConfig:
        """A named setting: `default`, or `sloppy` (more and majority mistakes, less recovery)."""
        if name not in TEACHER_PRESETS:
            raise ValueError(f"unknown teacher preset {name!r}; known: {sorted(TEACHER_PRESETS)}")
        return TEACHER_PRESETS[name]


TEACHER_PRESETS: dict[str, TeacherConfig] = {
    "default": TeacherConfig(),
    "sloppy": TeacherConfig(
        typo=0.2,
        unnecessary=0.25,
        first_hit=0.85,
        wrong_value=0.4,
        premature_submit=0.1,
        recover=0.4,
    ),
}


@dataclass(frozen=True)
class TeacherStep:
    """One teacher turn: what it thought and ran, what it saw, and the step's true label."""

    thought: str
    command: str
    observation: Observation
    label: str
    reason: str


@dataclass
class TeacherRun:
    """A whole episode played by the teacher, with the final repository state."""

    episode: Episode
    steps: list[TeacherStep] = field(default_factory=list)
    repo: ConfigRepo | None = None

    @property
    def resolved(self) -> bool:
        """Whether the teacher's submission solves the issue."""
        return self.repo is not None and self.repo.resolved

    def labels(self) -> list[str]:
        """The true labels in step order."""
        return [s.label for s in self.steps]


def _wrong_value(rng: random.Random, right: str, old: str) -> str:
    """A plausible wrong value: the old one, a neighbour, or the digits swapped."""
    lo, hi = VALUE_RANGE
    n = int(right)
    candidates = {old, str(max(lo, n - 1)), str(min(hi, n + 1)), right[::-1].lstrip("0") or right}
    candidates.discard(right)
    return rng.choice(sorted(candidates))


def teach(episode: Episode, config: TeacherConfig, seed: int) -> TeacherRun:
    """Play `episode` with the noisy teacher; deterministic given `seed`.

    One function on purpose (over 60 lines): the order of the random draws below is the
    episode's script, and helpers that drew in another order would silently change every
    generated corpus; read top to bottom, the order is the code's order.
    """
    rng = random.Random(f"toy-teacher:{seed}")
    repo = ConfigRepo(episode)
    run = TeacherRun(episode=episode, repo=repo)

    def act(thought: str, command: str, label: str, reason: str) -> Observation:
        obs = repo.run(command)
        run.steps.append(TeacherStep(thought, command, obs, label, reason))
        return obs

    def act_with_typo(thought: str, command: str, label: str, reason: str) -> Observation:
        if rng.random() < config.typo:
            name, _, rest = command.partition(" ")
            typo = (
                f"{_TYPOS[name]} {rest}".strip()
                if not rest or rng.random() < 0.5
                else command.rsplit(" ", 1)[0]
            )
            act(thought, typo, "mistake", "typo: the command failed")
        return act(thought, command, label, reason)

    key, old, new = episode.target_key, episode.old_value, episode.new_value
    if rng.random() < config.unnecessary / 2:
        act_with_typo(LIST_THOUGHT, "ls", "unnecessary", "the listing is not needed")
    obs = act_with_typo(f"{FIND} {key} .", f"grep {key}", "good", "searches for the issue's key")
    hits = grep_hits(obs)
    if rng.random() < config.unnecessary / 2:
        name = rng.choice(list(episode.files))
        act_with_typo(f"{READ} {name} .", f"cat {name}", "unnecessary", "the grep hit suffices")
    if rng.random() < config.premature_submit:
        act(SUBMIT_THOUGHT, "submit", "mistake", "submits before editing")
        return run

    right = (episode.target_file, key, old)
    chosen = right
    if hits and hits[0] != right and rng.random() < config.first_hit:
        chosen = hits[0]
    value = new if rng.random() >= config.wrong_value else _wrong_value(rng, new, old)
    if chosen == right and value == new:
        act_with_typo(
            EDIT_THOUGHT, f"edit {right[0]} {key} {new}", "good", "makes the issue's change"
        )
    else:
        why = "edits the first grep hit, not the line with the issue's value"
        if chosen == right:
            why = f"sets {value} instead of {new}"
        act_with_typo(EDIT_THOUGHT, f"edit {chosen[0]} {chosen[1]} {value}", "mistake", why)
        if rng.random() >= config.recover:
            # The edit's output showed the wrong change; submitting it locks the failure in.
            act_with_typo(
                SUBMIT_THOUGHT,
                "submit",
                "mistake",
                "submits although the edit's output shows a wrong change",
            )
            return run
        if chosen != right:
            act(
                UNDO_THOUGHT,
                f"edit {chosen[0]} {chosen[1]} {chosen[2]}",
                "recover",
                "undoes the wrong edit",
            )
        act(
            REDO_THOUGHT,
            f"edit {right[0]} {key} {new}",
            "recover",
            "makes the issue's change after a wrong edit",
        )
    act_with_typo(SUBMIT_THOUGHT, "submit", "good", "submits the edit")
    return run


def config_dict(config: TeacherConfig) -> dict[str, Any]:
    """The rates as a plain dict (for the trajectories' `info.config`)."""
    return asdict(config)
