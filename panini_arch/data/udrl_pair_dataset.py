"""Positive pairs for UDRL (DRE contrastive pre-training): one degradation, two different faces."""
from basicsr.utils.registry import DATASET_REGISTRY
from torch.utils import data

from ..utils.option_spec import Option
from .degradation import DegradationOptions, degrade_uint8, draw_seed, params_tensor, sample_degradation
from .face_source import FaceSource, positive_int_option, to_uint8_tensor


@DATASET_REGISTRY.register()
class UDRLPairDataset(data.Dataset):
    """Item ``i``: face ``i`` (query) and a different face (key), both degraded by one Eq. 10 draw.

    Options: as :class:`PaniniDegradationDataset` (``dataroot_gt``, ``meta_info``, ``io_backend``,
    ``gt_size`` (the resolution Eq. 10 is applied at), ``use_hflip``, ``mean``/``std``,
    ``deterministic``, ``seed``, ``strict``, ranges, ``blur_kernel_size``) with ``in_size``, the
    side of both outputs, ``output_dtype`` (float32 | uint8) and ``degrade_on_device`` (defaults and ranges in
    :attr:`OPTIONS`). Needs at least two faces. The two faces share ``r, sigma, delta, q`` but get
    independent noise and flips.

    Returns (``__getitem__``):
        dict: ``query``, ``key`` float32 (3, in_size, in_size) RGB normalised by mean/std (uint8 RGB with
        ``output_dtype: uint8``, then with ``mean``, ``std``); ``deg_params`` float32 (4,) = r, sigma, delta, q;
        ``query_path``, ``key_path`` (str). With ``degrade_on_device``: ``query_hq``, ``key_hq`` uint8
        (3, gt_size, gt_size) instead of ``query``/``key``, plus ``DegradationOptions.device_fields`` with
        two noise seeds (query, key).
    """

    OPTIONS = {**FaceSource.OPTIONS, **DegradationOptions.OPTIONS, 'in_size': Option(256, 'int', 1)}

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.source = FaceSource(opt)
        if len(self.source) < 2:
            raise ValueError(f"UDRLPairDataset needs at least 2 faces in {opt['dataroot_gt']}, "
                             f'found {len(self.source)}')
        self.deg = DegradationOptions(opt)
        self.in_size = positive_int_option(opt, 'in_size', self.OPTIONS['in_size'].default)

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        rng = self.deg.rng(index)
        n = len(self.source)
        key_start = (index + 1 + int(rng.integers(n - 1))) % n
        params = sample_degradation(rng, self.deg.ranges)
        query_index, query = self.source.read_valid(index)
        key_index, key = self.source.read_valid(key_start, exclude=query_index)
        out = {}
        if self.deg.on_device:
            out['query_hq'] = to_uint8_tensor(self.deg.flip(query, rng))
            out['key_hq'] = to_uint8_tensor(self.deg.flip(key, rng))
            out.update(self.deg.device_fields(params, [draw_seed(rng), draw_seed(rng)], self.in_size, self.source))
        else:
            for name, img in (('query', query), ('key', key)):
                img = self.deg.flip(img, rng)
                lq = degrade_uint8(img, params, self.in_size, self.deg.kernel_size, rng)
                out[name] = self.source.to_tensor(lq)
            out['deg_params'] = params_tensor(params)
            if self.source.output_dtype == 'uint8':
                out.update(self.source.normalisation())
        out['query_path'] = self.source.paths[query_index]
        out['key_path'] = self.source.paths[key_index]
        return out
