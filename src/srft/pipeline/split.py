"""The held-out split: which task instances are kept out of training, for evaluation.

Split by instance id, not by trajectory: several runs on one task are near-duplicates, and a
student that trained on one of them would be scored on what it memorised. The split is a pure
function of the ids, the fraction and the seed (each id is ranked by a seeded sha256), so it does
not depend on file order, the machine, or Python's hash randomisation, and adding trajectories
of new tasks never moves an old task to the other side unless it falls in the held-out quota.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from srft.files.corpus import CORPUS, Trajectory
from srft.files.verdicts import VERDICTS


def group_key(trajectory: Trajectory) -> str:
    """The unit of the split: the task instance, or the trajectory itself when it has none."""
    return trajectory.instance_id or f"trajectory:{trajectory.id}"


def heldout_groups(keys: set[str], fraction: float, seed: int) -> set[str]:
    """The held-out share of `keys`: the `ceil(fraction * n)` keys with the smallest seeded hash.

    With two or more groups at least one is held out and at least one is trained on, so neither
    side is ever empty; a single group cannot be split and is trained on.
    """
    if len(keys) < 2:
        return set()
    n = min(max(1, math.ceil(fraction * len(keys))), len(keys) - 1)
    ranked = sorted(keys, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    return set(ranked[:n])


def split_corpus(
    corpus: Path, train_out: Path, heldout_out: Path, *, fraction: float, seed: int
) -> dict[str, int]:
    """Write the training and held-out corpora; returns the counts of each side.

    Two streaming passes (ids first, then the records), so memory does not grow with the corpus.
    """
    keys = {group_key(t) for t in CORPUS.read(corpus)}
    held = heldout_groups(keys, fraction, seed)
    counts = {"train": 0, "heldout": 0, "instances": len(keys), "heldout_instances": len(held)}
    train_out.parent.mkdir(parents=True, exist_ok=True)
    heldout_out.parent.mkdir(parents=True, exist_ok=True)
    with (
        train_out.open("w", encoding="utf-8", newline="\n") as train_f,
        heldout_out.open("w", encoding="utf-8", newline="\n") as held_f,
    ):
        for trajectory in CORPUS.read(corpus):
            side = "heldout" if group_key(trajectory) in held else "train"
            CORPUS.write_one(held_f if side == "heldout" else train_f, trajectory)
            counts[side] += 1
    return counts


def split_verdicts(verdicts: Path, corpus_sides: dict[str, Path], outputs: dict[str, Path]) -> None:
    """Split a verdicts file the way the corpus was split (the builder wants them to match).

    `corpus_sides` maps a side name to its corpus file, `outputs` the same names to the verdicts
    files to write. A verdict whose trajectory is on no side (the critic judged a trajectory the
    corpus no longer has) is an error, as the builder would make it.
    """
    side_of = {t.id: side for side, path in corpus_sides.items() for t in CORPUS.read(path)}
    for side, out in outputs.items():
        VERDICTS.write(
            out, (v for v in VERDICTS.read(verdicts) if side_of.get(v.trajectory_id) == side)
        )
    strays = [v.trajectory_id for v in VERDICTS.read(verdicts) if v.trajectory_id not in side_of]
    if strays:
        raise ValueError(
            f"{verdicts}: verdicts for {len(strays)} trajectories the corpus lacks, e.g. {strays[0]!r}"
        )
