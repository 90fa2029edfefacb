"""LPIPS (Zhang et al. 2018) from local weights only.

The ``lpips`` package ships its learned linear heads but downloads the
AlexNet/VGG16 backbone; here the backbone comes from a local torchvision
checkpoint (``alexnet-owt-7be5be79.pth`` or ``vgg16-397923af.pth``, the files
torchvision itself downloads, keys ``features.*``/``classifier.*``).
"""
import functools

import numpy as np
import torch
from torchvision import models

from basicsr.utils.registry import METRIC_REGISTRY
from .metric_common import image_to_tensor, load_metric_weights, metric_device, require_weights, same_size_runs

BACKBONES = {
    'alex': (models.alexnet, 'alexnet-owt-7be5be79.pth'),
    'vgg': (models.vgg16, 'vgg16-397923af.pth'),
}
SOURCE = ('Get the torchvision ImageNet checkpoint {file} (download.pytorch.org/models/{file}, or copy it from '
          '~/.cache/torch/hub/checkpoints on a machine with internet) and pass its path.')


@functools.lru_cache(maxsize=2)
def build_lpips(net='alex', backbone_path=None, device='auto'):
    """LPIPS v0.1 with the package's linear heads and a local torchvision backbone.

    Args:
        net (str): 'alex' or 'vgg'.
        backbone_path (str): torchvision checkpoint of that backbone.
        device (str): 'auto' (CUDA when available), 'cpu' or 'cuda'.

    Returns:
        lpips.LPIPS in eval mode on :func:`metric_device`.

    Raises:
        MetricWeightsError: ``backbone_path`` missing.
    """
    if net not in BACKBONES:
        raise ValueError(f'LPIPS net must be one of {sorted(BACKBONES)}, got {net!r}')
    factory, file_name = BACKBONES[net]
    path = require_weights(backbone_path, f'LPIPS-{net}', 'backbone_path', SOURCE.format(file=file_name))
    device = metric_device(device)
    import lpips  # imported when an LPIPS model is built, not by `import panini_arch`
    backbone = factory()
    load_metric_weights(backbone, path, None, f'LPIPS-{net}', 'backbone_path', SOURCE.format(file=file_name))
    model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    for stage in model.net.children():
        for index, layer in stage.named_children():
            layer.load_state_dict(backbone.features[int(index)].state_dict())
    return model.eval().to(device)


def lpips_distance(model, img, img2, input_order='HWC', crop_border=0):
    """LPIPS distance between two BasicSR metric images (BGR, [0, 255]); 0 for identical images."""
    return lpips_distances(model, [img], [img2], input_order, crop_border)[0]


@torch.no_grad()
def lpips_distances(model, imgs, imgs2, input_order='HWC', crop_border=0):
    """LPIPS distance of each pair of two lists of BasicSR metric images, batched by size (list of floats)."""
    device = next(model.parameters()).device
    distances = []
    for run in same_size_runs(list(zip(imgs, imgs2)), lambda pair: (np.shape(pair[0]), np.shape(pair[1]))):
        x = torch.cat([image_to_tensor(img, input_order, crop_border, device) for img, _ in run])
        y = torch.cat([image_to_tensor(img2, input_order, crop_border, device) for _, img2 in run])
        distances.extend(model(x, y, normalize=True).flatten().tolist())
    return distances


@METRIC_REGISTRY.register()
def calculate_lpips(img, img2, crop_border=0, input_order='HWC', net='alex', backbone_path=None, device='auto',
                    **kwargs):
    """LPIPS between a restored image and its GT (lower is better).

    Args:
        img, img2 (ndarray): BGR images in [0, 255], same size.
        net (str): 'alex' (GFPGAN's and CodeFormer's column) or 'vgg' (VQFR's and PMRF's).
        backbone_path (str): local torchvision checkpoint of the backbone.
        device (str): 'auto' (CUDA when available), 'cpu' or 'cuda'.
    """
    return calculate_lpips.batched([img], [img2], crop_border, input_order, net, backbone_path, device)[0]


def calculate_lpips_batch(imgs, imgs2, crop_border=0, input_order='HWC', net='alex', backbone_path=None, device='auto',
                          **kwargs):
    """:func:`calculate_lpips` of each pair of two lists, batched (what :class:`MetricRunner` calls)."""
    return lpips_distances(build_lpips(net, backbone_path, device), imgs, imgs2, input_order, crop_border)


calculate_lpips.batched = calculate_lpips_batch
