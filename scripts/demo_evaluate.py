"""Evaluate the demo's trained Panini-Net on held-out faces with the package's own tools.

Test sets come from ``panini_arch.data.eval_sets`` (seeded Eq. 10 degradations and
the Table 4 r sweep); theta, the Fig. 7 outputs and the prior-weight sweep from
``panini_arch.evaluation.analysis``; PSNR/SSIM from BasicSR on uint8 images. The same functions
serve the demo with published weights (other methods as extra columns).
"""
import os

import cv2
import numpy as np
import torch

from panini_arch.archs.presets import build_generator, panini_options  # first: makes basicsr importable
from basicsr.metrics import calculate_psnr, calculate_ssim
from panini_arch.data.eval_sets import generate_test_set, generate_theta_set
from panini_arch.evaluation.analysis import fusion_outputs, image_thetas, load_batch, mask_bias_sweep, to_image
from panini_arch.metrics.resize_policy import resize_bicubic, restore
from panini_arch.utils.image_io import list_images

PAPER_RS = (16, 32, 64, 128)  # Table 4, for 1024-pixel faces


def load_trained(network_opt, model_path):
    """The trained PaniniNet (EMA weights, eval mode); every weight comes from ``model_path``."""
    return build_generator(panini_options(network_opt), str(model_path), 'params_ema')


def write(path, img):
    """cv2.imwrite with the folder created; returns the path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, img)
    return path


@torch.no_grad()
def restoration_table(net, test_dir, out_dir, ranges, seed=2022):
    """Degrade each held-out face once, restore it, and score it against GT and a bicubic baseline.

    Writes ``out_dir/{GT,LQ}`` (test set), ``out_dir/restored`` and ``out_dir/bicubic``.

    Returns:
        list[dict]: per image ``name``, ``lq``/``restored``/``bicubic``/``gt`` paths, ``psnr``/``ssim``
        of the restoration and ``psnr_bicubic``/``ssim_bicubic`` (dB / [0, 1], RGB, no crop).
    """
    generate_test_set(test_dir, out_dir, seed=seed, gt_size=net.out_size, in_size=net.in_size, ranges=ranges)
    rows = []
    for lq_path in list_images(os.path.join(out_dir, 'LQ')):
        name = os.path.basename(lq_path)
        gt = cv2.imread(os.path.join(out_dir, 'GT', name))
        lq = load_batch([lq_path])
        restored = to_image(restore(net, lq, net.in_size)[0])
        bicubic = to_image(resize_bicubic(lq, net.out_size)[0])
        row = {'name': os.path.splitext(name)[0], 'lq': lq_path, 'gt': os.path.join(out_dir, 'GT', name)}
        for key, img in (('restored', restored), ('bicubic', bicubic)):
            add_column(row, key, img, gt, out_dir)
        rows.append(row)
    return rows


def add_column(row, key, img, gt, out_dir):
    """Write ``img`` to ``out_dir/<key>/`` and put its path in ``row[key]``, its PSNR/SSIM against ``gt`` in
    ``row['psnr<suffix>']``/``row['ssim<suffix>']`` (suffix :func:`score_suffix`)."""
    row[key] = write(os.path.join(out_dir, key, os.path.basename(row['gt'])), img)
    row['psnr' + score_suffix(key)] = float(calculate_psnr(img, gt, crop_border=0))
    row['ssim' + score_suffix(key)] = float(calculate_ssim(img, gt, crop_border=0))


def score_suffix(key):
    """'' for the Panini-Net column ``restored``, ``_<key>`` for the others (``psnr_bicubic``)."""
    return '' if key == 'restored' else f'_{key}'


@torch.no_grad()
def method_columns(rows, methods, out_dir):
    """Restore each row's LQ with other methods; adds their images and scores to ``rows`` (in place).

    Args:
        methods (dict): column key -> (net, input size, forward kwargs); outputs are resized to the GT size.
    """
    for row in rows:
        gt = cv2.imread(row['gt'])
        lq = load_batch([row['lq']])
        for key, (net, input_size, kwargs) in methods.items():
            add_column(row, key, to_image(restore(net, lq, input_size, gt.shape[:2], **kwargs)[0]), gt, out_dir)


def prior_sweep(net, lq_paths, out_dir, biases):
    """The DAFI prior weight swept by ``mask_bias`` (negative: the input features, positive: the prior).

    Returns:
        list[dict]: per face ``name``, ``lq`` and per bias ``b`` the image path ``bias<b>`` and ``theta<b>``.
    """
    outputs, thetas = mask_bias_sweep(net, load_batch(lq_paths), biases)
    rows = []
    for i, path in enumerate(lq_paths):
        name = os.path.basename(path)
        row = {'name': os.path.splitext(name)[0], 'lq': path}
        for bias, batch, theta in zip(biases, outputs, thetas):
            row[f'bias{bias:g}'] = write(os.path.join(out_dir, f'bias{bias:g}', name), to_image(batch[i]))
            row[f'theta{bias:g}'] = float(theta[i])
        rows.append(row)
    return rows


def theta_curve(net, test_dir, out_dir, fixed, seed=2022):
    """Table 4 on the held-out faces: mean/std theta per r (r scaled from 1024 to the demo's GT size).

    Returns:
        list[dict]: ``r`` (at the demo size), ``r_paper`` (1024-pixel equivalent), ``theta_mean``, ``theta_std``.
    """
    scale = 1024 // net.out_size
    rs = [r / scale for r in PAPER_RS]
    generate_theta_set(test_dir, out_dir, seed=seed, gt_size=net.out_size, in_size=net.in_size, rs=rs, fixed=fixed)
    rows = []
    for r, r_paper in zip(rs, PAPER_RS):
        thetas = image_thetas(net, list_images(os.path.join(out_dir, 'LQ', f'r{int(r):03d}')))
        rows.append({'r': r, 'r_paper': r_paper, 'theta_mean': float(np.mean(thetas)),
                     'theta_std': float(np.std(thetas))})
    return rows


def fusion_examples(net, lq_paths, out_dir):
    """Fig. 7: write Y, Y_IFE and Y_GPB for each LQ image; returns [{'name', 'Y', 'Y_IFE', 'Y_GPB'}] of paths."""
    outputs = fusion_outputs(net, load_batch(lq_paths))
    rows = []
    for i, path in enumerate(lq_paths):
        name = os.path.basename(path)
        row = {'name': os.path.splitext(name)[0], 'lq': path}
        for key, batch in outputs.items():
            row[key] = write(os.path.join(out_dir, key, name), to_image(batch[i]))
        rows.append(row)
    return rows
