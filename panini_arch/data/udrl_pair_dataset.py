"""Positive pairs for UDRL (DRE contrastive pre-training): one degradation, two different faces."""
from basicsr.utils.registry import DATASET_REGISTRY
from torch.utils import data

from .degradation import DegradationOptions, degrade_uint8, params_tensor, sample_degradation
from .face_source import FaceSource, positive_int_option


@DATASET_REGISTRY.register()
class UDRLPairDataset(data.Dataset):
    """Item ``i``: face ``i`` (query) and a different face (key), both degraded by one Eq. 10 draw.

    Options: as :class:`PaniniDegradationDataset` (``dataroot_gt``, ``meta_info``, ``io_backend``,
    ``gt_size`` (1024, the resolution Eq. 10 is applied at), ``use_hflip``, ``mean``/``std``,
    ``deterministic``, ``seed``, ``strict``, ranges, ``blur_kernel_size``) with ``in_size`` (256), the
    side of both outputs. Needs at least two faces. The two faces share ``r, sigma, delta, q`` but get
    independent noise and flips.

    Returns (``__getitem__``):
        dict: ``query``, ``key`` float32 (3, in_size, in_size) RGB normalised by mean/std;
        ``deg_params`` float32 (4,) = r, sigma, delta, q; ``query_path``, ``key_path`` (str).
    """

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.source = FaceSource(opt)
        if len(self.source) < 2:
            raise ValueError(f"UDRLPairDataset needs at least 2 faces in {opt['dataroot_gt']}, "
                             f'found {len(self.source)}')
        self.deg = DegradationOptions(opt)
        self.in_size = positive_int_option(opt, 'in_size', 256)

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
        for name, img in (('query', query), ('key', key)):
            img = self.deg.flip(img, rng)
            lq = degrade_uint8(img, params, self.in_size, self.deg.kernel_size, rng)
            out[name] = self.source.to_tensor(lq)
        out['deg_params'] = params_tensor(params)
        out['query_path'] = self.source.paths[query_index]
        out['key_path'] = self.source.paths[key_index]
        return out
