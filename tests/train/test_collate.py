"""Packing and batch planning: whole sequences, restarting positions, every row once per epoch."""

from __future__ import annotations

import pytest

from srft.train.collate import (
    IGNORE_INDEX,
    PackingError,
    balance,
    pack,
    pack_micro_batches,
    plan_epoch,
    shift_targets,
)


def test_targets_are_shifted_within_each_sequence_and_the_last_token_has_none():
    batch = pack([[1, 2, 3], [4, 5]], [[1, 2, 3], [-100, 5]])
    assert batch.targets.tolist() == [[2, 3, IGNORE_INDEX, 5, IGNORE_INDEX]]


def test_the_last_token_of_a_sequence_never_predicts_the_next_sequence():
    batch = pack([[7, 8], [9, 10]], [[7, 8], [9, 10]])
    # position 1 (token 8) is the end of sequence 0: it must not be trained to predict 9.
    assert batch.targets[0, 1].item() == IGNORE_INDEX


def test_position_ids_restart_at_zero_for_every_sequence():
    batch = pack([[1, 2, 3], [4, 5], [6]], [[1, 2, 3], [4, 5], [6]])
    assert batch.position_ids.tolist() == [[0, 1, 2, 0, 1, 0]]
    assert batch.input_ids.tolist() == [[1, 2, 3, 4, 5, 6]]


def test_counts_follow_the_labels_as_built():
    batch = pack([[1, 2, 3, 4]], [[-100, 2, -100, 4]])
    assert (batch.num_tokens, batch.num_trained, batch.num_sequences) == (4, 2, 1)


def test_shift_targets_keeps_masked_labels_masked():
    assert shift_targets([-100, -100, 5, -100]) == [-100, 5, -100, -100]


def test_an_empty_micro_batch_is_a_placeholder_that_trains_nothing():
    batch = pack([], [])
    assert batch.num_tokens == 0 and batch.num_trained == 0
    assert batch.targets.tolist() == [[IGNORE_INDEX]]


def test_misaligned_labels_name_the_row():
    with pytest.raises(PackingError, match="row 42: 3 input_ids but 2 labels"):
        pack([[1, 2, 3]], [[1, 2]], row_ids=[42])


def test_micro_batches_respect_the_token_budget():
    lengths = [3, 4, 2, 5, 1]
    batches = pack_micro_batches(range(5), lengths, batch_tokens=7)
    assert batches == [[0, 1], [2, 3], [4]]
    assert all(sum(lengths[i] for i in b) <= 7 for b in batches)


def test_a_row_longer_than_the_budget_gets_a_micro_batch_of_its_own():
    assert pack_micro_batches([0, 1, 2], [2, 50, 2], batch_tokens=10) == [[0], [1], [2]]


def test_every_rank_gets_grad_accum_micro_batches_with_balanced_tokens():
    lengths = [10, 9, 2, 1]
    plan = balance([[0], [1], [2], [3]], lengths, world_size=2, grad_accum=2)
    assert [len(r) for r in plan] == [2, 2]
    loads = [sum(lengths[i] for mb in r for i in mb) for r in plan]
    assert sorted(loads) == [11, 11]


def test_a_short_last_step_is_filled_with_placeholders():
    plan = balance([[0]], [5], world_size=2, grad_accum=2)
    assert sorted(len(mb) for r in plan for mb in r) == [0, 0, 0, 1]


def test_an_epoch_plan_holds_every_row_exactly_once():
    lengths = [5, 17, 3, 8, 8, 30, 2, 11, 9]
    steps = plan_epoch(lengths, batch_tokens=20, grad_accum=2, world_size=2, seed=1, epoch=0)
    rows = [i for step in steps for rank in step for mb in rank for i in mb]
    assert sorted(rows) == list(range(len(lengths)))


def test_the_plan_is_a_function_of_seed_and_epoch():
    lengths = list(range(1, 40))
    kwargs = dict(batch_tokens=50, grad_accum=1, world_size=1)
    assert plan_epoch(lengths, seed=3, epoch=2, **kwargs) == plan_epoch(
        lengths, seed=3, epoch=2, **kwargs
    )
    assert plan_epoch(lengths, seed=3, epoch=2, **kwargs) != plan_epoch(
        lengths, seed=3, epoch=3, **kwargs
    )
