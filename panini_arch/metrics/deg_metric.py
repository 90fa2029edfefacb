"""Deg: the identity angle of GFPGAN's, VQFR's and CodeFormer's tables (degrees, lower is better).

Each restored face and its GT go through the ResNet-18 ArcFace of GFPGAN and VQFR
(:class:`.arcface_resnet.ResNetArcFace`): grayscale as OpenCV reads a file with flag 0
(``cv2.COLOR_BGR2GRAY`` of the 8-bit BGR image), resized to 128x128 (bilinear), scaled to
[-1, 1]. The angle of a pair is the arccos of the cosine of the two 512-d embeddings, in
degrees. As the published script does, pairs under 1 degree count as identical and are
left out of the mean; their number is reported in ``details``.
"""
import cv2
import numpy as np
import torch
import torch.nn.functional as F

from basicsr.utils.registry import METRIC_REGISTRY
from .arcface_resnet import ResNetArcFace
from .metric_common import (MetricNotComputed, SetMetric, load_metric_weights, metric_device, require_weights,
                            to_uint8)

DEG_SOURCE = ("Get GFPGAN's arcface_resnet18.pth (github.com/TencentARC/GFPGAN/releases/download/v0.1.0/"
              "arcface_resnet18.pth) or VQFR's resnet18_110.pth (the same network saved from DataParallel) and "
              "pass its path.")
DEG_SIZE = 128
IDENTICAL_DEGREES = 1.0


def deg_input(img, input_order='HWC'):
    """BasicSR metric image (BGR, [0, 255]) -> (128, 128) float32 grayscale in [-1, 1]."""
    img = to_uint8(img, input_order)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 and img.shape[2] == 3 else img.reshape(img.shape[:2])
    gray = cv2.resize(gray, (DEG_SIZE, DEG_SIZE), interpolation=cv2.INTER_LINEAR)
    return (gray.astype(np.float32) - 127.5) / 127.5


def angles_degrees(embeddings, embeddings2):
    """Angle in degrees between rows of two (N, 512) embedding tensors (float64 numpy, in [0, 180])."""
    cosine = F.cosine_similarity(embeddings.double(), embeddings2.double(), dim=1)
    return np.degrees(np.arccos(cosine.clamp(-1, 1).cpu().numpy()))


@METRIC_REGISTRY.register()
class calculate_deg(SetMetric):  # noqa: N801  (the type name users write in val.metrics, like BasicSR's functions)
    """Identity angle (degrees) between restored faces and their GT, a set metric.

    Args:
        arcface_path (str): GFPGAN's ``arcface_resnet18.pth`` or VQFR's ``resnet18_110.pth``.
        device (str): 'auto' (CUDA when available), 'cpu' or 'cuda'.
    """

    def __init__(self, arcface_path=None, device='auto'):
        path = require_weights(arcface_path, 'Deg', 'arcface_path', DEG_SOURCE)
        self.device = metric_device(device)
        net = load_metric_weights(ResNetArcFace(), path, None, 'Deg', 'arcface_path', DEG_SOURCE)
        self.net = net.eval().to(self.device)
        self.angles = []
        self.details = {}

    @torch.no_grad()
    def update_batch(self, imgs, imgs2, input_order='HWC'):
        """Add restored faces and their GTs (lists of BGR [0, 255] images, any sizes)."""
        faces = np.stack([deg_input(img, input_order) for img in list(imgs) + list(imgs2)])
        embeddings = self.net(torch.from_numpy(faces).unsqueeze(1).to(self.device))
        self.angles.extend(angles_degrees(embeddings[:len(imgs)], embeddings[len(imgs):]))

    def compute(self):
        """Mean angle over the pairs of at least 1 degree; ``details`` counts the identical ones."""
        angles = np.asarray(self.angles, dtype=np.float64)
        identical = int((angles < IDENTICAL_DEGREES).sum())
        self.details = {'num_images': len(angles), 'identical_pairs': identical}
        if len(angles) == identical:
            raise MetricNotComputed(f'Deg not computed: all {len(angles)} pairs are under {IDENTICAL_DEGREES} degree '
                                    '(identical), which the published definition leaves out of the mean')
        return float(angles[angles >= IDENTICAL_DEGREES].mean())
