"""Activation checkpointing: the same gradients, on every transformers 5.x the trainer supports."""

from __future__ import annotations

import pytest
import torch

from srft.train.model import decoder_layers, enable_checkpointing
from tests.train.tiny import tiny_model


def _grads(every_n_layers: int | None) -> dict[str, torch.Tensor]:
    model = tiny_model(seed=3)
    if every_n_layers is not None:
        enable_checkpointing(model, every_n_layers, offload=False)
    model.train()
    ids = torch.randint(3, 100, (1, 40), generator=torch.Generator().manual_seed(0))
    model(input_ids=ids, labels=ids).loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("every_n_layers", [1, 2])
def test_checkpointing_recomputes_without_changing_gradients(every_n_layers):
    plain, checkpointed = _grads(None), _grads(every_n_layers)
    assert plain.keys() == checkpointed.keys()
    for name, g in plain.items():
        torch.testing.assert_close(checkpointed[name], g, rtol=1e-5, atol=1e-6, msg=name)


def test_every_second_layer_checkpoints_half_the_layers():
    model = tiny_model()
    enable_checkpointing(model, every_n_layers=2, offload=False)
    flags = [
        bool(getattr(layer, "gradient_checkpointing", False)) for layer in decoder_layers(model)
    ]
    assert flags.count(True) == len(flags) // 2


class _OldTransformersModel:
    """The checkpointing API of transformers < 5.23 (the GPU image's 5.17): every layer, or none."""

    def __init__(self) -> None:
        self.enabled_with: list[dict | None] = []

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None) -> None:
        self.enabled_with.append(gradient_checkpointing_kwargs)


def test_before_transformers_5_23_every_layer_is_checkpointed_the_old_way():
    old = _OldTransformersModel()
    enable_checkpointing(old, every_n_layers=1, offload=False)
    assert old.enabled_with == [{"use_reentrant": False}]


@pytest.mark.parametrize(("every_n_layers", "offload"), [(2, False), (1, True)])
def test_before_transformers_5_23_selective_or_offloaded_checkpointing_is_refused(
    every_n_layers, offload
):
    old = _OldTransformersModel()
    with pytest.raises(ValueError, match=r"transformers >= 5\.23"):
        enable_checkpointing(old, every_n_layers=every_n_layers, offload=offload)
    assert old.enabled_with == []
