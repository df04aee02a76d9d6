"""Cross-entropy over the trained positions of a packed row, without [tokens x vocab] fp32 logits.

At 32k tokens and a 152k vocabulary, the model's own logits are 9.7 GB in bf16, the stock loss's
fp32 copy 19 GB more, and their gradients as much again: most of plain training's memory.
Three loss paths:

* `fused` (default): the model's forward keeps only the hidden states of trained positions
  (transformers' `logits_to_keep` with an index tensor), and a custom autograd function computes,
  chunk by chunk, the loss *and* its gradients with respect to the hidden states and the output
  matrix. No logits outlive their chunk, nothing is recomputed in backward, and positions whose
  label is -100 never reach the vocabulary projection at all (half the projection FLOPs when half
  the tokens are trained). Liger's fused linear cross-entropy works the same way, but it is an
  extra dependency and its TRL integration has dropped completion masks before; this function is
  thirty lines of plain torch that the tests check against the stock loss.
* `chunked`: the same selection, each chunk's logits under activation checkpointing (the
  projection is recomputed in backward). Kept as the simplest correct fallback.
* `stock`: the model's full logits and `F.cross_entropy` (the reference, and what plain HF does).

All paths return the *sum* of the per-token losses; the trainer divides by the number of trained
tokens of the whole optimizer step (all micro-batches, all ranks), which no single micro-batch
knows. A row with no trained token still runs the model (so data-parallel ranks stay in step)
and contributes exactly zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from srft.train.collate import IGNORE_INDEX, PackedBatch

LOSS_IMPLS = ("fused", "chunked", "stock")


class FusedLinearCrossEntropy(torch.autograd.Function):
    """Sum of cross-entropy of `hidden @ weight.T (+ bias)` against `targets`, chunk by chunk.

    The gradients are computed during the forward pass (where each chunk's logits already exist)
    and scaled by the incoming gradient in backward, so peak memory holds one chunk of logits.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        chunk_tokens: int,
    ) -> torch.Tensor:
        n = hidden.shape[0]
        want_hidden = hidden.requires_grad
        want_weight = weight.requires_grad
        want_bias = bias is not None and bias.requires_grad
        grad_hidden = torch.zeros_like(hidden) if want_hidden else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if want_weight else None
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if want_bias else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, n, chunk_tokens):
            h = hidden[start : start + chunk_tokens]
            t = targets[start : start + chunk_tokens]
            logits = F.linear(h, weight, bias).float()
            keep = t != IGNORE_INDEX
            safe_t = torch.where(keep, t, 0)
            lse = torch.logsumexp(logits, dim=-1)
            picked = logits.gather(1, safe_t.unsqueeze(1)).squeeze(1)
            total += ((lse - picked) * keep).sum()
            if want_hidden or want_weight or want_bias:
                # d(sum CE)/d logits = softmax - one_hot, zero on ignored rows; the softmax is
                # written over the logits buffer so a chunk holds one fp32 [chunk x vocab] tensor.
                grad = logits.sub_(lse.unsqueeze(1)).exp_()
                grad.scatter_add_(1, safe_t.unsqueeze(1), -torch.ones_like(picked).unsqueeze(1))
                grad *= keep.unsqueeze(1)
                grad_lowp = grad.to(hidden.dtype)
                if grad_hidden is not None:
                    grad_hidden[start : start + chunk_tokens] = grad_lowp @ weight
                if grad_weight is not None:
                    grad_weight += (grad_lowp.t() @ h).float()
                if grad_bias is not None:
                    grad_bias += grad.sum(0)
        ctx.save_for_backward(
            *(g if g is not None else torch.empty(0) for g in (grad_hidden, grad_weight, grad_bias))
        )
        ctx.present = (want_hidden, want_weight, want_bias)
        ctx.dtypes = (weight.dtype, bias.dtype if bias is not None else None)
        return total

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        want_hidden, want_weight, want_bias = ctx.present
        weight_dtype, bias_dtype = ctx.dtypes
        return (
            grad_hidden * grad_out.to(grad_hidden.dtype) if want_hidden else None,
            (grad_weight * grad_out).to(weight_dtype) if want_weight else None,
            (grad_bias * grad_out).to(bias_dtype) if want_bias else None,
            None,
            None,
        )


def _chunk_ce_sum(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, t: torch.Tensor
) -> torch.Tensor:
    logits = F.linear(h, weight, bias).float()
    return F.cross_entropy(logits, t, ignore_index=IGNORE_INDEX, reduction="sum")


def chunked_cross_entropy(
    hidden: torch.Tensor, head: nn.Module, targets: torch.Tensor, chunk_tokens: int
) -> torch.Tensor:
    """Sum of cross-entropy of `head(hidden)` with each chunk's logits recomputed in backward."""
    weight, bias = head.weight, getattr(head, "bias", None)
    total = torch.zeros((), dtype=torch.float32, device=hidden.device)
    for start in range(0, hidden.shape[0], chunk_tokens):
        total = total + checkpoint(
            _chunk_ce_sum,
            hidden[start : start + chunk_tokens],
            weight,
            bias,
            targets[start : start + chunk_tokens],
            use_reentrant=False,
        )
    return total


@contextmanager
def _head_returns_loss(
    head: nn.Module, targets: torch.Tensor, impl: str, chunk_tokens: int
) -> Iterator[None]:
    """Make the output projection return the loss sum of its (already selected) input positions.

    The model calls its own `lm_head` inside its own forward, so sharding engines (FSDP2,
    DeepSpeed ZeRO-3) gather the weight exactly as they would for the logits; only what the
    module computes changes, for the duration of one forward.
    """

    def forward(hidden: torch.Tensor) -> torch.Tensor:
        flat = hidden.reshape(-1, hidden.shape[-1])
        if flat.shape[0] == 0:
            # Nothing trained: a zero that is still connected to the graph.
            return (flat.sum() * 0.0).float().reshape(1, 1, 1)
        if impl == "fused":
            bias = getattr(head, "bias", None)
            out = FusedLinearCrossEntropy.apply(flat, head.weight, bias, targets, chunk_tokens)
        else:
            out = chunked_cross_entropy(flat, head, targets, chunk_tokens)
        return out.reshape(1, 1, 1)

    head.forward = forward  # type: ignore[method-assign]
    try:
        yield
    finally:
        del head.forward


def _check_supported(config: Any, impl: str) -> None:
    if impl != "stock" and getattr(config, "final_logit_softcapping", None):
        raise ValueError(
            "this model soft-caps its logits after the output projection; "
            "use loss_impl: stock for it"
        )


def loss_sum(
    model: nn.Module,
    batch: PackedBatch,
    impl: str = "fused",
    chunk_tokens: int = 2048,
    head: nn.Module | None = None,
) -> torch.Tensor:
    """Sum over the batch's trained positions of the next-token cross-entropy (fp32 scalar).

    `model` is what to call (possibly wrapped by DDP/FSDP/DeepSpeed); `head` is its output
    projection (found on the model when not given).
    """
    if impl not in LOSS_IMPLS:
        raise ValueError(f"unknown loss_impl {impl!r}; choose one of {', '.join(LOSS_IMPLS)}")
    inputs = {"input_ids": batch.input_ids, "position_ids": batch.position_ids, "use_cache": False}
    targets = batch.targets[0]
    if impl == "stock":
        logits = model(**inputs).logits
        return F.cross_entropy(
            logits[0].float(), targets, ignore_index=IGNORE_INDEX, reduction="sum"
        )
    if head is None:
        head = model.get_output_embeddings()
    _check_supported(getattr(model, "config", None), impl)
    positions = (targets != IGNORE_INDEX).nonzero().squeeze(1)
    with _head_returns_loss(head, targets[positions], impl, chunk_tokens):
        out = model(**inputs, logits_to_keep=positions)
    return out.logits.reshape(())
