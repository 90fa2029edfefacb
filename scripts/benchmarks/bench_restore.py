"""Time panini-restore's batched ``--aligned`` folders and the tiled Real-ESRGAN background (random weights).

- aligned: ``--faces`` aligned faces restored one file at a time (``--batch_size 1``) and across
  files ``--batch`` at a time; prints seconds per face and the speed-up.
- background: a full-size ``RealESRGAN_x2plus`` RRDBNet (23 blocks, 64 features) on a random
  ``--photo`` x ``--photo`` photo with ``--bg_tile`` tiles and untiled; prints seconds per output megapixel.

    python scripts/benchmarks/bench_restore.py --threads 2 --arch fr --faces 8 --batch 4 --photo 1024
    python scripts/benchmarks/bench_restore.py --arch tiny --faces 3 --photo 64 --rrdb_blocks 1   # a quick check
"""
import argparse
import time

import numpy as np
import torch

import panini_arch  # noqa: F401  (registers the archs, installs basicsr's torchvision shim)
from basicsr.archs.rrdbnet_arch import RRDBNet
from panini_arch.archs.presets import PRESETS, build_panini
from panini_arch.inference import select_device
from panini_arch.restoration.background import BackgroundUpsampler
from panini_arch.restoration.face_restorer import PaniniRestorer


def seconds(run, repeat):
    """Best wall time of ``repeat`` calls of ``run`` after one warm-up call."""
    run()
    best = float('inf')
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def bench_aligned(args, device):
    """Seconds per face for one-at-a-time and batched aligned faces."""
    net = build_panini(args.arch)
    faces = [np.random.default_rng(i).integers(0, 256, (net.in_size, net.in_size, 3), dtype=np.uint8)
             for i in range(args.faces)]
    result = {}
    for size in (1, args.batch):
        restorer = PaniniRestorer(net, device, batch_size=size)
        result[size] = seconds(lambda: restorer.restore_faces(faces), args.repeat) / args.faces
    print(f'aligned {args.arch}, {args.faces} faces on {device}: {result[1]:.3f} s/face one at a time, '
          f'{result[args.batch]:.3f} s/face in batches of {args.batch} ({result[1] / result[args.batch]:.2f}x)')


def bench_background(args, device):
    """Seconds per output megapixel of the RRDBNet background, tiled and untiled."""
    torch.manual_seed(0)
    net = RRDBNet(3, 3, scale=2, num_feat=64, num_block=args.rrdb_blocks, num_grow_ch=32).eval()
    photo = np.random.default_rng(0).integers(0, 256, (args.photo, args.photo, 3), dtype=np.uint8)
    megapixels = (2 * args.photo) ** 2 / 1e6
    for tile in (args.bg_tile, 0):
        upsampler = BackgroundUpsampler(net, device, tile=tile, tile_pad=10)
        took = seconds(lambda: upsampler(photo, 2), args.repeat)
        print(f'background RRDBNet x2 ({args.rrdb_blocks} blocks), {args.photo} px photo on {device}, '
              f'tile {tile or "off"}: {took / megapixels:.3f} s per output megapixel')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--arch', default='fr', choices=sorted(PRESETS))
    parser.add_argument('--faces', type=int, default=8)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--photo', type=int, default=1024, help='side of the background test photo')
    parser.add_argument('--bg_tile', type=int, default=400)
    parser.add_argument('--rrdb_blocks', type=int, default=23, help='23 = RealESRGAN_x2plus')
    parser.add_argument('--repeat', type=int, default=2)
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    bench_aligned(args, device)
    bench_background(args, device)


if __name__ == '__main__':
    main()
