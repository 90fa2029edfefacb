"""LMD: the landmark distance of GFPGAN's, VQFR's and CodeFormer's tables (pixels, lower is better).

98 WFLW landmarks of the AWing FAN (:class:`.awing_fan.FAN`, facexlib's
``alignment_WFLW_4HG.pth``) on the restored and on the GT face, decoded as facexlib's
``FAN.get_landmarks`` does (:func:`decode_landmarks`); LMD of a pair is the mean over the 98
points of the L2 distance, and the metric is the mean over pairs.
"""
import cv2
import numpy as np
import torch

from basicsr.utils.registry import METRIC_REGISTRY
from .awing_fan import FAN
from .metric_common import (MetricNotComputed, SetMetric, load_metric_weights, metric_device, require_weights,
                            to_uint8)

LMD_SOURCE = ("Get facexlib's alignment_WFLW_4HG.pth (github.com/xinntao/facexlib/releases/download/v0.1.0/"
              "alignment_WFLW_4HG.pth) and pass its path.")
FAN_SIZE = 256


def fan_input(img, input_order='HWC'):
    """BasicSR metric image (BGR, [0, 255]) -> (3, 256, 256) float32 RGB in [0, 1] (bilinear ``cv2.resize``)."""
    img = cv2.resize(to_uint8(img, input_order), (FAN_SIZE, FAN_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1)).astype(np.float32) / 255.


def decode_landmarks(heatmaps, width, height):
    """Landmarks of (B, N, h, w) heatmaps, in pixels of a ``width`` x ``height`` image.

    The argmax of each heatmap, a quarter-pixel step towards the larger neighbour in x and in y
    (no step when they are equal), plus 0.5, scaled by ``width / w`` and ``height / h``. A
    landmark on the border uses itself as its missing neighbour.

    Returns:
        ndarray: (B, N, 2) float64 x, y.
    """
    b, n, h, w = heatmaps.shape
    y, x = np.divmod(heatmaps.reshape(b, n, h * w).argmax(2), w)
    batch, point = np.indices((b, n))

    def at(rows, cols):
        return heatmaps[batch, point, np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)]

    step_x = np.sign(at(y, x + 1) - at(y, x - 1)) * 0.25
    step_y = np.sign(at(y + 1, x) - at(y - 1, x)) * 0.25
    points = np.stack((x + step_x + 0.5, y + step_y + 0.5), axis=2).astype(np.float64)
    return points * np.array([width / w, height / h])


@METRIC_REGISTRY.register()
class calculate_lmd(SetMetric):  # noqa: N801  (the type name users write in val.metrics, like BasicSR's functions)
    """Mean landmark distance (pixels) between restored faces and their GT, a set metric.

    Args:
        fan_path (str): facexlib's ``alignment_WFLW_4HG.pth`` (weights under ``state_dict``).
        device (str): 'auto' (CUDA when available), 'cpu' or 'cuda'.
    """

    def __init__(self, fan_path=None, device='auto'):
        path = require_weights(fan_path, 'LMD', 'fan_path', LMD_SOURCE)
        self.device = metric_device(device)
        net = load_metric_weights(FAN(), path, 'state_dict', 'LMD', 'fan_path', LMD_SOURCE)
        self.net = net.eval().to(self.device)
        self.distances = []
        self.details = {}

    @torch.no_grad()
    def landmarks(self, imgs, input_order='HWC'):
        """(N, 98, 2) landmarks of a list of BGR [0, 255] images, in each image's pixels."""
        heatmaps = self.net(torch.from_numpy(np.stack([fan_input(img, input_order) for img in imgs])).to(self.device))
        heatmaps = heatmaps[:, :-1].float().cpu().numpy()
        sizes = [np.shape(img)[1::-1] if input_order == 'HWC' else np.shape(img)[:0:-1] for img in imgs]
        return np.stack([decode_landmarks(heatmap[None], *size)[0] for heatmap, size in zip(heatmaps, sizes)])

    def update_batch(self, imgs, imgs2, input_order='HWC'):
        """Add restored faces and their GTs (lists of BGR [0, 255] images, any sizes)."""
        points = self.landmarks(list(imgs) + list(imgs2), input_order)
        self.distances.extend(np.linalg.norm(points[:len(imgs)] - points[len(imgs):], axis=2).mean(1))

    def compute(self):
        """Mean over pairs of the mean landmark distance."""
        self.details = {'num_images': len(self.distances)}
        if not self.distances:
            raise MetricNotComputed('LMD not computed: no image pairs')
        return float(np.mean(self.distances))
