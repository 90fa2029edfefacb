"""The AWing FAN landmark network (4 hourglass modules, 98 WFLW points), used by the LMD metric.

Same module names as facexlib's ``facexlib/alignment/awing_arch.py`` ``FAN(num_modules=4,
num_landmarks=98)``, so facexlib's ``alignment_WFLW_4HG.pth`` (state dict under ``state_dict``)
loads strictly. Input: (B, 3, 256, 256) RGB in [0, 1]; output: the last module's heatmaps
(B, 99, 64, 64): 98 landmarks and the boundary map.
"""
import torch
import torch.nn.functional as F
from torch import nn


def coordinate_channels(x, boundary=None):
    """``x`` (B, C, H, W) with CoordConv channels appended: row and column coordinates in [-1, 1] and
    their radius (divided by its maximum); with ``boundary`` (B, 1, H, W) also both coordinates where
    the boundary map exceeds 0.05 (0 elsewhere)."""
    b, _, h, w = x.shape
    rows = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
    cols = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
    radius = torch.sqrt(rows ** 2 + cols ** 2)
    channels = [x, rows, cols, radius / radius.max()]
    if boundary is not None:
        inside = boundary.clamp(0, 1) > 0.05
        zero = torch.zeros_like(rows)
        channels += [torch.where(inside, rows, zero), torch.where(inside, cols, zero)]
    return torch.cat(channels, 1)


class CoordConv(nn.Module):
    """Convolution of the input with its coordinate channels (:func:`coordinate_channels`)."""

    def __init__(self, in_channels, out_channels, boundary, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels + 3 + (2 if boundary else 0), out_channels, **conv_kwargs)

    def forward(self, x, boundary=None):
        return self.conv(coordinate_channels(x, boundary))


class ConvBlock(nn.Module):
    """Three pre-activated 3x3 convs of out/2, out/4, out/4 channels, concatenated, plus the shortcut."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        half, quarter = out_channels // 2, out_channels // 4
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, half, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv2 = nn.Conv2d(half, quarter, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(quarter)
        self.conv3 = nn.Conv2d(quarter, quarter, 3, 1, 1, bias=False)
        self.downsample = None
        if in_channels != out_channels:
            self.downsample = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                                            nn.Conv2d(in_channels, out_channels, 1, bias=False))

    def forward(self, x):
        out1 = self.conv1(F.relu(self.bn1(x)))
        out2 = self.conv2(F.relu(self.bn2(out1)))
        out3 = self.conv3(F.relu(self.bn3(out2)))
        return torch.cat((out1, out2, out3), 1) + (x if self.downsample is None else self.downsample(x))


class HourGlass(nn.Module):
    """CoordConv then a 4-level hourglass of 256-channel :class:`ConvBlock` s at 64x64."""

    def __init__(self, depth=4, boundary=False):
        super().__init__()
        self.depth = depth
        self.coordconv = CoordConv(256, 256, boundary, kernel_size=1)
        for level in range(depth, 0, -1):
            self.add_module(f'b1_{level}', ConvBlock(256, 256))
            self.add_module(f'b2_{level}', ConvBlock(256, 256))
            self.add_module(f'b3_{level}', ConvBlock(256, 256))
        self.add_module('b2_plus_1', ConvBlock(256, 256))

    def level(self, level, x):
        lower = self._modules[f'b2_{level}'](F.avg_pool2d(x, 2, stride=2))
        lower = self.level(level - 1, lower) if level > 1 else self._modules['b2_plus_1'](lower)
        lower = F.interpolate(self._modules[f'b3_{level}'](lower), scale_factor=2, mode='nearest')
        return self._modules[f'b1_{level}'](x) + lower

    def forward(self, x, boundary=None):
        return self.level(self.depth, self.coordconv(x, boundary))


class FAN(nn.Module):
    """AWing FAN: (B, 3, 256, 256) RGB in [0, 1] -> last heatmaps (B, num_landmarks + 1, 64, 64)."""

    def __init__(self, num_modules=4, num_landmarks=98):
        super().__init__()
        self.num_modules = num_modules
        self.conv1 = CoordConv(3, 64, False, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, 128)
        self.conv3 = ConvBlock(128, 128)
        self.conv4 = ConvBlock(128, 256)
        for i in range(num_modules):
            self.add_module(f'm{i}', HourGlass(4, boundary=i > 0))
            self.add_module(f'top_m_{i}', ConvBlock(256, 256))
            self.add_module(f'conv_last{i}', nn.Conv2d(256, 256, 1))
            self.add_module(f'bn_end{i}', nn.BatchNorm2d(256))
            self.add_module(f'l{i}', nn.Conv2d(256, num_landmarks + 1, 1))
            if i < num_modules - 1:
                self.add_module(f'bl{i}', nn.Conv2d(256, 256, 1))
                self.add_module(f'al{i}', nn.Conv2d(num_landmarks + 1, 256, 1))

    def forward(self, x):
        x = F.avg_pool2d(self.conv2(F.relu(self.bn1(self.conv1(x)))), 2, stride=2)
        previous = self.conv4(self.conv3(x))
        heatmaps = None
        for i in range(self.num_modules):
            features = self._modules[f'm{i}'](previous, None if heatmaps is None else heatmaps[:, -1:])
            features = self._modules[f'top_m_{i}'](features)
            features = F.relu(self._modules[f'bn_end{i}'](self._modules[f'conv_last{i}'](features)))
            heatmaps = self._modules[f'l{i}'](features)
            if i < self.num_modules - 1:
                previous = previous + self._modules[f'bl{i}'](features) + self._modules[f'al{i}'](heatmaps)
        return heatmaps
