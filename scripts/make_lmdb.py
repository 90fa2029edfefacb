"""Pack a folder of HQ faces into an LMDB with BasicSR's layout (data.mdb + meta_info.txt).

Usage:
    python scripts/make_lmdb.py datasets/ffhq/images1024x1024 datasets/ffhq/ffhq_1024.lmdb

Rerun the same command after an interruption to resume. Then train with
``io_backend: {type: lmdb}`` and ``dataroot_gt: datasets/ffhq/ffhq_1024.lmdb``.
"""
import argparse

from panini_arch.data.lmdb_builder import make_lmdb


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('input', help='folder of images (searched recursively)')
    parser.add_argument('output', help="LMDB folder to create or resume, ending with '.lmdb'")
    parser.add_argument('--commit-every', type=int, default=200, help='images per transaction (resume granularity)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    args = parser.parse_args()
    result = make_lmdb(args.input, args.output, args.commit_every, progress=not args.no_progress)
    print(f"{args.output}: {result['written']} written, {result['kept']} already there, "
          f"{len(result['bad'])} unreadable skipped{': ' + ', '.join(result['bad']) if result['bad'] else ''}")


if __name__ == '__main__':
    main()
