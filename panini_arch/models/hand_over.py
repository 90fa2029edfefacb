"""What the models do with a batch before the networks see it, on the model's device.

The datasets hand over either normalised float32 images (BasicSR's habit), uint8 RGB pixels with the
``mean``/``std`` to normalise them by (``output_dtype: uint8``: 4x fewer bytes from the DataLoader
workers), or, with ``degrade_on_device``, uint8 HQ faces plus the Eq. 10 parameters and noise seeds, so
the degradation itself runs here, batched (``panini_arch/data/degradation_torch.py``). Used by
``PaniniModel`` and ``UDRLModel``.
"""
import torch

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


def degrades_here(data, on_device):
    """True when ``data`` holds HQ faces and noise seeds (a ``degrade_on_device`` dataset) to degrade here.

    Raises:
        ValueError: such a batch while ``train.degrade_on_device`` (``on_device``) is false.
    """
    if 'deg_seed' in data and not on_device:
        raise ValueError('The batch holds HQ faces to degrade (its dataset has degrade_on_device: true) but '
                         'train.degrade_on_device is false; set train.degrade_on_device: true (panini_arch/train.py '
                         'copies it into datasets.train).')
    return 'deg_seed' in data
