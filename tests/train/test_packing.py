"""A packed row is exactly the sequences run one by one: no attention across sequences."""

from __future__ import annotations

import pytest

from srft.train.collate import pack
from srft.train.loss import loss_sum

from .tiny import make_rows, tiny_model

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_loss_and_gradients_equal_each_sequence_run_alone(arch, attn):
    model = tiny_model(arch)
    model.set_attn_implementation(attn)
    rows = make_rows([19, 33, 8, 26], seed=3)
    ids, labels = [r["input_ids"] for r in rows], [r["labels"] for r in rows]

    model.zero_grad()
    packed = loss_sum(model, pack(ids, labels), "stock")
    packed.backward()
    packed_grads = [p.grad.clone() for p in model.parameters()]

    model.zero_grad()
    alone = sum(
        loss_sum(model, pack([i], [lab]), "stock") for i, lab in zip(ids, labels, strict=True)
    )
    alone.backward()

    torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-5)
    for got, want in zip(packed_grads, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_packed_logits_equal_each_sequence_run_alone():
    model = tiny_model()
    rows = make_rows([12, 20], seed=5)
    ids = [r["input_ids"] for r in rows]
    batch = pack(ids, [r["labels"] for r in rows])
    with torch.no_grad():
        # No KV cache: transformers only reads restarting position_ids as packing without one.
        packed = model(
            input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False
        ).logits[0]
        alone = torch.cat([model(input_ids=torch.tensor([i])).logits[0] for i in ids])
    torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-5)
