"""The hand-over between dataset and model: what a batch becomes on the model's device.

The datasets hand over one of three forms, and the batch itself says which:

* float32: normalised images (BasicSR's habit), moved as they are;
* uint8: RGB pixels with the ``mean``/``std`` to normalise them by (``output_dtype: uint8``: 4x fewer bytes
  from the DataLoader workers), normalised here after the transfer (:func:`model_input`);
* HQ: a dataset with ``degrade_on_device: true`` hands over uint8 HQ faces plus the Eq. 10 parameters and
  noise seeds (``deg_seed``), and the degradation itself runs here, batched
  (``panini_arch/data/degradation_torch.py``, :func:`degrade_on_device`).

:func:`panini_pair` (``PaniniModel``: ``lq``, ``gt``) and :func:`udrl_pair` (``UDRLModel``: ``query``,
``key``) are the whole hand-over of each model's ``feed_data``; :func:`log_hand_over` says at start-up when
the degradation runs on the model's device.
"""
import torch
from basicsr.utils import get_root_logger

from ..data.degradation_torch import degrade_batch


def normalise_uint8(images, mean, std):
    """uint8 (B, 3, H, W) -> float32 ``(x / 255 - mean) / std``, as the datasets' float output.

    Args:
        images (Tensor): uint8 RGB pixels.
        mean, std (Tensor): (B, 3) or (3,) float per channel, on ``images``' device.

    Returns:
        Tensor: float32 (B, 3, H, W), equal to the datasets' float32 tensors to float rounding (the top
        value is clamped to ``(1 - mean) / std`` there too).
    """
    mean = mean.float().reshape(-1, 3, 1, 1)
    std = std.float().reshape(-1, 3, 1, 1)
    out = images.float() * (1 / (255 * std)) - mean / std
    return torch.minimum(out, (1 - mean) / std)


def model_input(data, key, device, memory_format=torch.preserve_format):
    """``data[key]`` as normalised float32 on ``device``; uint8 tensors are normalised by ``data['mean']``,
    ``data['std']`` after the transfer (float32 ones are moved as they are)."""
    images = data[key].to(device)
    if images.dtype == torch.uint8:
        images = normalise_uint8(images, data['mean'].to(device), data['std'].to(device))
    return images.contiguous(memory_format=memory_format)


def degrade_on_device(data, hq, params, seeds, device):
    """Eq. 10 on ``device`` for a batch of uint8 HQ faces, normalised like the datasets' ``lq``.

    Args:
        data (dict): the batch, for ``lq_size``, ``blur_kernel_size``, ``mean``, ``std`` (first row: one
            dataset, one setting).
        hq (Tensor): uint8 (N, 3, gt, gt) RGB faces.
        params (Tensor): (N, 4) r, sigma, delta, q.
        seeds (Tensor): (N,) int64 noise seeds.
        device (torch.device): where the chain runs.

    Returns:
        Tensor: float32 (N, 3, lq_size, lq_size) on ``device``; row ``n`` depends only on ``hq[n]``,
        ``params[n]`` and ``seeds[n]``.
    """
    lq = degrade_batch(hq.to(device), params, int(data['lq_size'][0]), seeds, int(data['blur_kernel_size'][0]))
    pixels = torch.round(lq * 255).to(torch.uint8)
    return normalise_uint8(pixels, data['mean'][0].to(device), data['std'][0].to(device))


def degrades_here(data):
    """True when ``data`` holds HQ faces and noise seeds (a ``degrade_on_device`` dataset) to degrade here."""
    return 'deg_seed' in data


def panini_pair(data, device, memory_format=torch.preserve_format):
    """``(lq, gt)`` of a restoration batch as normalised float32 on ``device`` (``gt`` None when absent).

    ``lq`` (B, 3, in, in) in ``memory_format``, made here from ``gt`` (B, 3, gt, gt) when the batch holds
    HQ faces; both in the datasets' normalised range ([-1, 1] with mean = std = 0.5).
    """
    gt = model_input(data, 'gt', device) if 'gt' in data else None
    if degrades_here(data):
        lq = degrade_on_device(data, data['gt'], data['deg_params'], data['deg_seed'][:, 0], device)
        return lq.contiguous(memory_format=memory_format), gt
    return model_input(data, 'lq', device, memory_format), gt


def udrl_pair(data, device):
    """``(query, key)`` of a UDRL batch as normalised float32 (B, 3, H, W) on ``device``.

    From HQ faces (``query_hq``, ``key_hq``), both are degraded here with the pair's shared parameters and
    their own noise seeds (``deg_seed`` (B, 2)).
    """
    if degrades_here(data):
        hq = torch.cat([data['query_hq'], data['key_hq']])
        seeds = torch.cat([data['deg_seed'][:, 0], data['deg_seed'][:, 1]])
        return degrade_on_device(data, hq, data['deg_params'].repeat(2, 1), seeds, device).chunk(2)
    return model_input(data, 'query', device), model_input(data, 'key', device)


def log_hand_over(opt, device):
    """Log, for a model being built, when its train dataset hands over HQ faces to degrade on ``device``."""
    if ((opt.get('datasets') or {}).get('train') or {}).get('degrade_on_device'):
        get_root_logger().info(f'datasets.train.degrade_on_device: Eq. 10 runs in feed_data on {device}.')
