"""HQ face reading shared by the Panini datasets: file list, disk/LMDB back-ends, bad-input policy.

The behaviour for every kind of bad input is tabulated in ``docs/data.md``. In short:

* construction fails (always) on a missing ``dataroot_gt``/``meta_info``, an empty folder, an
  unknown back-end or an invalid option, and on ``meta_info`` entries (file names or LMDB keys) that
  are absolute or lead out of ``dataroot_gt`` with ``..`` (all named);
* entries whose file (disk) or key (LMDB) is missing are dropped at construction with one warning
  and counted in ``num_missing`` (``strict: true``: error instead);
* undecodable, truncated or non-square images are skipped when read: the next readable entry is
  used instead, one warning names the file the first time (it is not read again), ``num_skipped``
  counts the skips (``strict: true``: error);
* grayscale, RGBA (alpha dropped), palette, CMYK, 16-bit and float images are converted to 8-bit BGR
  (``panini_arch.utils.image_io``);
* square images of the wrong size are resized to ``gt_size`` (area down, cubic up), counted in
  ``num_resized`` and warned about once.

``io_backend: {type: synthetic, num: N, seed: S}`` needs no files: entry ``i`` is
``synthetic_faces.draw_face(gt_size, S + i)``, drawn when read (the same pixels as a folder written by
``make_face_folder(folder, N, gt_size, seed=S)``), so options that use it run from a fresh clone.

``output_dtype`` (``float32`` default, or ``uint8``) picks what :meth:`FaceSource.to_tensor` hands over:
normalised float32, or the 8-bit RGB pixels (4x fewer bytes through the DataLoader), which the models
normalise on their device (``panini_arch/models/hand_over.py``) to the same values.
"""
import os

import cv2
import numpy as np
import torch
from basicsr.utils import get_root_logger

from ..utils.entry_paths import check_entries
from ..utils.image_io import IMAGE_EXTENSIONS, BadImageError, decode_image, list_images
from ..utils.option_spec import Option, option_value
from .lmdb_store import open_lmdb_checked
from .synthetic_faces import draw_face

_LMDB_ENVS = {}
OUTPUT_DTYPES = ('float32', 'uint8')


def open_lmdb(path):
    """Read-only LMDB environment for ``path``, opened once and shared by every dataset of the process.

    py-lmdb refuses to open one environment twice in a process, and a forked DataLoader worker inherits
    that refusal; it inherits the open environment too, which is safe to read from here because it is
    read-only without locks (``lock=False``). A truncated store raises
    :class:`panini_arch.data.lmdb_store.DamagedStoreError` (see :func:`open_lmdb_checked`).
    """
    key = os.path.realpath(path)
    if key not in _LMDB_ENVS:
        _LMDB_ENVS[key] = open_lmdb_checked(path)
    return _LMDB_ENVS[key]


def read_meta_info(meta_path):
    """Names from a BasicSR meta-info file: the first token of every non-blank line.

    Lines look like ``0000.png (1024,1024,3) 1``; only ``0000.png`` is used.
    """
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f'meta_info file not found: {meta_path}')
    with open(meta_path, encoding='utf-8') as f:
        return [line.split()[0] for line in f if line.strip()]


def decode_face(data, name):
    """Decode image bytes to uint8 BGR H x W x 3 with :func:`panini_arch.utils.image_io.decode_image`
    (alpha dropped: faces are trained on as opaque RGB).

    Raises:
        BadImageError: undecodable, truncated, animated or unsupported data.
    """
    return decode_image(data, name)[0]


def to_tensor(img, mean, std):
    """uint8 BGR H x W x 3 -> float32 RGB tensor (3, H, W), ``(x / 255 - mean) / std`` per channel.

    ``mean`` and ``std`` are sequences of 3 floats (RGB). OpenCV writes each scaled plane straight into
    the output (SIMD passes, no torch intra-op threads, which only add overhead at this size).
    """
    out = np.empty((3, ) + img.shape[:2], np.float32)
    planes = cv2.split(img)
    for c in range(3):
        plane = planes[2 - c]
        cv2.addWeighted(plane, 1 / (255.0 * std[c]), plane, 0, -mean[c] / std[c], dst=out[c], dtype=cv2.CV_32F)
        high = (1 - mean[c]) / std[c]  # float rounding may overshoot it at 255; 0 maps exactly to the low end
        cv2.threshold(out[c], high, high, cv2.THRESH_TRUNC, dst=out[c])
    return torch.from_numpy(out)


def to_uint8_tensor(img):
    """uint8 BGR H x W x 3 -> uint8 RGB tensor (3, H, W), the pixels unchanged."""
    return torch.from_numpy(np.stack(cv2.split(img)[::-1]))


def positive_int_option(opt, key, default):
    """``opt[key]`` (or ``default``) as a positive int; ValueError naming the option otherwise."""
    value = opt.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f'Option {key!r} must be a positive integer, got {value!r}')
    return int(value)


def _channel_stats(opt, key, default):
    value = opt.get(key, default)
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f'Option {key!r} must be a list of 3 numbers, got {value!r}') from None
    if len(out) != 3 or (key == 'std' and min(out) <= 0):
        raise ValueError(f'Option {key!r} must be 3 numbers (std positive), got {value!r}')
    return out


class FaceSource:
    """The HQ faces of a dataset: which entries exist and how to read one.

    Args:
        opt (dict): ``dataroot_gt`` (folder, or ``*.lmdb`` folder for LMDB), ``meta_info`` (optional for
            disk, defaults to ``<dataroot_gt>/meta_info.txt`` for LMDB), ``io_backend: {type: disk|lmdb}``,
            ``gt_size`` (1024), ``mean``/``std`` (0.5 each), ``strict`` (False).

    Attributes:
        names (list[str]): entry names (file names relative to ``dataroot_gt``, or LMDB keys).
        paths (list[str]): what datasets report as ``gt_path``.
        num_missing, num_skipped, num_resized (int): bad-input counters (per process).
        bad (dict[int, str]): entries found unusable and why; each is warned about once, then skipped.
    """

    OPTIONS = {
        'dataroot_gt': Option(), 'meta_info': Option(), 'io_backend': Option(),  # io_backend: disk when unset
        'gt_size': Option(1024, 'int', 1),
        'mean': Option((0.5, 0.5, 0.5)), 'std': Option((0.5, 0.5, 0.5)),
        'strict': Option(False), 'output_dtype': Option('float32'),
    }

    def __init__(self, opt):
        self.logger = get_root_logger()
        backend = dict(opt.get('io_backend') or {'type': 'disk'})
        self.backend = backend.pop('type', None)
        if self.backend not in ('disk', 'lmdb', 'synthetic'):
            raise ValueError(f"io_backend.type must be 'disk', 'lmdb' or 'synthetic', got {self.backend!r}")
        self.gt_size = positive_int_option(opt, 'gt_size', self.OPTIONS['gt_size'].default)
        self.mean = _channel_stats(opt, 'mean', self.OPTIONS['mean'].default)
        self.std = _channel_stats(opt, 'std', self.OPTIONS['std'].default)
        self.output_dtype = option_value(opt, self.OPTIONS, 'output_dtype')
        if self.output_dtype not in OUTPUT_DTYPES:
            raise ValueError(f'Option output_dtype must be one of {OUTPUT_DTYPES}, got {self.output_dtype!r}')
        self.strict = bool(option_value(opt, self.OPTIONS, 'strict'))
        self.num_missing = self.num_skipped = self.num_resized = 0
        self.bad = {}  # entry index -> reason, for entries found unusable (never read again)
        if self.backend == 'synthetic':
            self._init_synthetic(backend)
            return
        self.root = opt.get('dataroot_gt')
        if not self.root:
            raise ValueError('Option dataroot_gt is required')
        self.root = str(self.root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f'dataroot_gt is not a folder: {self.root}')

        meta_info = opt.get('meta_info')
        if self.backend == 'lmdb':
            if not os.path.isfile(os.path.join(self.root, 'data.mdb')):
                raise FileNotFoundError(f'dataroot_gt is not an LMDB folder (no data.mdb): {self.root}')
            meta_info = meta_info or os.path.join(self.root, 'meta_info.txt')
            names = read_meta_info(meta_info)
            check_entries(names, self.root, f'LMDB keys of meta_info {meta_info}')
            self.names = [os.path.splitext(n)[0] for n in names]
            present = self._lmdb_keys()
            self._drop_missing([n for n in self.names if n not in present], 'LMDB key')
            self.paths = list(self.names)
        else:
            if meta_info:
                self.names = read_meta_info(meta_info)
                check_entries(self.names, self.root, f'meta_info {meta_info}')
                root = self.root
                self._drop_missing([n for n in self.names if not os.path.isfile(os.path.join(root, n))], 'file')
            else:
                self.names = [os.path.relpath(p, self.root) for p in list_images(self.root, recursive=True)]
            self.paths = [os.path.join(self.root, n) for n in self.names]
        if not self.names:
            where = f'meta_info {meta_info}' if meta_info else f'dataroot_gt {self.root}'
            raise ValueError(f'No images in {where} (extensions {", ".join(IMAGE_EXTENSIONS)})')

    def _init_synthetic(self, backend):
        unknown = sorted(set(backend) - {'num', 'seed'})
        if unknown:
            raise ValueError(f'io_backend type synthetic takes num and seed, got {unknown}')
        num = positive_int_option(backend, 'num', None)
        self.seed = backend.get('seed', 0)
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f'Option io_backend.seed must be a non-negative integer, got {self.seed!r}')
        self.root = f'synthetic faces (seed {self.seed}, {num} faces)'
        self.names = [f'{self.seed + i:04d}.png' for i in range(num)]
        self.paths = [f'synthetic/{name}' for name in self.names]

    def __len__(self):
        return len(self.names)

    def _lmdb_keys(self):
        with open_lmdb(self.root).begin() as txn:
            return {k.decode('ascii') for k in txn.cursor().iternext(keys=True, values=False)}

    def _drop_missing(self, missing, what):
        if not missing:
            return
        shown = ', '.join(missing[:5]) + (' ...' if len(missing) > 5 else '')
        msg = f'{len(missing)} meta_info entries have no {what} under {self.root}: {shown}'
        if self.strict:
            raise FileNotFoundError(msg)
        self.logger.warning(f'{msg} (dropped; set strict: true to fail)')
        gone = set(missing)
        self.names = [n for n in self.names if n not in gone]
        self.num_missing = len(missing)

    def read_bytes(self, index):
        """Raw bytes of entry ``index`` (None for a vanished LMDB key)."""
        if self.backend == 'lmdb':
            import lmdb
            try:
                with open_lmdb(self.root).begin(write=False) as txn:
                    return txn.get(self.names[index].encode('ascii'))
            except lmdb.Error as err:
                raise BadImageError(f'{self.root}, key {self.names[index]}: {err}') from None
        try:
            with open(self.paths[index], 'rb') as f:
                return f.read()
        except OSError as err:
            raise BadImageError(f'{self.paths[index]}: {err}') from None

    def read(self, index):
        """Entry ``index`` as uint8 BGR (gt_size, gt_size, 3); raises BadImageError for unusable data."""
        if self.backend == 'synthetic':
            return draw_face(self.gt_size, self.seed + index)
        img = decode_face(self.read_bytes(index), self.paths[index])
        h, w = img.shape[:2]
        if h != w:
            raise BadImageError(f'{self.paths[index]}: not square ({h}x{w}); faces must be aligned squares')
        if h != self.gt_size:
            if self.num_resized == 0:
                self.logger.warning(f'{self.paths[index]}: {h}x{w} resized to gt_size {self.gt_size} '
                                    '(further resizes are only counted)')
            self.num_resized += 1
            interp = cv2.INTER_AREA if h > self.gt_size else cv2.INTER_CUBIC
            img = cv2.resize(img, (self.gt_size, self.gt_size), interpolation=interp)
        return img

    def read_valid(self, index, exclude=None):
        """First usable entry from ``index`` on (wrapping), never ``exclude``.

        Returns:
            tuple: (entry index, uint8 BGR image of (gt_size, gt_size, 3)).

        Raises:
            BadImageError: in strict mode at the first bad entry, else when no entry is usable.
        """
        n = len(self.names)
        for step in range(n):
            i = (index + step) % n
            if i == exclude:
                continue
            if i in self.bad:
                self.num_skipped += 1
                continue
            try:
                return i, self.read(i)
            except BadImageError as err:
                if self.strict:
                    raise
                self.num_skipped += 1
                self.bad[i] = str(err)
                self.logger.warning(f'Skipped bad image ({err}); {len(self.bad)} bad file(s) so far in this process, '
                                    'each reported once and then skipped unread')
        raise BadImageError(f'No usable image in {self.root}')

    def to_tensor(self, img):
        """uint8 BGR -> RGB tensor (3, H, W): normalised float32 with this source's mean/std, or with
        ``output_dtype: uint8`` the pixels as uint8 (see :meth:`normalisation`)."""
        if self.output_dtype == 'uint8':
            return to_uint8_tensor(img)
        return to_tensor(img, self.mean, self.std)

    def normalisation(self):
        """``mean``, ``std`` float32 (3,) tensors (RGB), which items carry next to uint8 images."""
        return {'mean': torch.tensor(self.mean, dtype=torch.float32), 'std': torch.tensor(self.std, dtype=torch.float32)}
