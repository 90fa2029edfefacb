"""IResNet ArcFace backbone in the layout of insightface's ``arcface_torch`` checkpoints.

Accepted weights: the ``backbone.pth`` state dicts published with
insightface's arcface_torch (e.g. ``ms1mv3_arcface_r100_fp16/backbone.pth``,
``glint360k_cosface_r100_fp16_0.1/backbone.pth``, ``ms1mv3_arcface_r50_fp16``),
which are plain state dicts (no wrapping key). Input: (B, 3, 112, 112) RGB in
[-1, 1]; output: (B, 512) embedding (not normalised).
"""
from torch import nn

DEPTHS = {'iresnet18': (2, 2, 2, 2), 'iresnet34': (3, 4, 6, 3), 'iresnet50': (3, 4, 14, 3),
          'iresnet100': (3, 13, 30, 3)}


class IResidualBlock(nn.Module):
    """BN-conv-BN-PReLU-conv(stride)-BN plus a (strided 1x1 conv + BN) shortcut."""

    def __init__(self, in_channels, channels, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, eps=1e-5)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels, eps=1e-5)
        self.prelu = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels, eps=1e-5)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels, eps=1e-5))

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """ArcFace IResNet; ``arch`` in :data:`DEPTHS`; 112x112 input -> 512-d embedding."""

    def __init__(self, arch='iresnet100', embedding_size=512):
        super().__init__()
        if arch not in DEPTHS:
            raise ValueError(f'IResNet arch must be one of {sorted(DEPTHS)}, got {arch!r}')
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        in_channels = 64
        for index, (channels, depth) in enumerate(zip((64, 128, 256, 512), DEPTHS[arch]), start=1):
            blocks = [IResidualBlock(in_channels if i == 0 else channels, channels, 2 if i == 0 else 1)
                      for i in range(depth)]
            setattr(self, f'layer{index}', nn.Sequential(*blocks))
            in_channels = channels
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(512 * 7 * 7, embedding_size)
        self.features = nn.BatchNorm1d(embedding_size, eps=1e-5)

    def forward(self, x):
        """(B, 3, 112, 112) RGB in [-1, 1] -> (B, 512)."""
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(self.bn2(x).flatten(1))
        return self.features(self.fc(x))
