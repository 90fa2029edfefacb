"""Identity similarity (cosine of ArcFace embeddings) between a restored face and its GT.

Faces are the aligned FFHQ/CelebA-HQ crops of the test set; the whole image
is resized to 112x112 (bicubic, antialiased) before the embedding, as
face-restoration papers do for aligned crops. Higher is better; 1 = same embedding.
"""
import functools

import torch
import torch.nn.functional as F

from basicsr.utils.registry import METRIC_REGISTRY
from .arcface_iresnet import IResNet
from .metric_common import image_to_tensor, load_metric_weights, metric_device, require_weights

ARCFACE_SOURCE = ('Get an insightface arcface_torch IResNet backbone.pth (e.g. ms1mv3_arcface_r100_fp16, '
                  'github.com/deepinsight/insightface/tree/master/model_zoo) and pass its path with the '
                  'matching `arch`.')
ARCFACE_SIZE = 112


@functools.lru_cache(maxsize=2)
def build_arcface(arcface_path=None, arch='iresnet100', device='auto'):
    """IResNet ArcFace in eval mode on :func:`metric_device` (``device``), weights from a local arcface_torch file.

    Raises:
        MetricWeightsError: ``arcface_path`` missing.
    """
    path = require_weights(arcface_path, 'Identity (ArcFace)', 'arcface_path', ARCFACE_SOURCE)
    device = metric_device(device)
    net = IResNet(arch)
    load_metric_weights(net, path, None, 'Identity (ArcFace)', 'arcface_path', ARCFACE_SOURCE)
    return net.eval().to(device)


def identity_similarity(net, img, img2, input_order='HWC', crop_border=0):
    """Cosine similarity in [-1, 1] of the embeddings of two BGR [0, 255] face images."""
    return identity_similarities(net, [img], [img2], input_order, crop_border)[0]


@torch.no_grad()
def identity_similarities(net, imgs, imgs2, input_order='HWC', crop_border=0):
    """:func:`identity_similarity` of each pair of two lists of face images, in one batch (list of floats)."""
    device = next(net.parameters()).device
    faces = torch.cat([
        F.interpolate(image_to_tensor(img, input_order, crop_border, device), size=(ARCFACE_SIZE, ARCFACE_SIZE),
                      mode='bicubic', align_corners=False, antialias=True) for img in list(imgs) + list(imgs2)])
    embedding = net(faces * 2 - 1)
    return F.cosine_similarity(embedding[:len(imgs)], embedding[len(imgs):]).tolist()


@METRIC_REGISTRY.register()
def calculate_identity(img, img2, crop_border=0, input_order='HWC', arcface_path=None, arch='iresnet100',
                       device='auto', **kwargs):
    """ArcFace identity similarity of a restored face to its GT (higher is better).

    Args:
        img, img2 (ndarray): BGR face images in [0, 255].
        arcface_path (str): insightface arcface_torch ``backbone.pth``.
        arch (str): 'iresnet18' | 'iresnet34' | 'iresnet50' | 'iresnet100', matching the file.
        device (str): 'auto' (CUDA when available), 'cpu' or 'cuda'.
    """
    return calculate_identity.batched([img], [img2], crop_border, input_order, arcface_path, arch, device)[0]


def calculate_identity_batch(imgs, imgs2, crop_border=0, input_order='HWC', arcface_path=None, arch='iresnet100',
                             device='auto', **kwargs):
    """:func:`calculate_identity` of each pair of two lists, batched (what :class:`MetricRunner` calls)."""
    return identity_similarities(build_arcface(arcface_path, arch, device), imgs, imgs2, input_order, crop_border)


calculate_identity.batched = calculate_identity_batch
