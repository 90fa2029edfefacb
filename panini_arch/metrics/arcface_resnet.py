"""The ResNet-18 ArcFace of GFPGAN and VQFR (``ResNetArcFace``), used by the Deg metric.

Same module names as GFPGAN's ``gfpgan/archs/arcface_arch.py`` with ``block='IRBlock'``,
``layers=[2, 2, 2, 2]``, ``use_se=False``, so its published state dicts load strictly:
GFPGAN's ``arcface_resnet18.pth`` (bare state dict) and VQFR's ``resnet18_110.pth``
(the same weights saved from ``DataParallel``, keys prefixed ``module.``; the loader removes it).
Input: (B, 1, 128, 128) grayscale in [-1, 1]; output: (B, 512) embedding (not normalised).
"""
from torch import nn


def conv3x3(in_channels, out_channels, stride=1):
    """3x3 convolution, padding 1, no bias."""
    return nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)


class IRBlock(nn.Module):
    """BN-conv-BN-PReLU-conv(stride)-BN plus the shortcut, then the same (shared) PReLU; no SE."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv3x3(in_channels, in_channels)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.prelu = nn.PReLU()
        self.conv2 = conv3x3(in_channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                                            nn.BatchNorm2d(channels))

    def forward(self, x):
        out = self.prelu(self.bn1(self.conv1(self.bn0(x))))
        out = self.bn2(self.conv2(out))
        return self.prelu(out + (x if self.downsample is None else self.downsample(x)))


class ResNetArcFace(nn.Module):
    """ResNet-18 ArcFace (IRBlock, layers [2, 2, 2, 2], no SE): (B, 1, 128, 128) in [-1, 1] -> (B, 512)."""

    def __init__(self, layers=(2, 2, 2, 2)):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.prelu = nn.PReLU()
        self.maxpool = nn.MaxPool2d(2, 2)
        in_channels = 64
        for index, (channels, depth) in enumerate(zip((64, 128, 256, 512), layers), start=1):
            stride = 1 if index == 1 else 2
            blocks = [IRBlock(in_channels if i == 0 else channels, channels, stride if i == 0 else 1)
                      for i in range(depth)]
            setattr(self, f'layer{index}', nn.Sequential(*blocks))
            in_channels = channels
        self.bn4 = nn.BatchNorm2d(512)
        self.dropout = nn.Dropout()
        self.fc5 = nn.Linear(512 * 8 * 8, 512)
        self.bn5 = nn.BatchNorm1d(512)

    def forward(self, x):
        """(B, 1, 128, 128) grayscale in [-1, 1] -> (B, 512)."""
        x = self.maxpool(self.prelu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.bn5(self.fc5(self.dropout(self.bn4(x)).flatten(1)))
