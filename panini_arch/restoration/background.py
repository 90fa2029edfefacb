"""Background upsampler for whole photos: BasicSR's ``RRDBNet`` with Real-ESRGAN's weights, run in tiles.

The weights are read from a local file (never downloaded), weights only and
strictly; the network's size (scale 1, 2 or 4, features, blocks) is read from the
file, so ``RealESRGAN_x2plus.pth`` and ``RealESRGAN_x4plus.pth`` both work. The
realesrgan package is not needed. Tiles overlap by ``tile_pad`` pixels on every
side and only their inner part is kept, as in Real-ESRGAN.
"""
import math

import cv2
import numpy as np
import torch
from basicsr.archs.rrdbnet_arch import RRDBNet

from ..utils.weights import load_checked, read_weights_file, select_state_dict

REALESRGAN_SOURCE = ('RealESRGAN_x2plus.pth (or RealESRGAN_x4plus.pth) from '
                     'https://github.com/xinntao/Real-ESRGAN/releases')
WHAT = 'Real-ESRGAN background upsampler (--bg_path)'
# RRDBNet folds the input by pixel-unshuffle for scales 1 and 2: conv_first's input channels tell the scale.
SCALE_OF_CHANNELS = {3: 4, 12: 2, 48: 1}


def rrdbnet_options(state_dict, path):
    """RRDBNet constructor arguments (scale, num_feat, num_block, num_grow_ch) read from its weights.

    Raises:
        RuntimeError: the weights are not an RRDBNet's (the message names ``path`` and the option).
    """
    first = state_dict.get('conv_first.weight')
    grow = state_dict.get('body.0.rdb1.conv1.weight')
    if first is None or grow is None or first.ndim != 4 or first.shape[1] not in SCALE_OF_CHANNELS:
        raise RuntimeError(f'{path} does not hold RRDBNet weights (no usable conv_first / body.0 entries): '
                           f'--bg_path takes {REALESRGAN_SOURCE}.')
    blocks = {key.split('.')[1] for key in state_dict if key.startswith('body.')}
    return {'scale': SCALE_OF_CHANNELS[first.shape[1]], 'num_feat': first.shape[0], 'num_block': len(blocks),
            'num_grow_ch': grow.shape[0]}


def load_rrdbnet(path):
    """RRDBNet (eval mode, CPU) with the weights of ``path`` (key ``params_ema``, else ``params``).

    Raises:
        FileNotFoundError: no path given or the file is missing. RuntimeError: unreadable file, or
            weights that are not an RRDBNet's or do not fit it. Each names the file, ``--bg_path``
            and where users get it.
    """
    if not path:
        raise FileNotFoundError(f'--bg_upsampler realesrgan needs --bg_path: {REALESRGAN_SOURCE}.')
    checkpoint = read_weights_file(path, WHAT, f'Get {REALESRGAN_SOURCE}.')
    state = select_state_dict(checkpoint, 'auto', path, WHAT)
    if not isinstance(state, dict):
        raise RuntimeError(f'{path} holds no state dict: --bg_path takes {REALESRGAN_SOURCE}.')
    net = RRDBNet(3, 3, **rrdbnet_options(state, path))
    try:
        load_checked(net, state, path, WHAT)
    except RuntimeError as error:
        raise RuntimeError(f'{error}. Get {REALESRGAN_SOURCE}.') from None
    return net.eval()


def _ceil_to(value, multiple):
    return int(math.ceil(value / multiple) * multiple)


@torch.no_grad()
def tile_outputs(net, img, tile, tile_pad):
    """Run an RRDBNet on ``img`` tile by tile, yielding each tile's part of the output.

    Each tile of ``tile`` x ``tile`` pixels is run with ``tile_pad`` extra pixels of the
    image around it (fewer at the image border) and only its own part of the output is
    kept; put together, the parts equal the untiled output wherever the padding covers the
    network's receptive field. Only one tile at a time is on the net's device.

    Args:
        net (RRDBNet): ``net.scale`` in (1, 2, 4).
        img (Tensor): (1, 3, H, W) RGB in [0, 1] on the CPU; H and W multiples of 4 / scale
            (the net's pixel-unshuffle).
        tile (int): tile side (0 = the whole image at once); rounded up to that multiple, as is ``tile_pad``.
        tile_pad (int): overlap on each side.

    Yields:
        tuple: (top, left) of the part in output pixels, and the part, a (1, 3, h, w) float32 CPU tensor
        (not clamped); the parts cover the (H * scale, W * scale) output once.
    """
    scale, device = net.scale, next(net.parameters()).device
    height, width = img.shape[2:]
    fold = 4 // scale
    tile = _ceil_to(tile, fold) if tile else max(height, width)
    tile_pad = _ceil_to(tile_pad, fold)
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            y0, x0 = max(top - tile_pad, 0), max(left - tile_pad, 0)
            y1, x1 = min(bottom + tile_pad, height), min(right + tile_pad, width)
            result = net(img[:, :, y0:y1, x0:x1].to(device)).float().cpu()
            yield (top * scale, left * scale), result[:, :, (top - y0) * scale:(bottom - y0) * scale,
                                                      (left - x0) * scale:(right - x0) * scale]


class BackgroundUpsampler:
    """Upsample whole photos with an RRDBNet in tiles, then resize to the asked scale.

    Args:
        net (RRDBNet): from :func:`load_rrdbnet`.
        device (torch.device): where the net runs (CUDA when present, chosen by ``--device``).
        tile (int): tile side in input pixels (0 = whole image; large photos need tiles to fit memory).
        tile_pad (int): overlap of the tiles on each side.
    """

    def __init__(self, net, device, tile=400, tile_pad=10):
        self.net = net.to(device)
        self.tile = tile
        self.tile_pad = tile_pad

    def __call__(self, img, upscale):
        """(H, W, 3) uint8 BGR photo -> (round(H*upscale), round(W*upscale), 3) uint8 BGR."""
        height, width = img.shape[:2]
        fold = 4 // self.net.scale
        pad_h, pad_w = -height % fold, -width % fold
        padded = cv2.copyMakeBorder(img, 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT_101) if pad_h or pad_w else img
        rgb = torch.from_numpy(np.ascontiguousarray(padded[:, :, ::-1])).permute(2, 0, 1)[None].float().div(255)
        scale = self.net.scale
        out = np.empty((padded.shape[0] * scale, padded.shape[1] * scale, 3), np.uint8)
        for (top, left), part in tile_outputs(self.net, rgb, self.tile, self.tile_pad):
            part = part[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
            out[top:top + part.shape[0], left:left + part.shape[1]] = part[:, :, ::-1]
        out = np.ascontiguousarray(out[:height * scale, :width * scale])
        size = (int(round(width * upscale)), int(round(height * upscale)))
        if size == (width * scale, height * scale):
            return out
        return cv2.resize(out, size, interpolation=cv2.INTER_LANCZOS4)
