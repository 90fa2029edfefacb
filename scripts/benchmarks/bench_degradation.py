"""Samples/s and CPU per sample of PaniniDegradationDataset vs GFPGAN's FFHQDegradationDataset on the same
1024x1024 PNGs, read from a folder and from an LMDB (FFHQ's two layouts).

Equal work per sample: read a 1024 PNG, random flip, isotropic Gaussian blur (41x41, sigma in [0.1, 10]),
bilinear downsample by r in [10, 200], Gaussian noise delta in [0, 25], JPEG q in [5, 50], resize the LQ
back to 1024, both images to RGB tensors. GFPGAN is configured to do exactly this (``kernel_list: [iso]``,
no colour jitter, no gray); ours runs with ``in_size: 1024`` for the ratio, handing over float32 (as
GFPGAN) and uint8 (``output_dtype: uint8``: the ``/ 255``, mean and std move to the model's device),
and additionally with its MFR setting ``in_size: 512`` and with ``degrade_on_device`` (the workers only
decode and flip; reported, not used for the ratio).

basicsr 1.4.2 hands OpenCV a float JPEG quality, which opencv-python 5 rejects; this script wraps
``basicsr.data.degradations.add_jpg_compression`` with an ``int()`` for its own process only.

The faces (``--faces``) are drawn faces plus Gaussian grain (``drawn``, default) or crops of scikit-image's
astronaut photo upscaled to 1024 px plus grain (``astronaut``); grain 2 gives PNGs of about FFHQ's size, so
PNG decoding costs what it costs on real data. The same PNGs are also written into an LMDB
(``make_lmdb``), read by both datasets with ``io_backend: lmdb``.

Measurements (all in one invocation, so the ratios compare like with like):

* (a) DataLoader: wall-clock samples/s through ``torch.utils.data.DataLoader`` with ``--workers``
  workers, batch 1, after one warm-up batch per worker, and its CPU seconds per sample (this process
  and its joined workers, ``getrusage``, warm-up included); and CPU seconds per sample in this process
  alone (no workers). Runs interleaved, best of ``--repeats``. The ratios to GFPGAN are per CPU-second
  (CPU per sample, GFPGAN's over ours), in one process and through the DataLoader, folder and LMDB.
* (b) ceilings: "PNG read + decode only" (no pipeline can beat it on these files) and "hand-over only"
  (the DataLoader moving two 3x1024x1024 tensors per sample from a worker, no work), float32 and uint8.
* (c) ``--chain-batches``: the on-device Eq. 10 chain (``models.hand_over.degrade_on_device``) per
  sample at each batch size on the CPU (``torch.get_num_threads()`` threads) and on CUDA when present,
  beside the numpy/OpenCV chain per sample.
* ``--equivalence N``: PSNR between the OpenCV path and the on-device path over N deterministic
  samples (same flips and parameters; the noise comes from different generators), and with noise off.
* ``--jpeg-samples N``: the on-device JPEG (torchvision) and BasicSR's ``DiffJPEG`` against OpenCV's JPEG
  at equal quality (bit-exact count, PSNR), on N faces of 5-102 px (the sizes Eq. 10 makes) with q in [5, 50].
* ``--profile N``: cProfile of N in-process samples of ours (``in_size: 1024``, uint8), the functions that
  take the CPU as shares of it: what bounds the pipeline. The profiler's allocations make numpy's
  ``astype`` take page faults it does not take without it (the page faults per sample are printed).
* (d) ``--train-steps N``: one training step of each tiny options file with the data path on (batch
  from its DataLoader + ``feed_data``) and off (the same batch already fed), median of N steps.

Usage (small setting, a minute or two):
    python scripts/benchmarks/bench_degradation.py --images 8 --samples 16 --cpu-samples 4 --repeats 1 \
        --chain-batches 1 4 --chain-gt 256 --equivalence 20 --eq-gt 256 --jpeg-samples 20 --train-steps 2
Datasets only (the ratios to GFPGAN):
    python scripts/benchmarks/bench_degradation.py --chain-batches --equivalence 0 --jpeg-samples 0 --train-steps 0
"""
import argparse
import copy
import cProfile
import os
import pstats
import resource
import shutil
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
from panini_arch.data.degradation_torch import jpeg_batch
from panini_arch.data.face_source import to_uint8_tensor
from panini_arch.data.lmdb_builder import make_lmdb
from panini_arch.data.panini_degradation_dataset import PaniniDegradationDataset
from panini_arch.data.synthetic_faces import draw_face
from panini_arch.models.hand_over import degrade_on_device

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RANGES = {'blur_sigma': [0.1, 10], 'downsample_range': [10, 200], 'noise_range': [0, 25], 'jpeg_range': [5, 50]}


def astronaut_face(i):
    """Crop ``i`` (shifted a few pixels each time) around the face of scikit-image's astronaut, BGR 1024 px."""
    from skimage import data
    photo = data.astronaut()
    x, y = 150 + (i * 7) % 40, 10 + (i * 11) % 30
    return cv2.resize(photo[y:y + 220, x:x + 220, ::-1], (1024, 1024), interpolation=cv2.INTER_CUBIC)


def write_faces(root, num, grain, faces='drawn'):
    """``num`` 1024x1024 faces (``drawn`` or ``astronaut``) plus Gaussian grain (std ``grain``): grain 2
    gives ~1.6 MB PNGs, about FFHQ's size, so PNG decoding costs what it costs on real data."""
    rng = np.random.default_rng(0)
    for i in range(num):
        face = (draw_face(1024, i) if faces == 'drawn' else astronaut_face(i)).astype(np.float32)
        face += rng.normal(0, grain, face.shape).astype(np.float32)
        cv2.imwrite(os.path.join(root, f'{i:04d}.png'), np.clip(face, 0, 255).astype(np.uint8))


def patch_basicsr_jpeg():
    """Make basicsr's JPEG helper pass an int quality (opencv-python 5), in this process only."""
    original = basicsr_degradations.add_jpg_compression

    def add_jpg_compression(img, quality=90):
        return original(img, int(quality))

    basicsr_degradations.add_jpg_compression = add_jpg_compression


def build(kind, root, in_size=1024, **extra):
    """GFPGAN's dataset (``kind='gfpgan'``) or ours on ``root`` (an LMDB when it ends with ``.lmdb``)."""
    backend = {'type': 'lmdb' if root.endswith('.lmdb') else 'disk'}
    if kind == 'gfpgan':
        from gfpgan.data.ffhq_degradation_dataset import FFHQDegradationDataset
        return FFHQDegradationDataset({
            'dataroot_gt': root, 'io_backend': backend, 'use_hflip': True, 'mean': [0.5] * 3,
            'std': [0.5] * 3, 'out_size': 1024, 'blur_kernel_size': 41, 'kernel_list': ['iso'],
            'kernel_prob': [1], **RANGES
        })
    return PaniniDegradationDataset({
        'dataroot_gt': root, 'io_backend': backend, 'use_hflip': True, 'gt_size': 1024,
        'in_size': in_size, **RANGES, **extra
    })


def process_cpu():
    """CPU seconds of this process and of its finished (joined) child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def loader_rate(dataset, samples, workers):
    """(samples/s after the warm-up, CPU seconds per sample of the whole run: this process and its workers)."""
    indices = [i % len(dataset) for i in range(samples + max(workers, 1))]
    cpu_start = process_cpu()
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, indices), batch_size=1,
                                         num_workers=workers, prefetch_factor=4 if workers else None)
    it = iter(loader)
    for _ in range(max(workers, 1)):
        next(it)
    start = time.perf_counter()
    count = sum(1 for _ in it)  # exhausted: the workers are joined, so their CPU time is counted
    rate = count / (time.perf_counter() - start)
    del it
    return rate, (process_cpu() - cpu_start) / len(indices)


class DecodeOnly(torch.utils.data.Dataset):
    """Reads and decodes the PNG, nothing else: the ceiling for any pipeline on these files."""

    def __init__(self, root):
        self.paths = sorted(os.path.join(root, f) for f in os.listdir(root))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return torch.from_numpy(cv2.imread(self.paths[index]))


class TransferOnly(torch.utils.data.Dataset):
    """Returns fresh ``lq`` and ``gt`` tensors of 3x1024x1024 (``dtype``) and nothing else: the ceiling the
    DataLoader's shared-memory hand-over of the outputs alone sets (the same for both pipelines)."""

    def __init__(self, num, dtype=torch.float32):
        self.num = num
        self.dtype = dtype

    def __len__(self):
        return self.num

    def __getitem__(self, index):
        return {'lq': torch.zeros(3, 1024, 1024, dtype=self.dtype), 'gt': torch.zeros(3, 1024, 1024, dtype=self.dtype)}


def cpu_per_sample(dataset, samples):
    start = time.process_time()
    for i in range(samples):
        dataset[i % len(dataset)]
    return (time.process_time() - start) / samples


def profile_samples(dataset, samples, top=12):
    """Where one process spends its CPU over ``samples`` items (cProfile, process time): the ``top`` functions
    by own time, as shares of the total (shares stay meaningful on a loaded machine)."""
    profiler = cProfile.Profile(time.process_time)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    profiler.runcall(lambda: [dataset[i % len(dataset)] for i in range(samples)])
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / samples
    stats = pstats.Stats(profiler).stats
    total = sum(row[2] for row in stats.values())
    # page faults land on whichever call first touches fresh memory (often numpy's astype); the profiler's
    # own allocations add them (without it a sample faults a few times: the one-process CPU column)
    print(f'profile of {samples} samples, {total / samples * 1e3:.1f} CPU ms/sample (profiler included), '
          f'{faults:.0f} page faults/sample; own time by function:')
    for (path, line, name), row in sorted(stats.items(), key=lambda item: -item[1][2])[:top]:
        print(f'    {row[2] / total:6.1%}  {name} ({os.path.basename(path)}:{line}), {row[1]} calls')


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


def bench_device_chain(root, batches, gt_size, out_size, runs=3):
    """(c) Per-sample ms of the on-device chain at each batch size (CPU; CUDA when present) vs numpy/OpenCV."""
    names = sorted(os.listdir(root))
    images = [cv2.resize(cv2.imread(os.path.join(root, names[i % len(names)])), (gt_size, gt_size),
                         interpolation=cv2.INTER_AREA) for i in range(max(batches))]
    rng = np.random.default_rng(0)
    scale = gt_size / 1024  # r and sigma as the paper's at 1024, so the low-resolution sizes stay the same
    ranges = dict(RANGES, downsample_range=[10 * scale, 200 * scale], blur_sigma=[0.1 * scale, 10 * scale])
    params = [sample_degradation(rng, ranges) for _ in images]
    numpy_s = time_chain(lambda: [degrade_uint8(im, p, out_size, 41, rng) for im, p in zip(images, params)], runs)
    print(f'(c) Eq. 10 chain alone, faces {gt_size} -> {out_size}: numpy/OpenCV {numpy_s / len(images) * 1e3:.1f} '
          f'ms/sample (one process, one OpenCV thread)')
    hq = torch.stack([to_uint8_tensor(im) for im in images])
    deg = torch.stack([params_tensor(p) for p in params])
    devices = [('cpu', None)] + ([('cuda', torch.cuda.synchronize)] if torch.cuda.is_available() else [])
    for device, sync in devices:
        name = torch.cuda.get_device_name() if device == 'cuda' else f'CPU, {torch.get_num_threads()} torch threads'
        for b in batches:
            data = {'lq_size': torch.tensor([out_size]), 'blur_kernel_size': torch.tensor([41]),
                    'mean': torch.full((1, 3), 0.5), 'std': torch.full((1, 3), 0.5)}
            seeds = torch.arange(b)
            batch = hq[:b].to(device)
            seconds = time_chain(lambda: degrade_on_device(data, batch, deg[:b], seeds, torch.device(device)), runs, sync)
            print(f'    on-device chain, {name}, batch {b:>2}: {seconds / b * 1e3:.1f} ms/sample '
                  f'({numpy_s / len(images) / (seconds / b):.3g}x numpy/OpenCV per sample)')


def psnr(a, b):
    """PSNR in dB of two arrays on the 0-255 scale."""
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64))**2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def bench_equivalence(num, gt_size):
    """PSNR of the on-device LQ against the OpenCV LQ, same flips and parameters, N samples at ``gt_size``."""
    scale = gt_size / 1024
    opt = {'io_backend': {'type': 'synthetic', 'num': num, 'seed': 0}, 'gt_size': gt_size, 'in_size': gt_size // 2,
           'use_hflip': True, 'deterministic': True, 'seed': 0, 'output_dtype': 'uint8', **RANGES,
           'downsample_range': [10 * scale, 200 * scale], 'blur_sigma': [0.1 * scale, 10 * scale]}
    for label, noise in (('with noise', RANGES['noise_range']), ('noise off', None)):
        cpu_path = PaniniDegradationDataset(dict(opt, noise_range=noise))
        device_path = PaniniDegradationDataset(dict(opt, noise_range=noise, degrade_on_device=True))
        values = []
        for i in range(num):
            a, b = cpu_path[i], torch.utils.data.default_collate([device_path[i]])
            assert torch.equal(a['deg_params'], b['deg_params'][0])
            lq = degrade_on_device(b, b['gt'], b['deg_params'], b['deg_seed'][:, 0], torch.device('cpu'))[0]
            values.append(psnr(a['lq'].numpy(), (lq * 0.5 + 0.5).mul(255).round().numpy()))
        print(f'equivalence, {label}: PSNR OpenCV path vs on-device path over {num} samples {gt_size} -> '
              f'{gt_size // 2}: mean {np.mean(values):.2f} dB, median {np.median(values):.2f}, min {np.min(values):.2f}')


def jpeg_agreement(num, device='cpu'):
    """The on-device JPEG (``jpeg_batch`` on ``device``) and BasicSR's ``DiffJPEG`` against OpenCV's JPEG.

    ``num`` faces of 5-102 px (the sizes Eq. 10 makes), q in [5, 50], equal quality. Returns a dict:
    ``exact`` (faces where ours equals OpenCV bit for bit), ``ours`` and ``diffjpeg`` (PSNR lists, dB).
    """
    from basicsr.utils.diffjpeg import DiffJPEG
    diff_jpeg = DiffJPEG(differentiable=False)
    rng = np.random.default_rng(0)
    result = {'exact': 0, 'ours': [], 'diffjpeg': []}
    for i in range(num):
        side, quality = int(rng.integers(5, 103)), int(rng.integers(5, 51))
        face = cv2.resize(draw_face(256, i), (side, side), interpolation=cv2.INTER_AREA)
        ref = cv2.imdecode(cv2.imencode('.jpg', face, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
        x = to_uint8_tensor(face)[None].float()
        size, q = torch.tensor([side]), torch.tensor([float(quality)])
        ours = jpeg_batch(x.to(device), q, size, size)[0].cpu().permute(1, 2, 0).numpy()[..., ::-1]
        result['exact'] += int(np.array_equal(ours, ref))
        result['ours'].append(psnr(ours, ref))
        pad = -side % 16  # DiffJPEG pads with zeros; give it the edge instead
        padded = torch.nn.functional.pad(x, (0, pad, 0, pad), mode='replicate') / 255
        with torch.no_grad():
            out = diff_jpeg(padded, q.clone())[0, :, :side, :side].clamp(0, 1).mul(255).round()
        result['diffjpeg'].append(psnr(out.permute(1, 2, 0).numpy()[..., ::-1], ref))
    return result


def bench_jpeg(num):
    """Print :func:`jpeg_agreement` on the CPU."""
    result = jpeg_agreement(num)
    ours, basicsr = result['ours'], result['diffjpeg']
    worst = f' (min {np.min(ours):.2f} dB)' if result['exact'] < num else ''
    print(f'JPEG vs OpenCV at equal quality, {num} faces 5-102 px, q 5-50: ours (torchvision) bit-exact in '
          f'{result["exact"]}/{num}{worst}; BasicSR DiffJPEG mean {np.mean(basicsr):.2f} dB (min {np.min(basicsr):.2f})')


def tiny_training_setups():
    """(label, options dict) for every tiny options file, and FR / UDRL again with degrade_on_device."""
    import yaml
    from basicsr.utils.options import ordered_yaml
    setups = []
    for name in ('train_panini_fr_tiny', 'train_panini_sr16_tiny', 'train_panini_catconv_sr16_tiny',
                 'train_udrl_tiny'):
        with open(os.path.join(REPO, 'options', f'{name}.yml')) as f:
            opt = yaml.load(f, Loader=ordered_yaml()[0])
        dataset = opt['datasets']['train']
        dataset.update(phase='train', scale=opt.get('scale', dataset.get('scale')))
        if dataset['scale'] is None:
            dataset.pop('scale')
        if 'dataroot_gt' in dataset:
            dataset['dataroot_gt'] = os.path.join(REPO, dataset['dataroot_gt'])
            dataset['meta_info'] = dataset.get('meta_info') and os.path.join(REPO, dataset['meta_info'])
        setups.append((name, opt))
        if 'scale' not in opt:
            on_device = copy.deepcopy(opt)
            on_device['datasets']['train']['degrade_on_device'] = True
            setups.append((f'{name} + degrade_on_device', on_device))
    return setups


def bench_train_steps(steps, threads):
    """(d) Median s/step of the tiny options with the data path on (loader + feed_data) and off."""
    from basicsr.data import build_dataset
    from basicsr.models import build_model
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    print(f'(d) training step of the tiny options, {threads} torch thread(s), median of {steps} steps:')
    with tempfile.TemporaryDirectory() as work:
        for label, opt in tiny_training_setups():
            dataset_opt = opt['datasets']['train']
            loader = torch.utils.data.DataLoader(build_dataset(dataset_opt), batch_size=dataset_opt['batch_size_per_gpu'],
                                                 shuffle=True, num_workers=dataset_opt['num_worker_per_gpu'],
                                                 drop_last=True)
            opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False, num_gpu=0)
            opt['path'].update({key: os.path.join(work, key) for key in ('models', 'training_states', 'visualization')})
            model = build_model(opt)
            batches = iter(loader)
            first = next(batches)
            model.feed_data(first)
            model.optimize_parameters(1)  # warm-up
            on, off = [], []
            for step in range(steps):
                start = time.perf_counter()
                try:
                    data = next(batches)
                except StopIteration:
                    batches = iter(loader)
                    data = next(batches)
                model.feed_data(data)
                model.optimize_parameters(step + 2)
                on.append(time.perf_counter() - start)
                start = time.perf_counter()
                model.optimize_parameters(step + 2)
                off.append(time.perf_counter() - start)
            on_s, off_s = statistics.median(on), statistics.median(off)
            print(f'    {label:<45} data on {on_s:.3f} s/step, off {off_s:.3f} s/step, '
                  f'data share {max(0.0, 1 - off_s / on_s):.0%}')
    torch.set_num_threads(previous)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=32, help='distinct 1024x1024 PNGs generated')
    parser.add_argument('--samples', type=int, default=96, help='samples per DataLoader run')
    parser.add_argument('--cpu-samples', type=int, default=24, help='samples per in-process CPU run')
    parser.add_argument('--grain', type=float, default=2.0, help='noise std added to the faces (PNG size)')
    parser.add_argument('--faces', choices=['drawn', 'astronaut'], default='drawn',
                        help='drawn faces, or crops of scikit-image astronaut upscaled to 1024 px')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--profile', type=int, default=0,
                        help='profile this many in-process samples of ours (in_size 1024, uint8) with cProfile')
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--chain-batches', type=int, nargs='*', default=[1, 4, 16],
                        help='(c) batch sizes for the on-device chain (none: skip)')
    parser.add_argument('--chain-gt', type=int, default=1024, help='(c) HQ side for the chain (1024; out = half)')
    parser.add_argument('--equivalence', type=int, default=200, help='samples for the PSNR between paths (0: skip)')
    parser.add_argument('--eq-gt', type=int, default=512, help='HQ side for the equivalence samples (LQ = half)')
    parser.add_argument('--jpeg-samples', type=int, default=200, help='faces for the JPEG comparison (0: skip)')
    parser.add_argument('--train-steps', type=int, default=5, help='(d) steps per tiny options file (0: skip)')
    parser.add_argument('--train-threads', type=int, default=1, help='(d) torch threads (1, as OMP_NUM_THREADS=1)')
    args = parser.parse_args()
    patch_basicsr_jpeg()
    # one OpenCV thread for both pipelines, set before the workers fork (setting it inside a forked
    # worker can deadlock OpenCV's thread pool); torch workers already run one torch thread
    cv2.setNumThreads(1)
    print(f'torch {torch.__version__}, opencv {cv2.__version__}, {os.cpu_count()} CPUs, '
          f'workers {args.workers}, {args.images} PNGs 1024x1024 ({args.faces} faces)')
    with tempfile.TemporaryDirectory() as work:
        root, lmdb_root = os.path.join(work, 'faces'), os.path.join(work, 'faces.lmdb')
        os.makedirs(root)
        write_faces(root, args.images, args.grain, args.faces)
        make_lmdb(root, lmdb_root, progress=False)
        gfpgan_lmdb = os.path.join(work, 'faces_gfpgan.lmdb')  # py-lmdb opens a path once per process
        shutil.copytree(lmdb_root, gfpgan_lmdb)
        size = sum(os.path.getsize(os.path.join(root, f)) for f in os.listdir(root)) / args.images / 1e6
        print(f'mean PNG size {size:.2f} MB', flush=True)
        datasets = {'gfpgan': build('gfpgan', root), 'ours': build('ours', root),
                    'ours_uint8': build('ours', root, output_dtype='uint8'),
                    'gfpgan_lmdb': build('gfpgan', gfpgan_lmdb),
                    'ours_lmdb': build('ours', lmdb_root, output_dtype='uint8'),
                    'ours_in512': build('ours', root, 512, output_dtype='uint8'),
                    'ours_device': build('ours', root, 512, degrade_on_device=True), 'decode': DecodeOnly(root),
                    'transfer': TransferOnly(args.images), 'transfer_uint8': TransferOnly(args.images, torch.uint8)}
        print('timing ...', flush=True)
        rate = dict.fromkeys(datasets, 0.0)
        cpu, loader_cpu = dict.fromkeys(datasets, float('inf')), dict.fromkeys(datasets, float('inf'))
        for _ in range(args.repeats):
            for name, ds in datasets.items():
                samples_per_s, cpu_s = loader_rate(ds, args.samples, args.workers)
                rate[name], loader_cpu[name] = max(rate[name], samples_per_s), min(loader_cpu[name], cpu_s)
                cpu[name] = min(cpu[name], cpu_per_sample(ds, args.cpu_samples))
        if args.profile:
            profile_samples(datasets['ours_uint8'], args.profile)
        bench_blur_downsample()
        if args.chain_batches:
            bench_device_chain(root, args.chain_batches, args.chain_gt, args.chain_gt // 2)
    print(f"(a), (b) {'dataset':<52}{'DataLoader samples/s':>22}{'DataLoader CPU ms/sample':>26}"
          f"{'one process CPU ms/sample':>27}")
    labels = {'gfpgan': 'GFPGAN FFHQDegradation (float32)', 'ours': 'Panini, in_size 1024, float32',
              'ours_uint8': 'Panini, in_size 1024, uint8 hand-over',
              'gfpgan_lmdb': 'GFPGAN FFHQDegradation, LMDB (float32)', 'ours_lmdb': 'Panini, in_size 1024, LMDB, uint8',
              'ours_in512': 'Panini, in_size 512 (MFR), uint8', 'ours_device': 'Panini, degrade_on_device (HQ uint8)',
              'decode': 'ceiling: PNG read + decode only', 'transfer': 'ceiling: hand-over only, 2x float32',
              'transfer_uint8': 'ceiling: hand-over only, 2x uint8'}
    for name, label in labels.items():
        print(f'        {label:<52}{rate[name]:>22.2f}{loader_cpu[name] * 1e3:>26.1f}{cpu[name] * 1e3:>27.1f}')
    print(f"(a) ratio ours/GFPGAN per CPU-second, equal work (goal >= 3x): one process: folder uint8 "
          f"{cpu['gfpgan'] / cpu['ours_uint8']:.2f}x, float32 {cpu['gfpgan'] / cpu['ours']:.2f}x, LMDB uint8 "
          f"{cpu['gfpgan_lmdb'] / cpu['ours_lmdb']:.2f}x; DataLoader ({args.workers} workers): folder uint8 "
          f"{loader_cpu['gfpgan'] / loader_cpu['ours_uint8']:.2f}x, "
          f"float32 {loader_cpu['gfpgan'] / loader_cpu['ours']:.2f}x, "
          f"LMDB uint8 {loader_cpu['gfpgan_lmdb'] / loader_cpu['ours_lmdb']:.2f}x")
    print(f"(a) ratio ours/GFPGAN in DataLoader samples/s: folder uint8 {rate['ours_uint8'] / rate['gfpgan']:.2f}x, "
          f"float32 {rate['ours'] / rate['gfpgan']:.2f}x, LMDB uint8 {rate['ours_lmdb'] / rate['gfpgan_lmdb']:.2f}x")
    print(f"(b) hand-over ceilings: uint8 / float32 {rate['transfer_uint8'] / rate['transfer']:.2f}x")
    if args.equivalence:
        bench_equivalence(args.equivalence, args.eq_gt)
    if args.jpeg_samples:
        bench_jpeg(args.jpeg_samples)
    if args.train_steps:
        bench_train_steps(args.train_steps, args.train_threads)


if __name__ == '__main__':
    main()
