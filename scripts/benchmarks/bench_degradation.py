"""Samples/s of PaniniDegradationDataset vs GFPGAN's FFHQDegradationDataset on the same 1024x1024 PNGs.

Equal work per sample: read a 1024 PNG, random flip, isotropic Gaussian blur (41x41, sigma in [0.1, 10]),
bilinear downsample by r in [10, 200], Gaussian noise delta in [0, 25], JPEG q in [5, 50], resize the LQ
back to 1024, both images to normalised RGB tensors. GFPGAN is configured to do exactly this
(``kernel_list: [iso]``, no colour jitter, no gray); ours runs with ``in_size: 1024`` for the ratio, and
additionally with its real MFR setting ``in_size: 512`` (reported, not used for the ratio).

basicsr 1.4.2 hands OpenCV a float JPEG quality, which opencv-python 5 rejects; this script wraps
``basicsr.data.degradations.add_jpg_compression`` with an ``int()`` for its own process only.

Two measurements, runs interleaved (GFPGAN, ours, GFPGAN, ours, ...; best of ``--repeats`` kept):
* DataLoader: wall-clock samples/s through ``torch.utils.data.DataLoader`` with ``--workers`` workers,
  batch 1, after one warm-up batch per worker;
* CPU: process CPU seconds per sample in this process (no workers), steadier on a shared machine.
Two ceiling rows: "PNG read + decode only" (no pipeline can beat it on these files) and "output
hand-over only" (the DataLoader moving two 3x1024x1024 float tensors per sample from a worker, no work).

``--torch-batch B`` also times the Eq. 10 chain alone (no decoding) on B decoded 1024 faces: the
numpy/OpenCV path sample by sample vs ``degrade_batch`` on CPU (one torch thread, like a DataLoader
worker) and on CUDA when present.

Usage:
    python scripts/benchmarks/bench_degradation.py --images 32 --samples 96 --workers 2 --torch-batch 8
"""
import argparse
import os
import statistics
import tempfile
import time

import cv2
import numpy as np
import torch

import panini_arch  # noqa: F401  (first: makes basicsr importable)
import basicsr.data.degradations as basicsr_degradations
from panini_arch.data.degradation import (blur_downsample, degrade_uint8, gaussian_kernel1d, params_tensor,
                                          sample_degradation)
from panini_arch.data.degradation_torch import degrade_batch
from panini_arch.data.panini_degradation_dataset import PaniniDegradationDataset
from panini_arch.data.synthetic_faces import draw_face

RANGES = {'blur_sigma': [0.1, 10], 'downsample_range': [10, 200], 'noise_range': [0, 25], 'jpeg_range': [5, 50]}


def write_faces(root, num, grain):
    """``num`` 1024x1024 drawn faces plus Gaussian grain (std ``grain``): grain 2 gives ~1.6 MB PNGs,
    about FFHQ's size, so PNG decoding costs what it costs on real data."""
    rng = np.random.default_rng(0)
    for i in range(num):
        face = draw_face(1024, i).astype(np.float32)
        face += rng.normal(0, grain, face.shape).astype(np.float32)
        cv2.imwrite(os.path.join(root, f'{i:04d}.png'), np.clip(face, 0, 255).astype(np.uint8))


def patch_basicsr_jpeg():
    """Make basicsr's JPEG helper pass an int quality (opencv-python 5), in this process only."""
    original = basicsr_degradations.add_jpg_compression

    def add_jpg_compression(img, quality=90):
        return original(img, int(quality))

    basicsr_degradations.add_jpg_compression = add_jpg_compression


def build(kind, root, in_size=1024):
    if kind == 'gfpgan':
        from gfpgan.data.ffhq_degradation_dataset import FFHQDegradationDataset
        return FFHQDegradationDataset({
            'dataroot_gt': root, 'io_backend': {'type': 'disk'}, 'use_hflip': True, 'mean': [0.5] * 3,
            'std': [0.5] * 3, 'out_size': 1024, 'blur_kernel_size': 41, 'kernel_list': ['iso'],
            'kernel_prob': [1], **RANGES
        })
    return PaniniDegradationDataset({
        'dataroot_gt': root, 'io_backend': {'type': 'disk'}, 'use_hflip': True, 'gt_size': 1024,
        'in_size': in_size, **RANGES
    })


def loader_rate(dataset, samples, workers):
    indices = [i % len(dataset) for i in range(samples + max(workers, 1))]
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, indices), batch_size=1,
                                         num_workers=workers, prefetch_factor=4 if workers else None)
    it = iter(loader)
    for _ in range(max(workers, 1)):
        next(it)
    start = time.perf_counter()
    count = sum(1 for _ in it)
    return count / (time.perf_counter() - start)


class DecodeOnly(torch.utils.data.Dataset):
    """Reads and decodes the PNG, nothing else: the ceiling for any pipeline on these files."""

    def __init__(self, root):
        self.paths = sorted(os.path.join(root, f) for f in os.listdir(root))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return torch.from_numpy(cv2.imread(self.paths[index]))


class TransferOnly(torch.utils.data.Dataset):
    """Returns fresh ``lq`` and ``gt`` float tensors of 3x1024x1024 and nothing else: the ceiling the
    DataLoader's shared-memory hand-over of the outputs alone sets (the same for both pipelines)."""

    def __init__(self, num):
        self.num = num

    def __len__(self):
        return self.num

    def __getitem__(self, index):
        return {'lq': torch.zeros(3, 1024, 1024), 'gt': torch.zeros(3, 1024, 1024)}


def cpu_per_sample(dataset, samples):
    start = time.process_time()
    for i in range(samples):
        dataset[i % len(dataset)]
    return (time.process_time() - start) / samples


def time_chain(fn, runs, sync=None):
    """Median seconds of ``fn()`` over ``runs`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(runs):
        if sync:
            sync()
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_blur_downsample(runs=5):
    """Blur (sigma 5, 41x41) + bilinear downsample by 10 of a float 1024 face: sparse maps vs OpenCV."""
    img = draw_face(1024, 0).astype(np.float32) / 255
    g = gaussian_kernel1d(5.0, 41)
    kernel = np.outer(g, g).astype(np.float32)
    ours = time_chain(lambda: blur_downsample(img, 5.0, 10.0, 41), runs)
    ref = time_chain(lambda: cv2.resize(cv2.filter2D(img, -1, kernel), (102, 102), interpolation=cv2.INTER_LINEAR),
                     runs)
    print(f'blur + downsample x10 of a 1024 face: sparse {ours * 1e3:.1f} ms, cv2.filter2D + resize '
          f'{ref * 1e3:.1f} ms ({ref / ours:.1f}x)')


def bench_torch_chain(root, batch, runs=3, in_size=512):
    """Eq. 10 alone on ``batch`` decoded faces: numpy per sample vs batched torch (CPU, CUDA)."""
    names = sorted(os.listdir(root))[:batch]
    images = [cv2.imread(os.path.join(root, n)) for n in names]
    rng = np.random.default_rng(0)
    params = [sample_degradation(rng) for _ in images]
    gt = torch.from_numpy(np.stack([im[..., ::-1] for im in images]).copy()).permute(0, 3, 1, 2).float() / 255
    deg = torch.stack([params_tensor(p) for p in params])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    numpy_s = time_chain(lambda: [degrade_uint8(im, p, in_size, 41, rng) for im, p in zip(images, params)], runs)
    cpu_s = time_chain(lambda: degrade_batch(gt, deg, in_size), runs)
    torch.set_num_threads(threads)
    print(f'Eq. 10 chain only, {len(images)} faces 1024 -> {in_size}: numpy/OpenCV {len(images) / numpy_s:.1f} '
          f'samples/s, torch CPU (1 thread) {len(images) / cpu_s:.1f} samples/s '
          f'(torch/numpy {numpy_s / cpu_s:.2f}x)')
    if torch.cuda.is_available():
        gt_cuda, deg_cuda = gt.cuda(), deg.cuda()
        cuda_s = time_chain(lambda: degrade_batch(gt_cuda, deg_cuda, in_size), runs, torch.cuda.synchronize)
        print(f'torch CUDA ({torch.cuda.get_device_name()}): {len(images) / cuda_s:.1f} samples/s '
              f'({numpy_s / cuda_s:.1f}x numpy)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=32, help='distinct 1024x1024 PNGs generated')
    parser.add_argument('--samples', type=int, default=96, help='samples per DataLoader run')
    parser.add_argument('--cpu-samples', type=int, default=24, help='samples per in-process CPU run')
    parser.add_argument('--grain', type=float, default=2.0, help='noise std added to the drawn faces (PNG size)')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--torch-batch', type=int, default=0, help='also time the batched torch chain (0: skip)')
    args = parser.parse_args()
    patch_basicsr_jpeg()
    # one OpenCV thread for both pipelines, set before the workers fork (setting it inside a forked
    # worker can deadlock OpenCV's thread pool); torch workers already run one torch thread
    cv2.setNumThreads(1)
    print(f'torch {torch.__version__}, opencv {cv2.__version__}, {os.cpu_count()} CPUs, '
          f'workers {args.workers}, {args.images} PNGs 1024x1024')
    with tempfile.TemporaryDirectory() as root:
        write_faces(root, args.images, args.grain)
        size = sum(os.path.getsize(os.path.join(root, f)) for f in os.listdir(root)) / args.images / 1e6
        print(f'mean PNG size {size:.2f} MB', flush=True)
        datasets = {'gfpgan': build('gfpgan', root), 'ours': build('ours', root),
                    'ours_in512': build('ours', root, 512), 'decode': DecodeOnly(root),
                    'transfer': TransferOnly(args.images)}
        print('timing ...', flush=True)
        rate = dict.fromkeys(datasets, 0.0)
        cpu = dict.fromkeys(datasets, float('inf'))
        for _ in range(args.repeats):
            for name, ds in datasets.items():
                rate[name] = max(rate[name], loader_rate(ds, args.samples, args.workers))
                cpu[name] = min(cpu[name], cpu_per_sample(ds, args.cpu_samples))
        bench_blur_downsample()
        if args.torch_batch:
            bench_torch_chain(root, min(args.torch_batch, args.images))
    print(f"{'dataset':<28}{'DataLoader samples/s':>22}{'CPU ms/sample':>16}")
    labels = {'gfpgan': 'GFPGAN FFHQDegradation', 'ours': 'Panini (in_size 1024)',
              'ours_in512': 'Panini (in_size 512, MFR)', 'decode': 'PNG read + decode only',
              'transfer': 'output hand-over only'}
    for name, label in labels.items():
        print(f'{label:<28}{rate[name]:>22.2f}{cpu[name] * 1e3:>16.1f}')
    print(f"ratio ours/GFPGAN, equal work: DataLoader {rate['ours'] / rate['gfpgan']:.2f}x, "
          f"CPU {cpu['gfpgan'] / cpu['ours']:.2f}x (goal >= 3x)")


if __name__ == '__main__':
    main()
