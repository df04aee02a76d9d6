"""Padding-free packing and token-budget batching.

Agent trajectories range from 2k to 60k tokens. Padding a batch to its longest row wastes most of
the compute and memory, so a micro-batch here is ONE row holding several whole sequences back to
back, with `position_ids` restarting at 0 for each. transformers (5.x) turns restarting position
ids into a block-diagonal causal mask for eager, SDPA and flex_attention (and varlen
flash-attention), so no token attends across sequences.
transformers' `DataCollatorWithFlattening` flattens the same way, but as a collator it packs
whatever fixed number of rows a sampler hands it; here the planner below decides which whole
sequences share a row by token budget, and the label shift is done in one visible place.

Labels are shifted *per sequence before packing*: the target of position t is the label of token
t+1 of the same sequence, and the last token of each sequence has no target. Shifting after
packing would train the last token of one trajectory to predict the first token of the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

IGNORE_INDEX = -100


class PackingError(ValueError):
    """A dataset row that cannot be packed (its reason and row index are in the message)."""


@dataclass(frozen=True)
class PackedBatch:
    """One packed micro-batch: a single row of several sequences, shape [1, T].

    `targets[0, t]` is the token position t must predict, or -100 where nothing is trained.
    `num_trained` counts the positions with a target; `num_tokens` counts real tokens (0 for the
    placeholder batch that keeps data-parallel ranks in step when one has nothing left to do).
    """

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    targets: torch.Tensor
    num_sequences: int
    num_tokens: int
    num_trained: int

    def to(self, device: torch.device | str) -> PackedBatch:
        """The same batch on `device`."""
        return PackedBatch(
            input_ids=self.input_ids.to(device),
            position_ids=self.position_ids.to(device),
            targets=self.targets.to(device),
            num_sequences=self.num_sequences,
            num_tokens=self.num_tokens,
            num_trained=self.num_trained,
        )


def shift_targets(labels: Sequence[int]) -> list[int]:
    """Next-token targets of one sequence: position t predicts labels[t+1]; the last has none."""
    return [*list(labels[1:]), IGNORE_INDEX]


def pack(
    input_ids: Sequence[Sequence[int]],
    labels: Sequence[Sequence[int]],
    row_ids: Sequence[int] | None = None,
) -> PackedBatch:
    """Pack whole sequences into one row with restarting position ids and per-sequence targets.

    An empty list gives a one-token placeholder with no target: it trains nothing, yet lets a
    data-parallel rank take part in the step's collective operations.
    """
    if len(input_ids) != len(labels):
        raise PackingError(f"{len(input_ids)} input_ids rows but {len(labels)} labels rows")
    if not input_ids:
        zero = torch.zeros((1, 1), dtype=torch.long)
        return PackedBatch(zero, zero.clone(), torch.full((1, 1), IGNORE_INDEX), 0, 0, 0)
    ids: list[int] = []
    positions: list[int] = []
    targets: list[int] = []
    for n, (seq, lab) in enumerate(zip(input_ids, labels, strict=True)):
        row = row_ids[n] if row_ids is not None else n
        if len(seq) != len(lab):
            raise PackingError(
                f"row {row}: {len(seq)} input_ids but {len(lab)} labels (they must align)"
            )
        if len(seq) == 0:
            raise PackingError(f"row {row}: empty sequence")
        ids.extend(seq)
        positions.extend(range(len(seq)))
        targets.extend(shift_targets(lab))
    target_tensor = torch.tensor(targets, dtype=torch.long).unsqueeze(0)
    return PackedBatch(
        input_ids=torch.tensor(ids, dtype=torch.long).unsqueeze(0),
        position_ids=torch.tensor(positions, dtype=torch.long).unsqueeze(0),
        targets=target_tensor,
        num_sequences=len(input_ids),
        num_tokens=len(ids),
        num_trained=int((target_tensor != IGNORE_INDEX).sum()),
    )


# One optimizer step: for each data-parallel rank, its micro-batches; each a list of row indices.
StepPlan = list[list[list[int]]]


def pack_micro_batches(
    order: Sequence[int], lengths: Sequence[int], batch_tokens: int
) -> list[list[int]]:
    """Greedy sequential packing of rows (in `order`) into micro-batches of <= batch_tokens tokens.

    A row longer than the budget gets a micro-batch of its own (the budget is a target for
    memory, not a reason to drop a trajectory; use `max_length` to bound rows).
    """
    batches: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i in order:
        n = int(lengths[i])
        if current and used + n > batch_tokens:
            batches.append(current)
            current, used = [], 0
        current.append(int(i))
        used += n
    if current:
        batches.append(current)
    return batches


def balance(
    micro_batches: list[list[int]], lengths: Sequence[int], world_size: int, grad_accum: int
) -> StepPlan:
    """Assign one step's micro-batches to ranks, longest first to the least-loaded rank.

    Every rank gets exactly `grad_accum` micro-batches (empty ones are placeholders), so the ranks
    run the same number of forward/backward passes and their token loads differ as little as the
    greedy longest-processing-time rule allows.
    """
    slots = world_size * grad_accum
    if len(micro_batches) > slots:
        raise ValueError(f"{len(micro_batches)} micro-batches for {slots} slots")
    filled = list(micro_batches) + [[] for _ in range(slots - len(micro_batches))]
    sizes = [sum(int(lengths[i]) for i in mb) for mb in filled]
    ranks: StepPlan = [[] for _ in range(world_size)]
    load = [0] * world_size
    for k in sorted(range(len(filled)), key=lambda k: (-sizes[k], k)):
        free = [r for r in range(world_size) if len(ranks[r]) < grad_accum]
        r = min(free, key=lambda r: (load[r], r))
        ranks[r].append(filled[k])
        load[r] += sizes[k]
    return ranks


def plan_epoch(
    lengths: Sequence[int],
    *,
    batch_tokens: int,
    grad_accum: int,
    world_size: int,
    seed: int,
    epoch: int,
) -> list[StepPlan]:
    """The optimizer steps of one epoch: a seeded shuffle, packed by token budget, balanced.

    A pure function of its arguments, so a resumed run recomputes exactly the same data order
    from (seed, epoch) and skips the steps it has already taken.
    """
    order = np.random.default_rng([seed, epoch]).permutation(len(lengths))
    micro = pack_micro_batches(order.tolist(), lengths, batch_tokens)
    per_step = world_size * grad_accum
    return [
        balance(micro[s : s + per_step], lengths, world_size, grad_accum)
        for s in range(0, len(micro), per_step)
    ]
