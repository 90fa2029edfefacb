"""Pure-PyTorch fused bias + leaky ReLU of StyleGAN2 (runs on any device), indexed as BasicSR's kernel."""
import math

import torch
import torch.nn.functional as F


def fused_leaky_relu(x, bias=None, negative_slope=0.2, scale=math.sqrt(2)):
    """``scale * leaky_relu(x + bias)`` with ``bias`` broadcast over dim 1, as BasicSR's CUDA kernel adds it.

    The kernel adds ``bias[(i // step) % bias.numel()]`` to the flat element ``i``, ``step`` being
    the product of the sizes after dim 1. When dim 1 has ``bias.numel()`` entries that is the usual
    per-channel bias; otherwise (a (B, N, C) latent through StyleGAN2's mapping MLP, as GFPGAN v1
    with ``different_w`` feeds it) the same index is used here, so CPU and CUDA agree.

    Args:
        x (Tensor): (B, C, ...), (B, N, C) or any shape with at least one dim.
        bias (Tensor | None): (C,) (any shape: its flat values are used); None or empty: no bias.
        negative_slope (float): slope for negative inputs.
        scale (float): gain applied after the activation.

    Returns:
        Tensor: same shape as ``x``.
    """
    if bias is not None and bias.numel():
        x = x + kernel_bias(x, bias)
    return F.leaky_relu(x, negative_slope) * scale


def kernel_bias(x, bias):
    """The bias BasicSR's kernel adds to ``x``, shaped to broadcast: (1, C, 1, ...) or (B, N, 1, ...)."""
    bias = bias.reshape(-1).to(x.dtype)
    rest = [1] * (x.ndim - 2)
    if x.ndim >= 2 and x.shape[1] == bias.numel():
        return bias.view(1, -1, *rest)
    lead = x.shape[:2]
    rows = torch.arange(math.prod(lead), device=x.device) % bias.numel()
    return bias[rows].view(*lead, *rest)
