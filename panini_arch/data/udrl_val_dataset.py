"""Held-out set for UDRL validation: N degradations x M faces, fixed by a seed."""
import numpy as np
from basicsr.utils.registry import DATASET_REGISTRY
from torch.utils import data

from ..utils.option_spec import Option
from .degradation import DegradationOptions, degrade_uint8, params_tensor, sample_degradation
from .face_source import FaceSource, positive_int_option


@DATASET_REGISTRY.register()
class UDRLValDataset(data.Dataset):
    """Every one of ``num_degradations`` Eq. 10 draws applied to every one of ``num_faces`` faces.

    Item ``i`` is degradation ``i // num_faces`` on face ``i % num_faces``. Degradation ``d`` draws its
    parameters from ``np.random.default_rng([seed, d])`` and its noise on face ``f`` from
    ``np.random.default_rng([seed, d, f])``, so the set is identical in every run, worker count and
    machine (``deterministic`` is implied). Use faces and a seed the training never sees.

    Options: ``dataroot_gt``, ``meta_info``, ``io_backend``, ``gt_size``, ``mean``/``std``, ``strict``
    (see ``FaceSource``), ``seed``, ``blur_kernel_size`` and the four ranges (see ``DegradationOptions``),
    ``in_size`` (the side of ``lq``), ``num_degradations`` (N), ``num_faces`` (M: the first M entries of
    the face list); defaults and ranges in :attr:`OPTIONS`. Unreadable faces raise: a validation set must
    not change silently.

    Returns (``__getitem__``):
        dict: ``lq`` float32 (3, in_size, in_size) RGB, ``(x - mean) / std`` of [0, 1] values (uint8 RGB
        with ``output_dtype: uint8``, then with ``mean``, ``std``);
        ``deg_params`` float32 (4,) = r, sigma, delta, q; ``deg_index``, ``face_index`` (int);
        ``lq_path`` (str, the HQ source).
    """

    OPTIONS = {**FaceSource.OPTIONS, **DegradationOptions.OPTIONS, 'in_size': Option(256, 'int', 1),
               'num_degradations': Option(32, 'int', 1), 'num_faces': Option(8, 'int', 1)}

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.source = FaceSource(opt)
        self.deg = DegradationOptions(opt)
        self.in_size = positive_int_option(opt, 'in_size', self.OPTIONS['in_size'].default)
        self.num_degradations = positive_int_option(opt, 'num_degradations',
                                                    self.OPTIONS['num_degradations'].default)
        self.num_faces = positive_int_option(opt, 'num_faces', self.OPTIONS['num_faces'].default)
        if self.num_faces > len(self.source):
            raise ValueError(f'num_faces={self.num_faces} but {opt["dataroot_gt"]} holds {len(self.source)} faces')
        self.params = [
            sample_degradation(np.random.default_rng([self.deg.seed, d]), self.deg.ranges)
            for d in range(self.num_degradations)
        ]

    def __len__(self):
        return self.num_degradations * self.num_faces

    def __getitem__(self, index):
        deg_index, face_index = divmod(index, self.num_faces)
        params = self.params[deg_index]
        rng = np.random.default_rng([self.deg.seed, deg_index, face_index])
        lq = degrade_uint8(self.source.read(face_index), params, self.in_size, self.deg.kernel_size, rng)
        item = {
            'lq': self.source.to_tensor(lq),
            'deg_params': params_tensor(params),
            'deg_index': deg_index,
            'face_index': face_index,
            'lq_path': self.source.paths[face_index],
        }
        if self.source.output_dtype == 'uint8':
            item.update(self.source.normalisation())
        return item
