"""Write the Table 4 set: per face one (sigma, delta, q), LQ at r = 16, 32, 64, 128 (LQ/r016/ ...).

Usage:
    python scripts/generate_theta_set.py datasets/celeba_hq_1000 datasets/celeba_theta --seed 0
    python scripts/generate_theta_set.py IN OUT --sigma 3 --delta 10 --q 40   # same values for every face

sigma/delta/q not given are drawn per face from the Eq. 10 ranges (seeded); params.csv lists them.
"""
import argparse

from cli import add_range_args, pop_ranges
from panini_arch.data.eval_sets import THETA_RS, generate_theta_set


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('input', help='folder of HQ faces')
    parser.add_argument('output', help='output folder (LQ/rXXX/, GT/, params.csv)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--gt-size', type=int, default=1024)
    parser.add_argument('--in-size', type=int, default=512)
    parser.add_argument('--rs', type=int, nargs='+', default=list(THETA_RS), help='downsampling factors')
    parser.add_argument('--sigma', type=float, help='blur sigma for every face')
    parser.add_argument('--delta', type=float, help='noise std (0-255) for every face')
    parser.add_argument('--q', type=int, help='JPEG quality for every face')
    parser.add_argument('--limit', type=int, default=None, help='only the first N faces')
    add_range_args(parser)
    args = vars(parser.parse_args())
    ranges = pop_ranges(args)
    fixed = {k: args[k] for k in ('sigma', 'delta', 'q') if args[k] is not None}
    n = generate_theta_set(args['input'], args['output'], args['seed'], args['gt_size'], args['in_size'],
                           args['rs'], fixed, ranges, args['limit'])
    print(f"wrote {n} faces x {len(args['rs'])} r values to {args['output']}")


if __name__ == '__main__':
    main()
