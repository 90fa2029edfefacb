"""CPU time of the package's image reader against a bare ``cv2.imdecode``, on 1024 px PNG and JPEG faces.

Rows, per format, CPU milliseconds per image (process time, one OpenCV thread, best of ``--repeats``)
and the ratio to ``cv2.imdecode(data, IMREAD_UNCHANGED)`` of the same bytes (the floor: one decode):

* ``decode_image``: :func:`panini_arch.utils.image_io.decode_image` (checks, header, orientation);
* ``read_photo``: the same from the file (adds the read);
* BasicSR's ``imfrombytes(float32=True)``, as its ``PairedImageDataset`` calls it, without and with the
  trainer's rebinding (``panini_arch.trainer.patches.imfrombytes``, which decodes with the package's reader).

The files are drawn faces with Gaussian grain (``--grain``; 2 gives PNGs of about FFHQ's 1.3-1.6 MB),
written at ``--size`` px (1024, FFHQ's) into a temporary folder; ``--formats`` adds WebP or TIFF.
Ratios are meaningful on a loaded machine; absolute times are not.

Usage:
    python scripts/benchmarks/bench_reader.py                     # 1024 px, 16 images per format
    python scripts/benchmarks/bench_reader.py --size 64 --images 2 --repeats 1   # a few seconds
"""
import argparse
import os
import tempfile
import time

import cv2
import numpy as np

import panini_arch  # noqa: F401  (first: makes basicsr importable)
from panini_arch.data.synthetic_faces import draw_face
from panini_arch.trainer import patches
from panini_arch.utils.image_io import decode_image, read_photo

EXTENSIONS = {'png': '.png', 'jpeg': '.jpg', 'webp': '.webp', 'tiff': '.tif'}


def write_faces(root, num, size, grain, ext):
    """``num`` drawn faces of ``size`` px with grain, as ``<i>.<ext>``; returns the paths."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(num):
        face = draw_face(size, i).astype(np.float32) + rng.normal(0, grain, (size, size, 3)).astype(np.float32)
        paths.append(os.path.join(root, f'{i:04d}{ext}'))
        cv2.imwrite(paths[-1], np.clip(face, 0, 255).astype(np.uint8))
    return paths


def cpu_ms(fn, items, repeats):
    """Best over ``repeats`` of the process CPU milliseconds per item of ``fn(item)``."""
    fn(items[0])
    best = float('inf')
    for _ in range(repeats):
        start = time.process_time()
        for item in items:
            fn(item)
        best = min(best, (time.process_time() - start) / len(items) * 1e3)
    return best


def bench_format(root, fmt, args):
    """Rows (label, ms, ratio to cv2.imdecode) of one format."""
    paths = write_faces(root, args.images, args.size, args.grain, EXTENSIONS[fmt])
    blobs = []
    for path in paths:
        with open(path, 'rb') as f:
            blobs.append(f.read())
    rows = {
        'cv2.imdecode (floor)': cpu_ms(lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_UNCHANGED),
                                       blobs, args.repeats),
        'decode_image': cpu_ms(lambda d: decode_image(d, 'bench'), blobs, args.repeats),
        'read_photo (from the file)': cpu_ms(read_photo, paths, args.repeats),
        "BasicSR's imfrombytes, float32": cpu_ms(lambda d: patches._basicsr_imfrombytes(d, 'color', True), blobs,
                                                  args.repeats),
        'imfrombytes under the trainer, float32': cpu_ms(lambda d: patches.imfrombytes(d, 'color', True), blobs,
                                                          args.repeats),
    }
    size = sum(len(b) for b in blobs) / len(blobs) / 1e6
    floor = rows['cv2.imdecode (floor)']
    return size, [(label, ms, ms / floor) for label, ms in rows.items()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=1024, help='image side in pixels (FFHQ: 1024)')
    parser.add_argument('--images', type=int, default=16, help='images per format')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--grain', type=float, default=2.0, help='noise std added to the drawn faces')
    parser.add_argument('--formats', nargs='+', default=['png', 'jpeg'], choices=sorted(EXTENSIONS))
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    print(f'opencv {cv2.__version__}, {args.images} images of {args.size} px per format, best of {args.repeats}')
    print(f"| format | reader | CPU ms/image | ratio to cv2.imdecode |\n|---|---|---|---|")
    results = {}
    with tempfile.TemporaryDirectory() as root:
        for fmt in args.formats:
            size, rows = bench_format(root, fmt, args)
            results[fmt] = rows
            for label, ms, ratio in rows:
                print(f'| {fmt.upper()} ({size:.2f} MB) | {label} | {ms:.2f} | {ratio:.2f}x |')
    return results


if __name__ == '__main__':
    main()
