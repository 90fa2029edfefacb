"""The one resize policy used for every method (documented in docs/evaluation.md).

LQ images are resized to the method's input size, and outputs to the GT size,
with bicubic interpolation (``torch.nn.functional.interpolate``, antialiased,
``align_corners=False``); a resize to the same size is the identity.
"""
import torch.nn.functional as F


def resize_bicubic(x, size):
    """Resize (B, C, H, W) to ``size`` (int or (h, w)); values are clamped to [0, 1] afterwards.

    Args:
        x (Tensor): images in [0, 1].
        size (int | tuple[int, int]): target size.
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode='bicubic', align_corners=False, antialias=True).clamp(0, 1)


def to_net_input(lq, input_size):
    """LQ (B, 3, h, w) RGB in [0, 1] -> net input (B, 3, input_size, input_size) in [-1, 1]."""
    return resize_bicubic(lq, input_size) * 2 - 1


def restore(net, lq, input_size, output_size=None, **forward_kwargs):
    """Run a [-1, 1]-in/[-1, 1]-out face restoration net under the resize policy.

    Args:
        net (nn.Module): returns an image tensor, or a tuple whose first item is the image
            (GFPGAN returns ``(image, rgbs)``).
        lq (Tensor): (B, 3, h, w) RGB in [0, 1].
        input_size (int): the method's input size.
        output_size (int | tuple | None): GT size; None keeps the net's output size.

    Returns:
        Tensor: (B, 3, H, W) RGB in [0, 1].
    """
    out = net(to_net_input(lq, input_size), **forward_kwargs)
    if isinstance(out, (tuple, list)):
        out = out[0]
    out = (out.clamp(-1, 1) + 1) / 2
    return out if output_size is None else resize_bicubic(out, output_size)
