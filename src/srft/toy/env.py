"""The toy environment: "fix a configuration value" in a small generated repository.

A repository is 4-8 files of `key = value` lines. The issue names a key, its current value and
the value it should get; the agent answers with one text command per turn (`ls`, `grep WORD`,
`cat FILE`, `edit FILE KEY VALUE`, `submit`) and sees the command's output. The episode is
resolved when the agent submits a repository that differs from the original in exactly one
line: the issue's key, in the file where it has the issue's current value, set to the new value.

Names and values are drawn per episode, so a policy must read observations to succeed. Harder
levels add decoy keys that contain the issue's key (`grep` finds them too) and the same key in
other files with other values, so picking the right `grep` hit takes reading.

Everything here is pure Python and deterministic given the episode seed: the teacher, the
trajectory writer and the student rollouts all drive the same `ConfigRepo`.
"""

from __future__ import annotations

import random
import shlex
from dataclasses import dataclass, field

# The vocabulary every episode draws from. Small and closed on purpose: the student is trained
# from scratch with a word-level tokenizer built over exactly these words (`srft.toy.tokenizer`).
COMPONENTS: tuple[str, ...] = (
    "app", "db", "cache", "auth", "log", "net", "mail", "queue", "web", "api", "store", "search",
    "billing", "user", "report", "admin", "sync", "proxy", "media", "job", "metric", "gateway",
)  # fmt: skip
KEY_HEADS: tuple[str, ...] = (
    "pool", "retry", "page", "batch", "idle", "conn", "read", "write", "buffer", "worker",
    "thread", "disk", "lock", "session", "token", "upload",
)  # fmt: skip
KEY_TAILS: tuple[str, ...] = (
    "size", "limit", "timeout", "count", "port", "level", "depth", "rate", "interval", "ttl",
)  # fmt: skip
DECOY_SUFFIXES: tuple[str, ...] = ("max", "min", "hint")
DECOY_PREFIXES: tuple[str, ...] = ("old", "dev", "test")
VALUE_RANGE = (1, 99)
FILE_SUFFIX = ".cfg"
LEVELS: tuple[int, ...] = (1, 2, 3)
COMMANDS: tuple[str, ...] = ("ls", "grep", "cat", "edit", "submit")


@dataclass(frozen=True)
class Episode:
    """One task: the original repository and what the issue asks for.

    `files` maps file name to its ordered `(key, value)` lines; `target_file` is where the issue's
    key has the issue's current value (`old_value`); `new_value` is what it should become.
    """

    seed: int
    level: int
    files: dict[str, tuple[tuple[str, str], ...]]
    target_file: str
    target_key: str
    old_value: str
    new_value: str

    @property
    def issue(self) -> str:
        """The task statement the agent is given."""
        return f"{self.target_key} is {self.old_value} but it should be {self.new_value} ."

    @property
    def instance_id(self) -> str:
        """A SWE-bench-style instance id (`owner__repo-number`) naming level and seed."""
        return f"toy__config-{self.level}-{self.seed}"


def make_episode(seed: int, level: int) -> Episode:
    """Draw an episode of `level` (1 easy, 2 decoy keys, 3 decoys and duplicated keys)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    rng = random.Random(f"toy-episode:{seed}:{level}")
    n_files = rng.randint(4, 8)
    names = [c + FILE_SUFFIX for c in rng.sample(COMPONENTS, n_files)]
    key = f"{rng.choice(KEY_HEADS)}_{rng.choice(KEY_TAILS)}"
    lo, hi = VALUE_RANGE

    def value(exclude: set[str]) -> str:
        while True:
            v = str(rng.randint(lo, hi))
            if v not in exclude:
                return v

    old = value(set())
    new = value({old})
    # Plain keys never contain the issue's key, so only the lines placed below match its grep.
    plain = [
        f"{h}_{t}"
        for h in KEY_HEADS
        for t in KEY_TAILS
        if key not in f"{h}_{t}" and f"{h}_{t}" not in key
    ]
    files: dict[str, list[tuple[str, str]]] = {
        n: [(k, value(set())) for k in rng.sample(plain, rng.randint(2, 4))] for n in names
    }
    target_file = rng.choice(names)
    placed: list[tuple[str, str, str]] = [(target_file, key, old)]
    if level >= 2:
        for _ in range(rng.randint(1, 2)):
            decoy = (
                f"{key}_{rng.choice(DECOY_SUFFIXES)}"
                if rng.random() < 0.5
                else f"{rng.choice(DECOY_PREFIXES)}_{key}"
            )
            where = rng.choice(names)
            if decoy not in dict(files[where]) and all(p[:2] != (where, decoy) for p in placed):
                placed.append((where, decoy, value(set())))
    if level >= 3:
        others = [n for n in names if n != target_file]
        for where in rng.sample(others, rng.randint(1, 2)):
            placed.append((where, key, value({old})))
    for where, k, v in placed:
        lines = files[where]
        lines.insert(rng.randint(0, len(lines)), (k, v))
    return Episode(
        seed=seed,
        level=level,
        files={n: tuple(lines) for n, lines in files.items()},
        target_file=target_file,
        target_key=key,
        old_value=old,
        new_value=new,
    )


@dataclass(frozen=True)
class Observation:
    """What a command returned: an exit status and its output text."""

    returncode: int
    output: str


def grep_hits(obs: Observation) -> list[tuple[str, str, str]]:
    """`(file, key, value)` of each line `file:key = value` of a `grep` observation."""
    out = []
    for line in obs.output.splitlines():
        where, _, rest = line.partition(":")
        key, _, value = rest.partition(" = ")
        out.append((where, key, value))
    return out


@dataclass
class ConfigRepo:
    """The mutable state of one episode: its files, and whether the agent has submitted."""

    episode: Episode
    files: dict[str, dict[str, str]] = field(init=False)
    submitted: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.files = {n: dict(lines) for n, lines in self.episode.files.items()}

    # -- commands -----------------------------------------------------------------------------

    def run(self, command: str) -> Observation:
        """Run one command line and return its observation; bad commands return an error."""
        if self.submitted:
            raise RuntimeError("the episode is over: the agent has submitted")
        try:
            argv = shlex.split(command)
        except ValueError as e:
            return Observation(2, f"bash: syntax error: {e}")
        if not argv:
            return Observation(2, "bash: empty command")
        name, args = argv[0], argv[1:]
        if name == "ls":
            return self._ls(args)
        if name == "grep":
            return self._grep(args)
        if name == "cat":
            return self._cat(args)
        if name == "edit":
            return self._edit(args)
        if name == "submit":
            return self._submit(args)
        return Observation(127, f"bash: {name}: command not found")

    def _ls(self, args: list[str]) -> Observation:
        if args:
            return Observation(2, "usage: ls")
        return Observation(0, "\n".join(self.files))

    def _grep(self, args: list[str]) -> Observation:
        if len(args) != 1:
            return Observation(2, "usage: grep WORD")
        hits = [
            f"{n}:{k} = {v}"
            for n, lines in self.files.items()
            for k, v in lines.items()
            if args[0] in f"{k} = {v}"
        ]
        # Like grep: exit status 1 and no output when nothing matches.
        return Observation(0 if hits else 1, "\n".join(hits))

    def _cat(self, args: list[str]) -> Observation:
        if len(args) != 1:
            return Observation(2, "usage: cat FILE")
        if args[0] not in self.files:
            return Observation(1, f"cat: {args[0]}: No such file or directory")
        return Observation(0, "\n".join(f"{k} = {v}" for k, v in self.files[args[0]].items()))

    def _edit(self, args: list[str]) -> Observation:
        if len(args) != 3:
            return Observation(2, "usage: edit FILE KEY VALUE")
        name, key, value = args
        if name not in self.files:
            return Observation(1, f"edit: {name}: No such file or directory")
        if key not in self.files[name]:
            return Observation(1, f"edit: {name}: no key {key}")
        old = self.files[name][key]
        self.files[name][key] = value
        return Observation(0, f"{name}:{key} = {old} -> {value}")

    def _submit(self, args: list[str]) -> Observation:
        if args:
            return Observation(2, "usage: submit")
        self.submitted = True
        return Observation(0, self.diff())

    # -- outcome ------------------------------------------------------------------------------

    def changes(self) -> list[tuple[str, str, str, str]]:
        """`(file, key, old, new)` for every line whose value differs from the original."""
        return [
            (n, k, v, self.files[n][k])
            for n, lines in self.episode.files.items()
            for k, v in lines
            if self.files[n][k] != v
        ]

    def diff(self) -> str:
        """The submission: one `file:key = old -> new` line per changed line."""
        return "\n".join(f"{n}:{k} = {a} -> {b}" for n, k, a, b in self.changes())

    @property
    def resolved(self) -> bool:
        """Submitted with exactly the issue's change and nothing else changed."""
        e = self.episode
        return self.submitted and self.changes() == [
            (e.target_file, e.target_key, e.old_value, e.new_value)
        ]
