"""Inference precision and memory layout, shared by ``panini-restore`` and the test harness.

``--precision``: ``fp32`` (default), ``bf16`` (autocast, CPU or CUDA) or ``fp16`` (autocast, CUDA only).
``--channels_last``: ``auto`` (default) uses the NHWC layout only where it was measured exact and
faster: PaniniNet with an input of 256 px or more (the FR setting, whose RRDB trunk runs at the input
resolution: 1.26x on 2 idle CPU cores, output change 7e-7, docs/benchmarks.md). GFPGAN's code cannot
run NHWC (it calls ``.view``) and GPEN / the 64 px SR nets were not faster; ``on`` forces it, ``off``
never uses it.
"""
import torch

from .arch_util import set_memory_format

PRECISIONS = ('fp32', 'bf16', 'fp16')
CHANNELS_LAST_CHOICES = ('auto', 'on', 'off')
AUTOCAST_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
CHANNELS_LAST_MIN_INPUT = 256


def check_precision(precision, device):
    """ValueError for an unknown precision, or fp16 on a device other than CUDA."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    if precision == 'fp16' and torch.device(device).type != 'cuda':
        raise ValueError(f'precision fp16 needs a CUDA device (got {torch.device(device).type}); '
                         'use bf16 or fp32 on the CPU.')


def channels_last_by_default(net):
    """Whether ``--channels_last auto`` picks NHWC for ``net`` (see the module docstring)."""
    return type(net).__name__ == 'PaniniNet' and getattr(net, 'in_size', 0) >= CHANNELS_LAST_MIN_INPUT


class InferenceRunner:
    """Calls ``net`` on ``device`` in the chosen precision and layout; outputs come back as float32.

    Args:
        net (nn.Module): returns an image tensor or a tuple whose first item is the image.
        device (torch.device | str): where it runs.
        precision (str): one of :data:`PRECISIONS`.
        channels_last (str): one of :data:`CHANNELS_LAST_CHOICES`.

    Calling it with ``x`` (B, 3, H, W) and the net's keyword arguments returns the net's output, the
    image (first item) cast to float32 and contiguous.
    """

    def __init__(self, net, device, precision='fp32', channels_last='auto'):
        check_precision(precision, device)
        channels_last = {True: 'on', False: 'off'}.get(channels_last, channels_last)  # YAML reads on/off as bools
        if channels_last not in CHANNELS_LAST_CHOICES:
            raise ValueError(f'channels_last must be one of {CHANNELS_LAST_CHOICES}, got {channels_last!r}')
        self.device = torch.device(device)
        self.precision = precision
        self.channels_last = channels_last == 'on' or (channels_last == 'auto' and channels_last_by_default(net))
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.net = set_memory_format(net.to(self.device).eval(), self.memory_format)

    def __call__(self, x, **kwargs):
        x = x.to(self.device).contiguous(memory_format=self.memory_format)
        if self.precision == 'fp32':
            out = self.net(x, **kwargs)
        else:
            with torch.autocast(self.device.type, dtype=AUTOCAST_DTYPES[self.precision]):
                out = self.net(x, **kwargs)
        if isinstance(out, (tuple, list)):
            return (out[0].float().contiguous(), *out[1:])
        return out.float().contiguous()
