"""Seeded, byte-reproducible degraded test sets (CelebA-HQ MFR / 16x SR, and Table 4's r sweep).

Output layout::

    out/GT/<stem>.png       HQ face at gt_size
    out/LQ/<stem>.png       degraded input (theta set: out/LQ/r016/<stem>.png, ...)
    out/params.csv          name,r,sigma,delta,q (theta set: one row per image and r)

No output folder or file may resolve into the input folder or onto an input face, through links
included (:class:`panini_arch.utils.output_paths.OutputGuard`): such a run stops before writing it.

Progress (with an ETA) is shown on stderr. Inputs are read with ``strict: true``: a bad file stops the run with an error naming it, because
a test set with silently replaced images would not be comparable.
"""
import csv
import os

import cv2
import numpy as np
from tqdm import tqdm

from ..utils.output_paths import OutputGuard
from .degradation import degradation_ranges, degrade_uint8, sample_degradation
from .panini_degradation_dataset import PaniniDegradationDataset

THETA_RS = (16, 32, 64, 128)


def _write_png(path, img):
    if not cv2.imwrite(path, img):
        raise OSError(f'could not write {path}')


def _write_csv(path, rows):
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(['name', 'r', 'sigma', 'delta', 'q'])
        writer.writerows(rows)


def _row(name, params):
    return [name, repr(float(params['r'])), repr(float(params['sigma'])), repr(float(params['delta'])), params['q']]


def _output_names(ds):
    names = [os.path.splitext(os.path.basename(p))[0] + '.png' for p in ds.source.paths]
    if len(set(names)) != len(names):
        raise ValueError(f'Input faces in {ds.source.root} share file stems; output names would collide')
    return names


def _output_guard(ds, output_dir):
    """An :class:`OutputGuard` over the input folder and faces of ``ds``, ``output_dir`` checked."""
    guard = OutputGuard([ds.source.root, *ds.source.paths])
    guard.check(output_dir)
    return guard


def _check_fixed(fixed, rs):
    unknown = set(fixed) - {'sigma', 'delta', 'q'}
    if unknown:
        raise ValueError(f'fixed may only set sigma, delta, q; got {sorted(unknown)}')
    if fixed.get('sigma', 0) < 0 or fixed.get('delta', 0) < 0 or not 1 <= fixed.get('q', 1) <= 100:
        raise ValueError(f'fixed needs sigma >= 0, delta >= 0, 1 <= q <= 100; got {fixed}')
    if not rs or any(int(r) != r or r < 1 for r in rs) or len(set(rs)) != len(rs):
        raise ValueError(f'rs must be distinct integers >= 1, got {list(rs)}')


def _dataset(input_dir, seed, gt_size, in_size, scale=None, ranges=None):
    opt = {'dataroot_gt': input_dir, 'io_backend': {'type': 'disk'}, 'gt_size': gt_size, 'deterministic': True,
           'seed': seed, 'strict': True, 'use_hflip': False}
    if scale is None:
        opt['in_size'] = in_size
    else:
        opt['scale'] = scale
    opt.update(ranges or {})
    return PaniniDegradationDataset(opt)


def generate_test_set(input_dir, output_dir, seed=0, gt_size=1024, in_size=512, scale=None, ranges=None,
                      limit=None):
    """Degrade every face of ``input_dir`` once (sample i uses ``default_rng([seed, i])``).

    Args:
        scale (int | None): None for Eq. 10 (MFR) with ``ranges``; 16 for the 16x SR set (bicubic only).
        ranges (dict | None): ``downsample_range``/``blur_sigma``/``noise_range``/``jpeg_range`` overrides.
        limit (int | None): only the first ``limit`` faces (sorted by name).

    Returns:
        int: number of faces written.
    """
    ds = _dataset(input_dir, seed, gt_size, in_size, scale, ranges)
    names = _output_names(ds)
    guard = _output_guard(ds, output_dir)
    os.makedirs(guard.check(os.path.join(output_dir, 'GT')), exist_ok=True)
    os.makedirs(guard.check(os.path.join(output_dir, 'LQ')), exist_ok=True)
    rows = []
    for i in tqdm(range(len(ds) if limit is None else min(limit, len(ds))), unit='face', desc='test set'):
        gt, lq, params, _ = ds.degrade(i)
        name = names[i]
        _write_png(guard.check(os.path.join(output_dir, 'GT', name)), gt)
        _write_png(guard.check(os.path.join(output_dir, 'LQ', name)), lq)
        rows.append(_row(name, params))
    _write_csv(guard.check(os.path.join(output_dir, 'params.csv')), rows)
    return len(rows)


def generate_theta_set(input_dir, output_dir, seed=0, gt_size=1024, in_size=512, rs=THETA_RS, fixed=None,
                       ranges=None, limit=None):
    """Table 4 set: per face one (sigma, delta, q), degraded at each r in ``rs``.

    Args:
        fixed (dict | None): ``sigma``/``delta``/``q`` values used for every face; a missing one is drawn
            per face from ``ranges`` with ``default_rng([seed, i])``.
        rs (sequence of float): the downsampling factors; noise for (face i, r) comes from
            ``default_rng([seed, i, round(r * 1000)])``.

    Returns:
        int: number of faces written.
    """
    fixed = dict(fixed or {})
    _check_fixed(fixed, rs)
    if 'q' in fixed:
        fixed['q'] = int(fixed['q'])
    ds = _dataset(input_dir, seed, gt_size, in_size)
    names = _output_names(ds)
    guard = _output_guard(ds, output_dir)
    bounds = degradation_ranges(ranges)
    os.makedirs(guard.check(os.path.join(output_dir, 'GT')), exist_ok=True)
    for r in rs:
        os.makedirs(guard.check(os.path.join(output_dir, 'LQ', f'r{int(r):03d}')), exist_ok=True)
    rows = []
    for i in tqdm(range(len(ds) if limit is None else min(limit, len(ds))), unit='face', desc='theta set'):
        _, gt = ds.source.read_valid(i)
        name = names[i]
        _write_png(guard.check(os.path.join(output_dir, 'GT', name)), gt)
        params = sample_degradation(np.random.default_rng([seed, i]), bounds)
        params.update(fixed)
        for r in rs:
            params['r'] = float(r)
            noise_rng = np.random.default_rng([seed, i, int(round(r * 1000))])
            lq = degrade_uint8(gt, params, in_size, ds.deg.kernel_size, noise_rng)
            _write_png(guard.check(os.path.join(output_dir, 'LQ', f'r{int(r):03d}', name)), lq)
            rows.append(_row(f'r{int(r):03d}/{name}', params))
    _write_csv(guard.check(os.path.join(output_dir, 'params.csv')), rows)
    return len(rows) // len(rs)
