"""DAFI mask editing: outputs as ``mask_bias`` goes from favouring the input (IFE) to favouring the GAN prior.

    python scripts/edit_mask_bias.py --input datasets/celeba_mfr_test/LQ --num_faces 4 \
        --biases -8 -4 -2 0 2 4 8 --opt options/test_panini_fr.yml --out results/mask_bias

``mask_bias`` is added to the prior logit of all five DAFIs (0 = the learned masks).
Writes ``<face>_bias<b>.png``, ``mask_bias_sweep.png`` (rows: faces; columns: LQ, then
each bias labelled with its theta) and ``mask_bias_theta.csv``.
"""
import argparse
import csv
import os

import cv2

from cli import add_net_args, net_from_args
from panini_arch.evaluation.analysis import load_batch, mask_bias_sweep, to_image
from panini_arch.evaluation.report import tile_grid
from panini_arch.utils.image_io import list_images


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', required=True, help='LQ image or folder of LQ images')
    parser.add_argument('--num_faces', type=int, default=4, help='first N images of a folder (one batch)')
    parser.add_argument('--biases', type=float, nargs='+', default=[-8, -4, -2, 0, 2, 4, 8],
                        help='mask_bias values, IFE-favouring (negative) to prior-favouring (positive)')
    parser.add_argument('--out', default='results/mask_bias', help='output folder')
    parser.add_argument('--cell', type=int, default=256, help='tile size in pixels')
    add_net_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    net = net_from_args(args)
    paths = [args.input] if os.path.isfile(args.input) else list_images(args.input, required=True)[:args.num_faces]
    biases = sorted(args.biases)
    os.makedirs(args.out, exist_ok=True)
    lq = load_batch(paths)
    outputs, thetas = mask_bias_sweep(net, lq, biases)  # all faces in one batch per bias
    rows, table = [], []
    for index, path in enumerate(paths):
        face = os.path.splitext(os.path.basename(path))[0]
        row = [(f'LQ {face}', to_image(lq[index]))]
        for bias, output, theta in zip(biases, outputs, thetas):
            image = to_image(output[index])
            cv2.imwrite(os.path.join(args.out, f'{face}_bias{bias:g}.png'), image)
            row.append((f'bias {bias:g} theta {theta[index].item():.2f}', image))
            table.append({'image': face, 'mask_bias': bias, 'theta': theta[index].item()})
        rows.append(row)
    cv2.imwrite(os.path.join(args.out, 'mask_bias_sweep.png'), tile_grid(rows, args.cell))
    with open(os.path.join(args.out, 'mask_bias_theta.csv'), 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=['image', 'mask_bias', 'theta'])
        writer.writeheader()
        writer.writerows(table)
    print(f'Wrote {len(paths)} faces x {len(biases)} biases to {args.out} (mask_bias_sweep.png, mask_bias_theta.csv)')


if __name__ == '__main__':
    main()
