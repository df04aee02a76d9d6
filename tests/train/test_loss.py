"""The loss paths: equal to the stock loss, and labels are sacred (zero gradient where -100)."""

from __future__ import annotations

import pytest

from srft.train.collate import IGNORE_INDEX, pack
from srft.train.loss import LOSS_IMPLS, loss_sum

from .tiny import make_rows, tiny_model

torch = pytest.importorskip("torch")


def _batch(lengths=(23, 41, 17), seed=0):
    rows = make_rows(list(lengths), seed=seed)
    return pack([r["input_ids"] for r in rows], [r["labels"] for r in rows])


def _loss_and_grads(model, batch, impl):
    model.zero_grad(set_to_none=True)
    loss = loss_sum(model, batch, impl, chunk_tokens=7)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("impl", ["fused", "chunked"])
def test_memory_saving_losses_equal_the_stock_loss_and_gradients(impl):
    model, batch = tiny_model(), _batch()
    ref_loss, ref_grads = _loss_and_grads(model, batch, "stock")
    loss, grads = _loss_and_grads(model, batch, impl)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-5)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("impl", LOSS_IMPLS)
def test_gradient_is_zero_exactly_at_masked_positions_and_nonzero_elsewhere(impl):
    """Hidden states feed the output projection position by position, so a zero gradient at the
    final hidden state of a position means a zero gradient at its logits."""
    model, batch = tiny_model(), _batch()
    captured = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured["hidden"] = output

    handle = model.model.norm.register_forward_hook(keep)
    loss_sum(model, batch, impl, chunk_tokens=7).backward()
    handle.remove()
    per_position = captured["hidden"].grad[0].abs().sum(-1)
    masked = batch.targets[0] == IGNORE_INDEX
    assert masked.any() and (~masked).any()
    assert torch.all(per_position[masked] == 0)
    assert torch.all(per_position[~masked] > 0)


def test_stock_loss_gradient_at_the_logits_is_zero_where_labels_are_masked():
    model, batch = tiny_model(), _batch()
    captured = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured["logits"] = output

    handle = model.lm_head.register_forward_hook(keep)
    loss_sum(model, batch, "stock").backward()
    handle.remove()
    per_position = captured["logits"].grad[0].abs().sum(-1)
    masked = batch.targets[0] == IGNORE_INDEX
    assert torch.all(per_position[masked] == 0)
    assert torch.all(per_position[~masked] > 0)


@pytest.mark.parametrize("impl", LOSS_IMPLS)
def test_a_row_with_no_trained_token_contributes_zero_and_no_nan(impl):
    model = tiny_model()
    rows = make_rows([20, 30], trained_every=0)
    batch = pack([r["input_ids"] for r in rows], [r["labels"] for r in rows])
    loss = loss_sum(model, batch, impl)
    loss.backward()
    assert loss.item() == 0.0
    for p in model.parameters():
        assert p.grad is None or torch.all(p.grad == 0)


def test_the_fused_loss_trains_a_separate_output_matrix_like_the_stock_loss():
    model = tiny_model()
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())
    batch = _batch()
    ref_loss, ref = _loss_and_grads(model, batch, "stock")
    loss, got = _loss_and_grads(model, batch, "fused")
    torch.testing.assert_close(got["lm_head.weight"], ref["lm_head.weight"], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(loss, ref_loss)


def test_an_unknown_loss_path_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown loss_impl 'liger'"):
        loss_sum(tiny_model(), _batch(), "liger")
