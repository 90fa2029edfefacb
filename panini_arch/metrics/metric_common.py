"""Helpers shared by the metrics that need network weights (LPIPS, FID, identity).

BasicSR hands every metric uint8-range BGR images (``tensor2img`` output); the
networks want RGB tensors. A metric whose weights are absent raises
:class:`MetricWeightsError`; the test model catches :class:`MetricNotComputed`
and reports the metric as "not computed" instead of faking a value.
"""
import os

import numpy as np
import torch

from basicsr.metrics.metric_util import reorder_image
from panini_arch.archs.arch_util import load_state_dict_file
from panini_arch.utils.safe_load import UnsafeWeightsError, load_torch_file


class MetricNotComputed(Exception):
    """The metric cannot be computed on this run; the message says why."""


class MetricWeightsError(MetricNotComputed, FileNotFoundError):
    """A metric's weights file is missing; the message names the option and the source."""


def require_weights(path, metric, option, source):
    """Return ``path`` if it is a file, else raise :class:`MetricWeightsError`.

    Args:
        path (str | None): value of the metric option.
        metric (str): metric name for the message ("LPIPS").
        option (str): option that holds the path ("backbone_path").
        source (str): where to get the file.
    """
    if path and os.path.isfile(os.path.expanduser(path)):
        return os.path.expanduser(path)
    raise MetricWeightsError(f'{metric} not computed: weights file {path!r} (metric option `{option}`) '
                             f'does not exist. {source}')


def _unreadable(path, metric, option, source, error):
    return MetricWeightsError(f'{metric} not computed: weights file {path!r} (metric option `{option}`) cannot be '
                              f'used: {error}. {source}')


def load_metric_file(path, metric, option, source):
    """``path`` read weights-only; a corrupt file raises :class:`MetricWeightsError`, as a missing one does."""
    try:
        return load_torch_file(path)
    except Exception as error:  # torch raises several types for corrupt files
        raise _unreadable(path, metric, option, source, error) from error


def load_metric_weights(module, path, key, metric, option, source):
    """:func:`load_state_dict_file` into ``module``; a corrupt or mismatched file raises :class:`MetricWeightsError`."""
    try:
        load_state_dict_file(module, path, key, metric, source)
    except (RuntimeError, KeyError, UnsafeWeightsError) as error:
        raise _unreadable(path, metric, option, source, error) from error


def metric_device():
    """CUDA when available, else CPU."""
    return torch.device('cuda' if torch.cuda.is_available() else 'cpu')


def image_to_tensor(img, input_order='HWC', crop_border=0, device='cpu'):
    """BasicSR metric image -> network tensor.

    Args:
        img (ndarray): BGR image, values in [0, 255] (uint8 or float), HWC or CHW.
        input_order (str): 'HWC' or 'CHW'.
        crop_border (int): pixels removed at each edge.

    Returns:
        Tensor: (1, 3, H, W) RGB float32 in [0, 1].
    """
    img = reorder_image(np.asarray(img), input_order=input_order).astype(np.float32) / 255.
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    rgb = np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1))
    return torch.from_numpy(rgb).unsqueeze(0).to(device)
