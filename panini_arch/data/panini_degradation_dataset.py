"""Training/testing pairs for Panini-Net: HQ faces degraded on the fly by Eq. 10 (or bicubic 16x)."""
import numpy as np
import torch
from basicsr.utils import get_root_logger
from basicsr.utils.registry import DATASET_REGISTRY
from PIL import Image
from torch.utils import data

from ..utils.option_spec import Option
from .degradation import DEFAULT_RANGES, DegradationOptions, degrade_uint8, draw_seed, params_tensor, sample_degradation
from .face_source import FaceSource, positive_int_option, to_uint8_tensor


@DATASET_REGISTRY.register()
class PaniniDegradationDataset(data.Dataset):
    """HQ face -> (LQ, GT) pair, LQ made by Eq. 10 or, with ``scale``, by bicubic downsampling.

    Options (BasicSR dataset section; defaults and ranges in :attr:`OPTIONS`): ``dataroot_gt``, ``meta_info``,
    ``io_backend: {type: disk|lmdb}``, ``gt_size``, ``in_size``, ``use_hflip``, ``mean``/``std`` (0.5 -> [-1, 1]),
    ``deterministic``, ``seed``, ``strict``, ``output_dtype`` (float32 | uint8), ``degrade_on_device``, the four
    ranges and ``blur_kernel_size``, and for the SR setting ``scale`` (e.g. 16:
    ``lq`` is the GT bicubic-downsampled to ``gt_size / scale``, no other degradation). ``lq_mode``
    (``eq10`` | ``bicubic``) picks the mode explicitly; without it ``scale`` means bicubic, and ``scale``
    together with range options is an error (BasicSR puts a top-level ``scale`` into every dataset).

    Returns (``__getitem__``):
        dict: ``lq`` float32 (3, in_size, in_size) RGB, ``gt`` float32 (3, gt_size, gt_size) RGB, both
        ``(x - mean) / std`` of [0, 1] values; ``lq_path``, ``gt_path`` (str, the HQ source);
        ``deg_params`` float32 (4,) = r, sigma, delta, q (SR: scale, 0, 0, 100). With ``output_dtype: uint8``
        ``lq`` and ``gt`` are the uint8 RGB pixels instead, and ``mean``, ``std`` (3,) come along. With
        ``degrade_on_device`` there is no ``lq``: ``gt`` is uint8 and :meth:`DegradationOptions.device_fields`
        are added (one noise seed per item).
    """

    OPTIONS = {**FaceSource.OPTIONS, **DegradationOptions.OPTIONS, 'in_size': Option(512, 'int', 1),
               'lq_mode': Option()}

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.source = FaceSource(opt)
        self.deg = DegradationOptions(opt)
        gt_size = self.source.gt_size
        self.scale = None
        if self._lq_mode(opt) == 'bicubic':
            self.scale = positive_int_option(opt, 'scale', None)
            if gt_size % self.scale:
                raise ValueError(f'Option scale ({self.scale}) must divide gt_size ({gt_size})')
            self.in_size = gt_size // self.scale
            if opt.get('in_size', self.in_size) != self.in_size:
                raise ValueError(f"Option in_size ({opt['in_size']}) contradicts scale {self.scale}: "
                                 f'the SR input is gt_size / scale = {self.in_size}')
            if self.deg.on_device:
                raise ValueError('Option degrade_on_device runs Eq. 10; it does not apply to lq_mode: bicubic')
            get_root_logger().info(f'PaniniDegradationDataset: LQ = GT bicubic x1/{self.scale} ({self.in_size}px)')
        else:
            self.in_size = positive_int_option(opt, 'in_size', self.OPTIONS['in_size'].default)
            get_root_logger().info(f'PaniniDegradationDataset: LQ = Eq. 10 ({self.in_size}px), {self.deg.ranges}')

    @staticmethod
    def _lq_mode(opt):
        """'eq10' or 'bicubic' from ``lq_mode``, else inferred: bicubic iff ``scale`` is set.

        BasicSR copies a top-level ``scale`` into every dataset section, so ``scale`` next to Eq. 10 range
        options is ambiguous and must be resolved with an explicit ``lq_mode``.
        """
        mode = opt.get('lq_mode')
        if mode is not None:
            if mode not in ('eq10', 'bicubic'):
                raise ValueError(f"Option lq_mode must be 'eq10' or 'bicubic', got {mode!r}")
            if mode == 'bicubic' and opt.get('scale') is None:
                raise ValueError('Option lq_mode: bicubic needs scale (e.g. 16)')
            return mode
        if opt.get('scale') is None:
            return 'eq10'
        given = [key for key in DEFAULT_RANGES if key in opt]
        if given:
            raise ValueError(f"Options scale ({opt['scale']}) and {', '.join(given)} are both set (BasicSR copies a "
                             "top-level scale into every dataset): set lq_mode: eq10 or lq_mode: bicubic")
        return 'bicubic'

    def __len__(self):
        return len(self.source)

    def degrade(self, index):
        """Sample ``index`` as 8-bit images, before tensor conversion (used by the test-set scripts).

        Returns:
            tuple: (gt uint8 BGR (gt_size, gt_size, 3), lq uint8 BGR (in_size, in_size, 3),
            params dict r/sigma/delta/q, gt_path str).
        """
        rng = self.deg.rng(index)
        used, gt = self.source.read_valid(index)
        gt = self.deg.flip(gt, rng)
        if self.scale is not None:
            params = {'r': float(self.scale), 'sigma': 0.0, 'delta': 0.0, 'q': 100}
            lq = np.asarray(Image.fromarray(gt).resize((self.in_size, self.in_size), Image.BICUBIC))
        else:
            params = sample_degradation(rng, self.deg.ranges)
            lq = degrade_uint8(gt, params, self.in_size, self.deg.kernel_size, rng)
        return gt, lq, params, self.source.paths[used]

    def hq_item(self, index):
        """Sample ``index`` for on-device degradation: the flipped uint8 HQ face, parameters and noise seed
        drawn from the sample's generator in the same order as :meth:`degrade` (same flip and parameters)."""
        rng = self.deg.rng(index)
        used, gt = self.source.read_valid(index)
        gt = self.deg.flip(gt, rng)
        params = sample_degradation(rng, self.deg.ranges)
        path = self.source.paths[used]
        item = {'gt': to_uint8_tensor(gt), 'lq_path': path, 'gt_path': path}
        item.update(self.deg.device_fields(params, [draw_seed(rng)], self.in_size, self.source))
        return item

    def __getitem__(self, index):
        if self.deg.on_device:
            return self.hq_item(index)
        gt, lq, params, path = self.degrade(index)
        item = {
            'lq': self.source.to_tensor(lq),
            'gt': self.source.to_tensor(gt),
            'lq_path': path,
            'gt_path': path,
            'deg_params': params_tensor(params)
        }
        if self.source.output_dtype == 'uint8':
            item.update(self.source.normalisation())
        return item
