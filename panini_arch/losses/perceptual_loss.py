"""Perceptual loss on VGG16 conv4_3 with weights from a local file (never downloaded)."""
import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models import vgg16
from torchvision.models.vgg import cfgs, make_layers

from basicsr.utils import get_root_logger
from basicsr.utils.registry import LOSS_REGISTRY

from ..utils.weights import load_weights

VGG16_SOURCE = ('Get the torchvision ImageNet VGG16 file vgg16-397923af.pth from '
                'https://download.pytorch.org/models/vgg16-397923af.pth and set perceptual_opt.vgg_path to it.')
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@LOSS_REGISTRY.register()
class VGG16PerceptualLoss(nn.Module):
    """MSE between frozen VGG16 features of the output and the target (Panini-Net: conv4_3).

    Args:
        vgg_path (str | None): torchvision's ``vgg16-397923af.pth`` (the whole
            ``vgg16()`` state dict, no wrapping key).
        allow_random_vgg (bool): with ``vgg_path: ~``, use random VGG weights
            (tests, demos; logged as a warning). Without it a missing path raises.
        layer_index (int): last layer of ``vgg16().features`` kept; 21 is the
            conv4_3 convolution, so its output is taken before the ReLU.
        loss_weight (float): multiplies the loss (paper: 1e-2).
        criterion (str): 'mse' (paper) or 'l1'.
        range_norm (bool): inputs are in [-1, 1] and are mapped to [0, 1] first.

    Input: ``pred``, ``target`` (B, 3, H, W). Output: a scalar tensor.
    """

    def __init__(self, vgg_path=None, allow_random_vgg=False, layer_index=21, loss_weight=1e-2, criterion='mse',
                 range_norm=True):
        super().__init__()
        if criterion not in ('mse', 'l1'):
            raise ValueError(f"perceptual_opt.criterion must be 'mse' or 'l1', got {criterion!r}")
        self.loss_weight = loss_weight
        self.criterion = F.mse_loss if criterion == 'mse' else F.l1_loss
        self.range_norm = range_norm
        self.features = build_vgg16_features(vgg_path, allow_random_vgg, layer_index)
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def extract(self, x):
        """ImageNet-normalise (B, 3, H, W) images and return their VGG features."""
        if self.range_norm:
            x = (x + 1) / 2
        return self.features((x - self.mean) / self.std)

    def forward(self, pred, target):
        with torch.no_grad():
            target_feat = self.extract(target.detach())
        return self.loss_weight * self.criterion(self.extract(pred), target_feat)


def build_vgg16_features(vgg_path, allow_random_vgg, layer_index):
    """Return ``vgg16().features[:layer_index + 1]``, frozen, from ``vgg_path`` or random weights.

    Raises:
        ValueError: no ``vgg_path`` and random weights not allowed.
        FileNotFoundError: ``vgg_path`` does not exist (message names the option and the source).
    """
    if vgg_path is None:
        if not allow_random_vgg:
            raise ValueError('perceptual_opt.vgg_path is not set. ' + VGG16_SOURCE +
                             ' (Random VGG weights are used only with allow_random_vgg: true, for tests.)')
        get_root_logger().warning('Perceptual loss uses a RANDOMLY initialised VGG16 (allow_random_vgg: true); '
                                  'fine for tests, meaningless for real training.')
        features = make_layers(cfgs['D'])  # vgg16().features without building the 120M-parameter classifier
        for layer in features:
            if isinstance(layer, nn.Conv2d):  # torchvision's VGG init, which keeps activations at scale
                nn.init.kaiming_normal_(layer.weight, mode='fan_out', nonlinearity='relu')
                nn.init.zeros_(layer.bias)
    else:
        net = vgg16(weights=None)
        load_weights(net, vgg_path, None, 'VGG16 (perceptual_opt.vgg_path)', VGG16_SOURCE)
        features = net.features
    features = features[:layer_index + 1]
    for param in features.parameters():
        param.requires_grad = False
    return features.eval()
