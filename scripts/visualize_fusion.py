"""Fig. 7: Y, Y_IFE (prior term of every DAFI set to zero) and Y_GPB (input term set to zero)
for the degradation levels of a theta set, one PNG grid.

    python scripts/visualize_fusion.py --theta_root datasets/celeba_theta --faces 0000 \
        --opt options/test_panini_fr.yml --out results/fusion

One row per (face, r): LQ | Y | Y_IFE | Y_GPB | GT (GT when ``theta_root/GT`` has it).
"""
import argparse
import os

import cv2

from cli import add_net_args, net_from_args
from panini_arch.evaluation.analysis import find_level_folders, fusion_outputs, load_batch, to_image
from panini_arch.evaluation.report import find_image, tile_grid
from panini_arch.utils.image_io import list_images, read_photo


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--theta_root', required=True, help='set written by scripts/generate_theta_set.py')
    parser.add_argument('--faces', nargs='*', help='image names without extension (default: the first one)')
    parser.add_argument('--out', default='results/fusion', help='output folder')
    parser.add_argument('--cell', type=int, default=256, help='tile size in pixels')
    add_net_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    net = net_from_args(args)
    levels = find_level_folders(args.theta_root)
    first_level = next(iter(levels.values()))
    faces = args.faces or [os.path.splitext(os.path.basename(list_images(first_level, required=True)[0]))[0]]
    gt_folder = os.path.join(args.theta_root, 'GT')
    rows = []
    for face in faces:
        lq_paths = [find_image(folder, face) for folder in levels.values()]
        lq = load_batch(lq_paths)
        outputs = fusion_outputs(net, lq)  # all r levels in one batch
        for index, (r, lq_path) in enumerate(zip(levels, lq_paths)):
            row = [(f'LQ {face} r={r}', to_image(lq[index]))] + [(k, to_image(v[index])) for k, v in outputs.items()]
            if os.path.isdir(gt_folder):
                row.append(('GT', read_photo(find_image(gt_folder, face))[0]))
            rows.append(row)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, 'fusion.png')
    cv2.imwrite(path, tile_grid(rows, args.cell))
    print(f'Wrote {path} ({len(rows)} rows: LQ | Y | Y_IFE | Y_GPB{" | GT" if os.path.isdir(gt_folder) else ""})')


if __name__ == '__main__':
    main()
