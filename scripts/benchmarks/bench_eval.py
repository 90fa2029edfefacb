"""Evaluation throughput (images/s) of every method through scripts/test.py, full-size nets.

Builds a synthetic set (``--num_images`` faces at 1024: MFR LQ 512 and 16x SR LQ 64),
then runs each shipped ``options/test_*.yml`` with its full-size network and RANDOM
weights (speed only: the restored images are meaningless), PSNR/SSIM only, and reads
``images_per_second`` from each run's summary: the time of resizing the LQ, the
forward pass and resizing to the GT size, over all batches. Prints a Markdown table.

    python scripts/benchmarks/bench_eval.py --num_images 8 --batch_size 4 --threads 2
"""
import argparse
import json
import os
import sys

import torch
import yaml

import panini_arch  # noqa: F401  (before basicsr: compat layer)
from panini_arch.data.eval_sets import generate_test_set
from panini_arch.data.synthetic_faces import make_face_folder
from panini_arch.test import main as test_main
from panini_arch.utils.safe_load import load_options

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OPTIONS = ('test_panini_fr', 'test_panini_sr16', 'test_catconv_sr16', 'test_gfpgan_v1.3', 'test_gpen_bfr_512')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = os.path.abspath(args.out)
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


if __name__ == '__main__':
    main()
