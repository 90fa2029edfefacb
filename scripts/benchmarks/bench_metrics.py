"""Cost of each evaluation metric (images/s and share of the whole column set) at a given size.

Writes RANDOM weights in each metric's published layout into ``--out`` (once, reused on later runs;
about 1.4 GB with LPIPS-VGG and IResNet-100), a synthetic set of ``--num_images`` restored/GT pairs
of ``--size`` px, then runs :class:`MetricRunner` over it in batches of ``--batch_size``, one metric at a time and all
together, and prints a Markdown table. The numbers are speed only: random weights, synthetic faces.

    python scripts/benchmarks/bench_metrics.py --size 1024 --num_images 16 --batch_size 8 --threads 2
"""
import argparse
import os
import time
import unittest.mock

import cv2
import torch
import torchvision

import panini_arch  # noqa: F401  (before basicsr: compat layer)
from panini_arch.data.synthetic_faces import draw_face
from panini_arch.metrics.arcface_iresnet import IResNet
from panini_arch.metrics.arcface_resnet import ResNetArcFace
from panini_arch.metrics.awing_fan import FAN
from panini_arch.metrics.metric_runner import MetricRunner

COLUMNS = ('psnr', 'ssim', 'niqe', 'lpips', 'lpips_vgg', 'fid', 'kid', 'deg', 'lmd', 'identity')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--num_images', type=int, default=16)
    parser.add_argument('--batch_size', type=int, default=8)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    parser.add_argument('--device', default='auto', help="metric device: 'auto', 'cpu' or 'cuda'")
    parser.add_argument('--metrics', nargs='+', default=list(COLUMNS), choices=COLUMNS)
    parser.add_argument('--out', default='results/bench_metrics', help='work folder (random weights)')
    return parser.parse_args()


def random_fid_inception():
    """State dict of BasicSR's FID Inception with random weights (its constructor would download)."""
    import basicsr.archs.inception as basicsr_inception
    with unittest.mock.patch.object(basicsr_inception, 'load_url', lambda *args, **kwargs: None), \
            unittest.mock.patch.object(torchvision.models.Inception3, 'load_state_dict', lambda self, state: None):
        return basicsr_inception.fid_inception_v3().state_dict()


def weight_files(folder):
    """Random weights in each published layout, written once: name -> path."""
    makers = {
        'alexnet-owt-7be5be79.pth': lambda: torchvision.models.alexnet().state_dict(),
        'vgg16-397923af.pth': lambda: torchvision.models.vgg16().state_dict(),
        'pt_inception-2015-12-05-6726825d.pth': random_fid_inception,
        'arcface_resnet18.pth': lambda: ResNetArcFace().state_dict(),
        'alignment_WFLW_4HG.pth': lambda: {'state_dict': FAN().state_dict()},
        'backbone.pth': lambda: IResNet('iresnet100').state_dict(),
    }
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for name, make in makers.items():
        paths[name] = os.path.join(folder, name)
        if not os.path.isfile(paths[name]):
            torch.save(make(), paths[name])
    return paths


def metric_options(paths, device):
    """``val.metrics`` entries of every column, with the random weight files."""
    return {
        'psnr': {'type': 'calculate_psnr', 'crop_border': 0},
        'ssim': {'type': 'calculate_ssim', 'crop_border': 0},
        'niqe': {'type': 'calculate_niqe', 'crop_border': 0},
        'lpips': {'type': 'calculate_lpips', 'backbone_path': paths['alexnet-owt-7be5be79.pth'], 'device': device},
        'lpips_vgg': {'type': 'calculate_lpips', 'net': 'vgg', 'backbone_path': paths['vgg16-397923af.pth'],
                      'device': device},
        'fid': {'type': 'FID', 'inception_path': paths['pt_inception-2015-12-05-6726825d.pth'], 'small_sample': True,
                'device': device},
        'kid': {'type': 'KID', 'inception_path': paths['pt_inception-2015-12-05-6726825d.pth'], 'device': device},
        'deg': {'type': 'calculate_deg', 'arcface_path': paths['arcface_resnet18.pth'], 'device': device},
        'lmd': {'type': 'calculate_lmd', 'fan_path': paths['alignment_WFLW_4HG.pth'], 'device': device},
        'identity': {'type': 'calculate_identity', 'arcface_path': paths['backbone.pth'], 'device': device},
    }


def run(metric_opts, pairs, batch_size):
    """Seconds to score ``pairs`` (networks built outside the timing by a first batch of one pair)."""
    runner = MetricRunner(metric_opts)
    runner.update_batch([pairs[0][0]], [pairs[0][1]], ['warm-up'])
    start = time.perf_counter()
    for index in range(0, len(pairs), batch_size):
        batch = pairs[index:index + batch_size]
        runner.update_batch([a for a, _ in batch], [b for _, b in batch], [f'{index + i}' for i in range(len(batch))])
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    results = runner.results()
    broken = {name: result for name, result in results.items() if result.get('not_computed') or result.get('failed')}
    if broken:
        raise RuntimeError(f'metrics did not run: {broken}')
    return seconds


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    options = metric_options(weight_files(args.out), args.device)
    pairs = []
    for seed in range(args.num_images):
        gt = draw_face(args.size, seed)
        pairs.append((cv2.GaussianBlur(gt, (0, 0), 2), gt))
    seconds = {name: run({name: options[name]}, pairs, args.batch_size) for name in args.metrics}
    together = run({name: options[name] for name in args.metrics}, pairs, args.batch_size)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != 'cpu' else \
        f'cpu ({torch.get_num_threads()} threads)'
    print(f'{args.num_images} pairs at {args.size} px, batches of {args.batch_size}, {device}\n')
    print('| metric | images/s | s/image | share |\n| --- | --- | --- | --- |')
    total = sum(seconds.values())
    for name, value in seconds.items():
        print(f'| {name} | {args.num_images / value:.2f} | {value / args.num_images:.3f} | {value / total:.0%} |')
    print(f'| all together | {args.num_images / together:.2f} | {together / args.num_images:.3f} | |')


if __name__ == '__main__':
    main()
