"""Building blocks of Panini-Net: CBAM, the input feature extractor (IFE),
the latent code encoder (LCE) and the two fusion heads (DAFI, Cat-Conv)."""
import math

import torch
from torch import nn

from basicsr.archs.arch_util import make_layer
from basicsr.archs.rrdbnet_arch import RRDB


class CBAM(nn.Module):
    """The authors' CBAM: one 3x3 conv ``pre`` (with bias) applied before each of the two gates.

    ``y = pre(x)``; ``y = y * sigmoid(mlp(avgpool(y)) + mlp(maxpool(y)))`` (mlp = Linear C -> C/r,
    ReLU, Linear C/r -> C); ``z = pre(y)`` (the same weights again);
    ``out = z * sigmoid(BN(conv7x7([max_c z, mean_c z])))`` with a bias-free 7x7 conv and
    ``BatchNorm2d(1, eps=1e-5, momentum=0.01)``.

    Input and output: (B, C, H, W).
    """

    def __init__(self, channels, reduction=2, spatial_kernel=7):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.pre = nn.Conv2d(channels, channels, 3, 1, 1)
        self.channel_mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        self.spatial_conv = nn.Conv2d(2, 1, spatial_kernel, 1, spatial_kernel // 2, bias=False)
        self.spatial_bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def forward(self, x):
        y = self.pre(x)
        pooled = self.channel_mlp(y.mean(dim=(2, 3))) + self.channel_mlp(y.amax(dim=(2, 3)))
        z = self.pre(y * torch.sigmoid(pooled)[:, :, None, None])
        stats = torch.cat([z.amax(dim=1, keepdim=True), z.mean(dim=1, keepdim=True)], dim=1)
        return z * torch.sigmoid(self.spatial_bn(self.spatial_conv(stats)))


def conv_lrelu(in_channels, out_channels, stride):
    """3x3 conv + LeakyReLU(0.2)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.LeakyReLU(0.2, True))


class InputFeatureExtractor(nn.Module):
    """IFE: RRDB trunk + CBAM at the input size, stride-2 convs down to 64, then 4 more to 4.

    The widths between the trunk and the 64x64 feature are 32, 64, 128, ...
    (one per halving), as in Panini-FR (512 -> 32, 64, 128, C); an input of 64
    goes straight to C as in Panini-SR.

    Args:
        in_size (int): input side, a power of two >= 64.
        channels (int): width C of the features handed to the fusions (the
            generator's width at resolutions 4..64).
        rrdb_channels, num_rrdb, cbam_reduction: trunk sizes (FR 8/2/2, SR 64/23/8).

    Input: (B, 3, in_size, in_size). Output: list of 5 features (B, C, r, r),
    r = 64, 32, 16, 8, 4.
    """

    def __init__(self, in_size, channels, rrdb_channels=8, num_rrdb=2, cbam_reduction=2, growth_channels=32):
        super().__init__()
        num_down = int(math.log2(in_size // 64))
        widths = [32 * 2**k for k in range(num_down)] + [channels]
        self.conv_first = nn.Conv2d(3, rrdb_channels, 3, 1, 1)
        self.trunk = make_layer(RRDB, num_rrdb, num_feat=rrdb_channels, num_grow_ch=growth_channels)
        self.conv_body = nn.Conv2d(rrdb_channels, rrdb_channels, 3, 1, 1)
        self.cbam = CBAM(rrdb_channels, cbam_reduction)
        layers = [conv_lrelu(rrdb_channels, widths[0], 1)]
        layers += [conv_lrelu(c_in, c_out, 2) for c_in, c_out in zip(widths[:-1], widths[1:])]
        self.to_64 = nn.Sequential(*layers)
        self.downs = nn.ModuleList([conv_lrelu(channels, channels, 2) for _ in range(4)])

    def forward(self, x):
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.trunk(feat))
        feat = self.to_64(self.cbam(feat))
        feats = [feat]
        for down in self.downs:
            feats.append(down(feats[-1]))
        return feats


class LatentCodeEncoder(nn.Module):
    """LCE: conv C -> C/2 + LeakyReLU(0.2) on the 4x4 feature, flatten, linear to W+ codes.

    Input: (B, C, 4, 4). Output: (B, num_latent, num_style_feat).
    """

    def __init__(self, channels, num_latent, num_style_feat):
        super().__init__()
        self.num_latent = num_latent
        self.num_style_feat = num_style_feat
        self.conv = conv_lrelu(channels, channels // 2, 1)
        self.linear = nn.Linear(16 * (channels // 2), num_latent * num_style_feat)

    def forward(self, feat):
        codes = self.linear(self.conv(feat).flatten(1))
        return codes.view(-1, self.num_latent, self.num_style_feat)


class MaskGenerator(nn.Module):
    """DAFI mask MLP: v_DR (B, dr_dim) -> logits (B, num_fusions, 2, C).

    Index 0 of the pair axis is the GAN-prior logit, index 1 the IFE logit.
    """

    def __init__(self, channels, num_fusions=5, dr_dim=256):
        super().__init__()
        self.shape = (num_fusions, 2, channels)
        self.mlp = nn.Sequential(
            nn.Linear(dr_dim, dr_dim), nn.LeakyReLU(0.1, True), nn.Linear(dr_dim, num_fusions * 2 * channels))

    def forward(self, v_dr):
        return self.mlp(v_dr).view(-1, *self.shape)


class DAFIFusion(nn.Module):
    """F = F_GPB * mask + conv3x3(F_IFE) * (1 - mask), mask per channel in (0, 1).

    ``drop='gpb'`` keeps only the IFE term (Eq. 12, Y_IFE); ``drop='ife'`` keeps
    only the prior term (Eq. 13, Y_GPB).
    """

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, f_gpb, f_ife, mask, drop=None):
        mask = mask[:, :, None, None]
        if drop == 'ife':
            return f_gpb * mask
        ife_term = self.conv(f_ife) * (1 - mask)
        return ife_term if drop == 'gpb' else f_gpb * mask + ife_term


class CatConvFusion(nn.Module):
    """Table 3 ablation: F = conv3x3(concat(F_GPB, F_IFE)), 2C -> C channels.

    ``drop`` zeroes the named source before the concatenation.
    """

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, channels, 3, 1, 1)

    def forward(self, f_gpb, f_ife, mask=None, drop=None):
        if drop == 'gpb':
            f_gpb = torch.zeros_like(f_gpb)
        elif drop == 'ife':
            f_ife = torch.zeros_like(f_ife)
        return self.conv(torch.cat([f_gpb, f_ife], dim=1))
