"""Evaluation throughput at 1024 px: the metric columns (``--part metrics``) or the methods (``--part methods``).

``--part metrics`` (default): images/s of the whole column set of GFP-GAN's CelebA-Test table (LPIPS,
FID against FFHQ statistics, NIQE, Deg, LMD, PSNR, SSIM; ``--extra`` adds LPIPS-VGG, KID and the
ArcFace identity) on ``--num_images`` synthetic 1024 px pairs, and each metric's share of the time.
The networks are the published architectures with RANDOM weights saved in the published file layouts
(timing only: the values are meaningless, and the output says so). Each metric is timed alone through
:class:`MetricRunner` (``update_batch`` over all pairs, then ``results``); reading the pairs is timed
apart. A metric this build cannot run (type not registered, option not supported) is listed, not timed.

    python scripts/benchmarks/bench_eval.py --num_images 8 --threads 2

``--part methods``: builds a synthetic set (``--num_images`` faces at 1024: MFR LQ 512 and 16x SR LQ 64),
then runs each shipped ``options/test_*.yml`` with its full-size network and RANDOM weights (speed only),
PSNR/SSIM only, and reads ``images_per_second`` from each run's summary: the time of resizing the LQ,
the forward pass and resizing to the GT size, over all batches. Prints a Markdown table.

    python scripts/benchmarks/bench_eval.py --part methods --num_images 8 --batch_size 4 --threads 2
"""
import argparse
import json
import os
import sys
import time
import unittest.mock

import cv2
import numpy as np
import torch
import yaml

import panini_arch  # noqa: F401  (before basicsr: compat layer)
from panini_arch.data.eval_sets import generate_test_set
from panini_arch.data.synthetic_faces import make_face_folder
from panini_arch.metrics.metric_runner import MetricRunner
from panini_arch.test import main as test_main
from panini_arch.utils.image_io import list_images
from panini_arch.utils.safe_load import load_options

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OPTIONS = ('test_panini_fr', 'test_panini_sr16', 'test_catconv_sr16', 'test_gfpgan_v1.3', 'test_gpen_bfr_512')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--part', choices=('metrics', 'methods'), default='metrics')
    parser.add_argument('--size', type=int, default=1024, help='image side of the metric pairs (metrics part)')
    parser.add_argument('--extra', action='store_true', help='also time LPIPS-VGG, KID and the ArcFace identity')
    parser.add_argument('--num_images', type=int, default=8)
    parser.add_argument('--batch_size', type=int, default=4)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    parser.add_argument('--options', nargs='+', default=list(OPTIONS), help='options files (names in options/)')
    parser.add_argument('--out', default='results/bench_eval', help='work folder')
    return parser.parse_args()


def bench_options(name, workdir, sets, batch_size):
    """Write the options file ``name`` with random weights, the synthetic set and PSNR/SSIM only."""
    opt = load_options(os.path.join(ROOT, 'options', f'{name}.yml'))
    set_dir = sets['sr16' if opt['scale'] == 16 else 'mfr']
    opt['name'] = f'bench_{name}'
    opt['path'] = {'pretrain_network_g': None}
    opt['random_weights'] = True
    opt['datasets']['test'].update(dataroot_lq=os.path.join(set_dir, 'LQ'), dataroot_gt=os.path.join(set_dir, 'GT'))
    opt['val'].update(batch_size=batch_size, save_img=False,
                      metrics={k: opt['val']['metrics'][k] for k in ('psnr', 'ssim')})
    path = os.path.join(workdir, f'bench_{name}.yml')
    with open(path, 'w', encoding='utf-8') as f:
        yaml.dump(dict(opt), f)
    return path


def random_weight_files(folder, extra):
    """Random-weight files of the metric networks, in the layouts of the published files; {option: path}."""
    import basicsr.archs.inception as basicsr_inception
    from torchvision import models
    os.makedirs(folder, exist_ok=True)
    files = {name: os.path.join(folder, name) for name in ('alexnet.pth', 'inception.pth', 'stats.pth',
                                                           'arcface_resnet18.pth', 'fan.pth')}
    torch.save(models.alexnet().state_dict(), files['alexnet.pth'])
    with unittest.mock.patch.object(basicsr_inception, 'load_url', lambda *args, **kwargs: None), \
            unittest.mock.patch.object(models.Inception3, 'load_state_dict', lambda self, state_dict: None):
        torch.save(basicsr_inception.fid_inception_v3().state_dict(), files['inception.pth'])
    torch.save({'mean': np.zeros(2048), 'cov': np.eye(2048)}, files['stats.pth'])  # inception_FFHQ_512.pth layout
    from facexlib.alignment.awing_arch import FAN  # alignment_WFLW_4HG.pth: weights under 'state_dict'
    torch.save({'state_dict': FAN(num_modules=4, num_landmarks=98, device='cpu').state_dict()}, files['fan.pth'])
    try:  # GFP-GAN's arcface_resnet18.pth: a bare state dict of ResNetArcFace (IRBlock, [2, 2, 2, 2], no SE)
        from gfpgan.archs.arcface_arch import IRBlock, ResNetArcFace
        torch.save(ResNetArcFace(IRBlock, [2, 2, 2, 2], use_se=False).state_dict(), files['arcface_resnet18.pth'])
    except ImportError:
        files.pop('arcface_resnet18.pth')
    if extra:
        from panini_arch.metrics.arcface_iresnet import IResNet
        files['vgg16.pth'] = os.path.join(folder, 'vgg16.pth')
        torch.save(models.vgg16().state_dict(), files['vgg16.pth'])
        files['iresnet100.pth'] = os.path.join(folder, 'iresnet100.pth')
        torch.save(IResNet('iresnet100').state_dict(), files['iresnet100.pth'])
    return files


def column_set(files, extra):
    """``val.metrics`` of the columns timed: GFP-GAN's CelebA-Test table (and the extras)."""
    columns = {
        'lpips': dict(type='calculate_lpips', net='alex', backbone_path=files['alexnet.pth']),
        'fid': dict(type='FID', inception_path=files['inception.pth'], reference_stats=files['stats.pth'],
                    min_samples=2, small_sample=True),
        'niqe': dict(type='calculate_niqe', crop_border=0),
        'deg': dict(type='calculate_deg', arcface_path=files.get('arcface_resnet18.pth')),
        'lmd': dict(type='calculate_lmd', fan_path=files['fan.pth']),
        'psnr': dict(type='calculate_psnr', crop_border=0, test_y_channel=False),
        'ssim': dict(type='calculate_ssim', crop_border=0, test_y_channel=False),
    }
    if extra:
        columns.update({
            'lpips_vgg': dict(type='calculate_lpips', net='vgg', backbone_path=files['vgg16.pth']),
            'kid': dict(type='KID', inception_path=files['inception.pth']),
            'identity': dict(type='calculate_identity', arch='iresnet100', arcface_path=files['iresnet100.pth']),
        })
    return columns


def time_metric(opt, restored, gts, names):
    """Set-up seconds (building the runner and a warm-up pair), seconds over all pairs (``update_batch`` then
    ``results``), and the result."""
    start = time.perf_counter()
    runner = MetricRunner({'m': opt})
    runner.update_batch(restored[:1], gts[:1], names[:1])
    setup = time.perf_counter() - start
    start = time.perf_counter()
    runner.update_batch(restored, gts, names)
    result = runner.results()['m']
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return setup, time.perf_counter() - start, result


def bench_metrics(args, workdir):
    """Time each metric of the column set on ``--num_images`` pairs at ``--size``; print a Markdown table."""
    make_face_folder(os.path.join(workdir, 'hq'), args.num_images, args.size)
    paths = list_images(os.path.join(workdir, 'hq'))
    start = time.perf_counter()
    gts = [cv2.imread(path) for path in paths]
    read_seconds = time.perf_counter() - start
    rng = np.random.default_rng(0)
    restored = [np.clip(gt + rng.normal(0, 8, gt.shape), 0, 255).astype(np.uint8) for gt in gts]
    names = [os.path.basename(path) for path in paths]
    files = random_weight_files(os.path.join(workdir, 'weights'), args.extra)
    timed, skipped = {}, {}
    for name, opt in column_set(files, args.extra).items():
        try:
            setup, seconds, result = time_metric(opt, restored, gts, names)
        except (KeyError, TypeError) as error:  # type not registered / option not supported by this build
            skipped[name] = f'{type(error).__name__}: {error}'
            continue
        if result.get('not_computed') or result.get('failed'):
            skipped[name] = result.get('not_computed') or result['failed'][0]['reason']
            continue
        timed[name] = setup, seconds
    total = sum(seconds for _, seconds in timed.values())
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else \
        f'cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)'
    lines = ['RANDOM WEIGHTS of the published architectures: timing only, metric values meaningless.',
             f'{args.num_images} pairs at {args.size} px, metric device {device}.', '',
             '| metric | type | s/image | share | set-up s |', '|---|---|---|---|---|']
    lines += [f"| {name} | {column_set(files, args.extra)[name]['type']} | {seconds / args.num_images:.3f} | "
              f'{seconds / total:.1%} | {setup:.1f} |' for name, (setup, seconds) in timed.items()]
    lines += ['', f'Whole column set ({", ".join(timed)}): {args.num_images / total:.3f} images/s '
                  f'({total / args.num_images:.2f} s/image; set-up, once per run, not included); reading a pair '
                  f'{2 * read_seconds / args.num_images:.3f} s.']
    lines += [f'Not timed: {name}: {reason}' for name, reason in skipped.items()]
    print('\n'.join(lines))


def bench_methods(args, workdir):
    """Run each method's options through scripts/test.py on a synthetic set; print a Markdown table."""
    hq = os.path.join(workdir, 'hq')
    make_face_folder(hq, args.num_images, 1024)
    sets = {'mfr': os.path.join(workdir, 'mfr'), 'sr16': os.path.join(workdir, 'sr16')}
    generate_test_set(hq, sets['mfr'], seed=0, gt_size=1024, in_size=512)
    generate_test_set(hq, sets['sr16'], seed=0, gt_size=1024, scale=16)
    os.chdir(workdir)
    lines = ['| method | input -> GT | batch | images/s | device |', '|---|---|---|---|---|']
    for name in args.options:
        sys.argv = ['scripts/test.py', '-opt', bench_options(name, workdir, sets, args.batch_size)]
        test_main()
        summary_path = next(p for p in os.listdir(os.path.join('results', f'bench_{name}')) if p.startswith('metrics_'))
        with open(os.path.join('results', f'bench_{name}', summary_path), encoding='utf-8') as f:
            summary = json.load(f)
        lines.append(f"| {summary['method']} | {summary['input_size']} -> 1024 | {summary['batch_size']} | "
                     f"{summary['images_per_second']:.3f} | {summary['device']} |")
    print('\n'.join(lines))


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = os.path.abspath(args.out)
    (bench_metrics if args.part == 'metrics' else bench_methods)(args, workdir)


if __name__ == '__main__':
    main()
