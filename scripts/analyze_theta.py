"""Table 4: theta of DAFI5 for r = 16, 32, 64, 128 over a theta set, mean and std, CSV + plot.

    python scripts/generate_theta_set.py datasets/celeba_hq_1000 datasets/celeba_theta --sigma 3 --delta 10 --q 40
    python scripts/analyze_theta.py --theta_root datasets/celeba_theta --opt options/test_panini_fr.yml \
        --out results/theta

theta (Eq. 11) is the mean over channels of the prior weight of the DAFI at res 64,
from the masks the net computes for each LQ image (resized to the net input by the
resize policy). Writes ``theta.csv`` (r, mean, std, images, paper), ``theta_per_image.csv``
and ``theta.png`` into ``--out``.
"""
import argparse
import csv
import os

import numpy as np
from tqdm import tqdm

from cli import add_net_args, net_from_args
from panini_arch.evaluation.analysis import find_level_folders, image_thetas
from panini_arch.evaluation.published import THETA
from panini_arch.utils.image_io import list_images
from plots import plot_theta


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--theta_root', required=True, help='set written by scripts/generate_theta_set.py')
    parser.add_argument('--out', default='results/theta', help='output folder')
    parser.add_argument('--batch_size', type=int, default=8)
    add_net_args(parser)
    return parser.parse_args(argv)


def write_outputs(per_image, out):
    """Write the CSVs and the plot; returns the summary rows (dicts)."""
    summary = [{'r': r, 'theta_mean': float(np.mean(list(v.values()))), 'theta_std': float(np.std(list(v.values()))),
                'images': len(v), 'theta_paper': THETA.get(r, '')} for r, v in per_image.items()]
    with open(os.path.join(out, 'theta.csv'), 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    with open(os.path.join(out, 'theta_per_image.csv'), 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['r', 'image', 'theta'])
        writer.writerows([r, name, theta] for r, values in per_image.items() for name, theta in values.items())
    plot_theta([row['r'] for row in summary], [row['theta_mean'] for row in summary],
               [row['theta_std'] for row in summary], os.path.join(out, 'theta.png'), 'this net', title='Table 4',
               dpi=120)
    return summary


def main(argv=None):
    args = parse_args(argv)
    net = net_from_args(args)
    os.makedirs(args.out, exist_ok=True)
    per_image = {}
    for r, folder in tqdm(find_level_folders(args.theta_root).items(), desc='theta per r', unit='r'):
        paths = list_images(folder, required=True)
        thetas = image_thetas(net, paths, args.batch_size)
        per_image[r] = {os.path.basename(path): theta for path, theta in zip(paths, thetas)}
    summary = write_outputs(per_image, args.out)
    print('r\ttheta mean\tstd\timages\tpaper')
    for row in summary:
        print(f"{row['r']}\t{row['theta_mean']:.4f}\t{row['theta_std']:.4f}\t{row['images']}\t{row['theta_paper']}")
    print(f'Wrote {args.out}/theta.csv, theta_per_image.csv, theta.png')


if __name__ == '__main__':
    main()
