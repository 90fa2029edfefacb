"""Pure-PyTorch upfirdn2d: upsample (zero insertion), pad, FIR filter, downsample."""
import torch
import torch.nn.functional as F


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Same call and result as ``basicsr.ops.upfirdn2d.upfirdn2d``.

    Args:
        x (Tensor): (B, C, H, W).
        kernel (Tensor): (kh, kw) FIR filter.
        up (int): zero-insertion factor on both axes.
        down (int): decimation factor on both axes.
        pad (sequence[int]): (before, after) padding on both axes; negative crops. As in BasicSR,
            only the first two entries are read (a 4-entry pad is accepted).

    Returns:
        Tensor: (B, C, (H*up + pad0 + pad1 - kh) // down + 1, ...).
    """
    b, c, h, w = x.shape
    pad0, pad1 = int(pad[0]), int(pad[1])
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    padding = 0
    if pad0 == pad1 >= 0:  # the convolution pads (no padded copy, forward or backward): the discriminator's blurs
        padding = pad0
    else:
        x = F.pad(x, [max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)])
    if pad0 < 0 or pad1 < 0:
        x = x[:, :, max(-pad0, 0):x.shape[2] - max(-pad1, 0), max(-pad0, 0):x.shape[3] - max(-pad1, 0)]
    # A depthwise conv (one filter copy per channel) is several times faster on
    # CPU than folding channels into the batch as BasicSR's native version does.
    kh, kw = kernel.shape
    weight = torch.flip(kernel, [0, 1]).to(x.dtype).view(1, 1, kh, kw).expand(c, 1, kh, kw)
    return F.conv2d(x, weight, stride=down, padding=padding, groups=c)
