"""Analyses of a trained Panini-Net (paper Sec. "Analysis"): theta (Table 4), Y / Y_IFE / Y_GPB
(Fig. 7) and DAFI mask-bias editing.

Shared command-line options pick the net: ``--opt`` (a test options file: its
``network_g`` and ``path.pretrain_network_g``) or ``--arch`` preset + ``--arch_opt k=v``
+ ``--model_path``; ``--random_weights`` (tests/demos only) allows no weights.
"""
import os
import re

import cv2
import numpy as np
import torch
import yaml

from basicsr.utils import img2tensor, tensor2img
from panini_arch.archs.arch_util import without_weight_paths
from panini_arch.utils.face_restorer import PRESETS
from panini_arch.utils.image_io import IMAGE_EXTENSIONS
from panini_arch.utils.safe_load import load_options
from .net_loading import build_generator
from .resize import restore, to_net_input


def add_net_args(parser):
    """Add --opt, --arch, --arch_opt, --model_path, --param_key, --random_weights to an argparse parser."""
    parser.add_argument('--opt', help='test options file (network_g + path.pretrain_network_g)')
    parser.add_argument('--arch', default='fr', choices=sorted(PRESETS), help='PaniniNet preset without --opt')
    parser.add_argument('--arch_opt', nargs='*', default=[], metavar='KEY=VALUE',
                        help='PaniniNet arguments overriding the preset / options file (YAML values)')
    parser.add_argument('--model_path', help='Panini-Net checkpoint (overrides the options file path)')
    parser.add_argument('--param_key', default='params_ema', help="checkpoint key; 'none' for a plain state dict")
    parser.add_argument('--random_weights', action='store_true',
                        help='TESTS/DEMOS ONLY: untrained net, no weights needed (results are meaningless)')


def net_from_args(args):
    """Build the PaniniNet described by :func:`add_net_args` options (eval mode, CPU)."""
    network_opt, model_path, param_key = dict(type='PaniniNet', **PRESETS[args.arch]), None, args.param_key
    if args.opt:
        opt = load_options(args.opt)
        network_opt = dict(opt['network_g'])
        model_path = (opt.get('path') or {}).get('pretrain_network_g')
        param_key = (opt.get('path') or {}).get('param_key_g', param_key)
    if args.model_path:
        model_path, param_key = args.model_path, args.param_key
    for item in args.arch_opt:
        key, value = item.split('=', 1)
        network_opt[key] = yaml.safe_load(value)
    param_key = None if str(param_key).lower() == 'none' else param_key
    return build_generator(without_weight_paths(network_opt), model_path, param_key, args.random_weights)


def list_images(folder):
    """Sorted image paths in ``folder``; FileNotFoundError when there are none."""
    paths = sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise FileNotFoundError(f'No images in {folder}')
    return paths


def load_batch(paths):
    """Read BGR images -> (B, 3, H, W) RGB float tensor in [0, 1]."""
    images = [cv2.imread(path, cv2.IMREAD_COLOR) for path in paths]
    for path, img in zip(paths, images):
        if img is None:
            raise OSError(f'Cannot read image {path}')
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
    negative biases favour the input features (IFE), positive ones the GAN prior."""
    x = to_net_input(lq, net.in_size)
    outputs = [restore(net, lq, net.in_size, mask_bias=float(bias)) for bias in biases]
    thetas = [theta_from_masks(net.degradation_masks(x, mask_bias=float(bias))) for bias in biases]
    return outputs, thetas


def to_image(tensor):
    """(3, H, W) RGB [0, 1] tensor -> BGR uint8 image."""
    return tensor2img(tensor.cpu())
