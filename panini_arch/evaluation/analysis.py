"""Analyses of a trained Panini-Net (paper Sec. "Analysis"): theta (Table 4), Y / Y_IFE / Y_GPB
(Fig. 7) and DAFI mask-bias editing. The scripts ``analyze_theta.py``, ``visualize_fusion.py`` and
``edit_mask_bias.py`` run them from the command line.
"""
import os
import re

import numpy as np
import torch
from tqdm import tqdm

from basicsr.utils import img2tensor, tensor2img
from panini_arch.metrics.resize_policy import restore, to_net_input
from panini_arch.utils.image_io import read_photo


def load_batch(paths):
    """Read images with the package's one reader (:func:`read_photo`: 16-bit and float files scaled, alpha
    dropped) -> (B, 3, H, W) RGB float tensor in [0, 1]; :class:`BadImageError` naming a bad file."""
    images = [read_photo(path)[0] for path in paths]
    return torch.stack(img2tensor([img.astype(np.float32) / 255. for img in images], bgr2rgb=True, float32=True))


def find_level_folders(root):
    """Map r -> LQ folder of a ``generate_theta_set.py`` set (``root/LQ/r016`` ...), sorted by r."""
    base = os.path.join(root, 'LQ') if os.path.isdir(os.path.join(root, 'LQ')) else root
    levels = {}
    for name in sorted(os.listdir(base)):
        match = re.fullmatch(r'r(\d+)', name)
        if match and os.path.isdir(os.path.join(base, name)):
            levels[int(match.group(1))] = os.path.join(base, name)
    if not levels:
        raise FileNotFoundError(f'No r<NNN> folders in {base}: write the set with scripts/generate_theta_set.py')
    return dict(sorted(levels.items()))


def theta_from_masks(masks):
    """Eq. 11: theta = mean over channels of the DAFI5 (res 64) prior weight; masks (B, 5, C) -> (B,)."""
    return masks[:, 4].mean(dim=1)


@torch.no_grad()
def image_thetas(net, paths, batch_size=8):
    """Theta of each image (list of floats), the LQ resized to ``net.in_size`` by the resize policy."""
    thetas = []
    for start in range(0, len(paths), batch_size):
        lq = load_batch(paths[start:start + batch_size])
        x = to_net_input(lq, net.in_size)
        thetas += theta_from_masks(net.degradation_masks(x)).tolist()
    return thetas


@torch.no_grad()
def fusion_outputs(net, lq):
    """Fig. 7 outputs for LQ (B, 3, h, w) in [0, 1]: dict Y, Y_IFE (prior term dropped), Y_GPB (input term dropped),
    each (B, 3, out, out) in [0, 1]."""
    return {'Y': restore(net, lq, net.in_size), 'Y_IFE': restore(net, lq, net.in_size, drop='gpb'),
            'Y_GPB': restore(net, lq, net.in_size, drop='ife')}


@torch.no_grad()
def mask_bias_sweep(net, lq, biases):
    """Outputs (list of (B, 3, out, out) in [0, 1]) and thetas (list of (B,)) for each DAFI ``mask_bias``;
    negative biases favour the input features (IFE), positive ones the GAN prior. Progress with an ETA on stderr."""
    x = to_net_input(lq, net.in_size)
    outputs, thetas = [], []
    for bias in tqdm(biases, unit='bias', desc='mask_bias sweep'):
        outputs.append(restore(net, lq, net.in_size, mask_bias=float(bias)))
        thetas.append(theta_from_masks(net.degradation_masks(x, mask_bias=float(bias))))
    return outputs, thetas


def to_image(tensor):
    """(3, H, W) RGB [0, 1] tensor -> BGR uint8 image."""
    return tensor2img(tensor.cpu())
