"""Helpers shared by the metrics that need network weights (LPIPS, FID, KID, identity, Deg, LMD).

BasicSR hands every metric uint8-range BGR images (``tensor2img`` output); the
networks want RGB tensors. A metric whose weights are absent raises
:class:`MetricWeightsError`; the test model catches :class:`MetricNotComputed`
and reports the metric as "not computed" instead of faking a value.
"""
import os

import numpy as np
import torch

from basicsr.metrics.metric_util import reorder_image
from panini_arch.utils.safe_load import UnsafeWeightsError, load_torch_file
from panini_arch.utils.weights import load_checked, read_weights_file, select_state_dict, strip_module_prefix


class MetricNotComputed(Exception):
    """The metric cannot be computed on this run; the message says why."""


class MetricWeightsError(MetricNotComputed, FileNotFoundError):
    """A metric's weights file is missing; the message names the option and the source."""


class SetMetric:
    """Base of the set metrics (FID, KID, Deg, LMD): subclasses define ``update_batch(imgs, imgs2, input_order)``
    and ``compute()``; :meth:`update` adds one pair. They need the GT unless :meth:`needs_gt` says otherwise."""

    @staticmethod
    def needs_gt(opt):
        """Whether the metric with options ``opt`` compares with the GT images."""
        return True

    def update(self, img, img2, input_order='HWC'):
        """Add one restored image and its GT (BGR, [0, 255]; the GT may be None when not needed)."""
        self.update_batch([img], [img2], input_order)


def require_weights(path, metric, option, source, kind='weights file'):
    """Return ``path`` if it is a file, else raise :class:`MetricWeightsError`.

    Args:
        path (str | None): value of the metric option.
        metric (str): metric name for the message ("LPIPS").
        option (str): option that holds the path ("backbone_path").
        source (str): where to get the file.
        kind (str): what the file is, for the message.
    """
    if path and os.path.isfile(os.path.expanduser(path)):
        return os.path.expanduser(path)
    raise MetricWeightsError(f'{metric} not computed: {kind} {path!r} (metric option `{option}`) '
                             f'does not exist. {source}')


def unusable_file(path, metric, option, source, error, kind='weights file'):
    """:class:`MetricWeightsError` for a file that exists but cannot be used (corrupt, wrong layout)."""
    return MetricWeightsError(f'{metric} not computed: {kind} {path!r} (metric option `{option}`) cannot be '
                              f'used: {error}. {source}')


def load_metric_file(path, metric, option, source):
    """``path`` read weights-only; a corrupt file raises :class:`MetricWeightsError`, as a missing one does."""
    try:
        return load_torch_file(path)
    except Exception as error:  # torch raises several types for corrupt files
        raise unusable_file(path, metric, option, source, error) from error


def load_metric_weights(module, path, key, metric, option, source):
    """Strictly load a published state dict (``torch.load(path)[key]``, or the file itself when ``key`` is
    None) into ``module`` with the one loader's steps (:mod:`panini_arch.utils.weights`), weights only; keys
    saved from ``DataParallel`` (``module.`` prefix) are accepted. Never converted: no authors' file is a metric's.

    Raises:
        MetricWeightsError: unreadable, code-carrying or truncated file, no ``key``, or keys or shapes
            that do not fit ``module`` (all named).
    """
    try:
        state = select_state_dict(read_weights_file(path, metric, source), key, path, metric)
        if not isinstance(state, dict) or not all(torch.is_tensor(value) for value in state.values()):
            raise RuntimeError('not a state dict of tensors')
        state = strip_module_prefix(state)
        return load_checked(module, state, path, metric)
    except (RuntimeError, KeyError, UnsafeWeightsError) as error:
        raise unusable_file(path, metric, option, source, error) from error


def metric_device(device='auto'):
    """``'auto'`` (or None): CUDA when available, else CPU; otherwise ``torch.device(device)``.

    Raises:
        MetricNotComputed: ``device`` is not a device name, or names CUDA where there is none.
    """
    if device in (None, 'auto'):
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise MetricNotComputed(f"metric option `device`: {device!r} is not a device ('auto', 'cpu', 'cuda', "
                                f"'cuda:1', ...): {error}") from error
    if chosen.type == 'cuda' and not torch.cuda.is_available():
        raise MetricNotComputed(f"metric option `device`: {device!r}, but CUDA is not available here; use 'auto' or "
                                "'cpu'")
    return chosen


def to_uint8(img, input_order='HWC'):
    """BasicSR metric image (BGR, [0, 255], uint8 or float) -> HWC uint8, as ``cv2.imread`` gives it."""
    img = reorder_image(np.asarray(img), input_order=input_order)
    return img if img.dtype == np.uint8 else np.clip(np.round(img), 0, 255).astype(np.uint8)


def same_size_runs(items, shape=np.shape):
    """Split a list into runs of consecutive items of one ``shape(item)`` (so each run stacks into a batch).

    Returns:
        list[list]: the runs, in order.
    """
    runs = []
    for item in items:
        if runs and shape(runs[-1][0]) == shape(item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


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
