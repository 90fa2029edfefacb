"""Write FID reference statistics of a folder of faces (e.g. FFHQ) for the FID option ``reference_stats``.

    python scripts/make_fid_stats.py datasets/ffhq experiments/pretrained_models/inception_FFHQ_512.pth --size 512

Features: the FID metric's (BasicSR's FID Inception, pool3, 2048-d, from ``--inception_path``), each
face first resized to ``--size`` x ``--size`` with the package's resize policy (bicubic, antialiased;
``--size 0`` keeps each image's size). Output: BasicSR's layout, ``torch.save({'mean': ndarray (2048,),
'cov': ndarray (2048, 2048)})`` (float64), or clean-fid's (``mu``, ``sigma``) when OUT ends with ``.npz``.
Unreadable images are skipped and listed; the exit status is then 1.
"""
import argparse
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

import panini_arch  # noqa: F401  (before basicsr: compat layer)
from panini_arch.metrics.fid_metric import build_fid_inception
from panini_arch.metrics.metric_common import MetricNotComputed, image_to_tensor, same_size_runs
from panini_arch.metrics.resize_policy import resize_bicubic
from panini_arch.utils.image_io import BadImageError, list_images, read_photo

DEFAULT_INCEPTION = 'experiments/pretrained_models/pt_inception-2015-12-05-6726825d.pth'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('folder', help='folder of face images')
    parser.add_argument('out', help='stats file to write (.pth: BasicSR layout; .npz: clean-fid layout)')
    parser.add_argument('--size', type=int, default=512, help='resize each face to SIZE x SIZE first (0: keep)')
    parser.add_argument('--inception_path', default=DEFAULT_INCEPTION, help='pt_inception-2015-12-05-6726825d.pth')
    parser.add_argument('--batch_size', type=int, default=16)
    parser.add_argument('--device', default='auto', help="'auto' (CUDA when available), 'cpu' or 'cuda'")
    parser.add_argument('--recursive', action='store_true', help='also the images in sub-folders')
    return parser.parse_args(argv)


def feature_moments(paths, extractor, size, batch_size):
    """Sum and sum of outer products of the features of ``paths`` (float64), with a progress bar.

    Returns:
        tuple: sum (D,), outer sum (D, D), count, failed [(path, reason)].
    """
    total, outer, count, failed = 0.0, 0.0, 0, []
    with tqdm(total=len(paths), unit='img', desc='FID stats') as progress:
        for start in range(0, len(paths), batch_size):
            tensors = []
            for path in paths[start:start + batch_size]:
                try:
                    tensor = image_to_tensor(read_photo(path)[0])
                except BadImageError as error:
                    failed.append((path, str(error)))
                    continue
                tensors.append(resize_bicubic(tensor, size) if size else tensor)
            for run in same_size_runs(tensors):
                features = extractor(torch.cat(run)).cpu().double()
                total, outer, count = total + features.sum(0), outer + features.T @ features, count + len(features)
            progress.update(min(batch_size, len(paths) - start))
    return total, outer, count, failed


def save_stats(path, mean, cov):
    """Write ``mean`` and ``cov`` in BasicSR's layout, or clean-fid's when ``path`` ends with ``.npz``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if path.endswith('.npz'):
        np.savez(path, mu=mean, sigma=cov)
    else:
        torch.save({'mean': mean, 'cov': cov}, path)


def main(argv=None):
    args = parse_args(argv)
    try:
        paths = list_images(args.folder, recursive=args.recursive, required=True)
        extractor = build_fid_inception(args.inception_path, args.device)
    except (FileNotFoundError, MetricNotComputed) as error:
        sys.exit(str(error).replace('FID not computed: ', ''))
    total, outer, count, failed = feature_moments(paths, extractor, args.size, args.batch_size)
    for path, reason in failed:
        print(f'skipped {path}: {reason}', file=sys.stderr)
    if count < 2:
        sys.exit(f'{args.folder}: {count} readable image(s); FID statistics need at least 2')
    mean = (total / count).numpy()
    cov = ((outer - count * torch.outer(total / count, total / count)) / (count - 1)).numpy()
    save_stats(args.out, mean, cov)
    print(f'wrote FID statistics of {count} images ({len(failed)} skipped) to {args.out}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
