"""Pure-PyTorch fused bias + leaky ReLU of StyleGAN2 (runs on any device)."""
import math

import torch.nn.functional as F


def fused_leaky_relu(x, bias=None, negative_slope=0.2, scale=math.sqrt(2)):
    """``scale * leaky_relu(x + bias)`` with ``bias`` broadcast over dim 1.

    Args:
        x (Tensor): (B, C, ...) or (B, C).
        bias (Tensor | None): (C,).
        negative_slope (float): slope for negative inputs.
        scale (float): gain applied after the activation.

    Returns:
        Tensor: same shape as ``x``.
    """
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, negative_slope) * scale
