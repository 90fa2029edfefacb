"""Write a seeded degraded test set: LQ/, GT/ and params.csv (byte-identical on rerun).

Usage (the paper's CelebA-HQ sets, 1000 faces at 1024):
    python scripts/generate_test_set.py datasets/celeba_hq_1000 datasets/celeba_mfr_test --seed 0
    python scripts/generate_test_set.py datasets/celeba_hq_1000 datasets/celeba_sr16_test --scale 16

MFR: Eq. 10 with r in [10, 200], sigma in [0.1, 10], delta in [0, 25], q in [5, 50], LQ at --in-size.
SR: bicubic down by --scale only (LQ at gt_size / scale). A range given as "off" switches its term off.
"""
import argparse

from cli import add_range_args, pop_ranges
from panini_arch.data.eval_sets import generate_test_set


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('input', help='folder of HQ faces')
    parser.add_argument('output', help='output folder (LQ/, GT/, params.csv)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--gt-size', type=int, default=1024)
    parser.add_argument('--in-size', type=int, default=512, help='LQ side for MFR (ignored with --scale)')
    parser.add_argument('--scale', type=int, default=None, help='16 for the 16x SR set (bicubic only)')
    parser.add_argument('--limit', type=int, default=None, help='only the first N faces')
    add_range_args(parser)
    args = vars(parser.parse_args())
    ranges = pop_ranges(args)
    n = generate_test_set(args['input'], args['output'], args['seed'], args['gt_size'], args['in_size'],
                          args['scale'], ranges, args['limit'])
    print(f"wrote {n} faces to {args['output']}")


if __name__ == '__main__':
    main()
