"""GPEN's blind-face-restoration generator (``FullGenerator`` of GPEN-BFR-512), re-implemented.

GPEN (Yang et al., CVPR 2021) encodes the degraded face with a plain strided CNN.
Its 4x4 feature gives one code that the 8-layer mapping MLP turns into the style
of every layer of a StyleGAN2 generator, and every encoder feature map is
*concatenated* to the generator feature of the same resolution where StyleGAN2
would add random noise, so each styled conv emits 2C channels. Module and
parameter names (FIR kernels included, they are buffers in the published file)
follow the published definition so that ``GPEN-BFR-512.pth`` loads with
``strict=True``. Built on the CPU-safe ops of ``panini_arch.ops``.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import ARCH_REGISTRY

from panini_arch.ops import fused_leaky_relu, upfirdn2d
from ..utils.weights import load_weights

BLUR_TAPS = (1, 3, 3, 1)
GPEN_SOURCE_HINT = 'Get GPEN-BFR-512.pth from the GPEN project (github.com/yangxy/GPEN, "weights" links).'


def gpen_channels(channel_multiplier=2, narrow=1):
    """Channels per resolution (4 ... 1024) of GPEN's encoder and generator, as a dict."""
    widths = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier, 128: 128 * channel_multiplier,
              256: 64 * channel_multiplier, 512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}
    return {res: int(width * narrow) for res, width in widths.items()}


class FirFilter(nn.Module):
    """StyleGAN2's [1, 3, 3, 1] x [1, 3, 3, 1] FIR filter run through ``upfirdn2d``.

    The (4, 4) ``kernel`` buffer sums to ``gain`` (``up ** 2`` after zero
    insertion keeps the mean). (B, C, H, W) -> (B, C, (H*up + pad0 + pad1 - 4) // down + 1, ...).
    """

    def __init__(self, pad, up=1, down=1, gain=1.0):
        super().__init__()
        taps = torch.tensor(BLUR_TAPS, dtype=torch.float32)
        kernel = taps[None, :] * taps[:, None]
        self.register_buffer('kernel', kernel / kernel.sum() * gain)
        self.pad, self.up, self.down = tuple(pad), up, down

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.up, down=self.down, pad=self.pad)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate, optionally followed by the scaled leaky ReLU.

    (B, in_dim) -> (B, out_dim). ``lr_mul`` scales the effective learning rate
    (0.01 in the mapping MLP); ``bias_init`` is 1 for the modulation layers.
    """

    def __init__(self, in_dim, out_dim, bias_init=0.0, lr_mul=1.0, activate=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim, ), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x):
        out = F.linear(x, self.weight * self.scale)
        if self.activate:
            return fused_leaky_relu(out, self.bias * self.lr_mul)
        return out + self.bias * self.lr_mul


class EqualConv2d(nn.Module):
    """Bias-free conv with equalised learning rate: (B, in, H, W) -> (B, out, H', W')."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, stride=self.stride, padding=self.padding)


class FusedLeakyReLU(nn.Module):
    """Per-channel bias, leaky ReLU(0.2), gain sqrt(2); shape-preserving on (B, C, ...)."""

    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


def encoder_layer(in_channels, out_channels, kernel_size, downsample=False):
    """GPEN's ``ConvLayer``: [blur,] conv (stride 2 when down-sampling), bias + leaky ReLU.

    A Sequential so that parameters are named ``0.kernel``/``1.weight``/``2.bias``
    (or ``0.weight``/``1.bias`` without down-sampling) as in the published file.
    """
    if downsample:
        spread = len(BLUR_TAPS) - 2 + kernel_size - 1
        return nn.Sequential(
            FirFilter(pad=((spread + 1) // 2, spread // 2)), EqualConv2d(in_channels, out_channels, kernel_size, 2),
            FusedLeakyReLU(out_channels))
    return nn.Sequential(
        EqualConv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2), FusedLeakyReLU(out_channels))


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated conv: (B, in, H, W), style (B, style_dim) -> (B, out, H, W) or 2x up-sampled.

    Up-sampling is a stride-2 transposed conv followed by the FIR blur, as in StyleGAN2.
    """

    def __init__(self, in_channels, out_channels, kernel_size, style_dim, demodulate=True, upsample=False):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.demodulate, self.upsample = demodulate, upsample
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1)
        if upsample:
            spread = len(BLUR_TAPS) - 2 - (kernel_size - 1)
            self.blur = FirFilter(pad=((spread + 1) // 2 + 1, spread // 2 + 1), gain=4)

    def forward(self, x, style):
        batch, _, height, width = x.shape
        k = self.kernel_size
        weight = self.scale * self.weight * self.modulation(style).view(batch, 1, self.in_channels, 1, 1)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, self.out_channels, 1, 1, 1)
        x = x.reshape(1, batch * self.in_channels, height, width)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * self.in_channels, self.out_channels, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=batch)
            return self.blur(out.reshape(batch, self.out_channels, *out.shape[-2:]))
        weight = weight.reshape(batch * self.out_channels, self.in_channels, k, k)
        out = F.conv2d(x, weight, padding=k // 2, groups=batch)
        return out.reshape(batch, self.out_channels, *out.shape[-2:])


class NoiseInjection(nn.Module):
    """GPEN's noise input: concatenates ``weight * feature`` -> (B, C + C_feature, H, W)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, feature):
        return torch.cat([x, self.weight * feature], 1)


class StyledConv(nn.Module):
    """Modulated 3x3 conv, encoder-feature concatenation, bias + leaky ReLU: -> (B, 2 * out, H, W)."""

    def __init__(self, in_channels, out_channels, style_dim, upsample=False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(2 * out_channels)

    def forward(self, x, style, feature):
        return self.activate(self.noise(self.conv(x, style), feature))


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (no demodulation) plus the up-sampled RGB skip: -> (B, 3, H, W)."""

    def __init__(self, in_channels, style_dim, upsample=True):
        super().__init__()
        if upsample:
            self.upsample = FirFilter(pad=(2, 1), up=2, gain=4)
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class PixelNorm(nn.Module):
    """Normalise each vector of (B, C) to unit root mean square."""

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class ConstantInput(nn.Module):
    """The learned (1, C, 4, 4) start of the generator, repeated over the batch."""

    def __init__(self, channels):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))

    def forward(self, batch):
        return self.input.expand(batch, -1, -1, -1)


class GPENGenerator(nn.Module):
    """GPEN's StyleGAN2 generator whose noise inputs are encoder features (concatenated).

    ``forward(code, features)``: ``code`` (B, style_dim) goes through the mapping
    MLP (PixelNorm + ``n_mlp`` EqualLinear, lr_mul 0.01) to one style used by
    every layer; ``features[i]`` is (B, channels[4 * 2**i], 4 * 2**i, 4 * 2**i)
    for resolutions 4 ... size (the 4x4 one feeds ``conv1``, each later one
    both convs of its resolution). Returns RGB (B, 3, size, size).
    """

    def __init__(self, size, style_dim, n_mlp, channels, lr_mlp=0.01):
        super().__init__()
        self.style = nn.Sequential(
            PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activate=True) for _ in range(n_mlp)])
        self.input = ConstantInput(channels[4])
        self.conv1 = StyledConv(channels[4], channels[4], style_dim)
        self.to_rgb1 = ToRGB(2 * channels[4], style_dim, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_channels = channels[4]
        for log_res in range(3, int(math.log2(size)) + 1):
            out_channels = channels[2**log_res]
            self.convs.append(StyledConv(2 * in_channels, out_channels, style_dim, upsample=True))
            self.convs.append(StyledConv(2 * out_channels, out_channels, style_dim))
            self.to_rgbs.append(ToRGB(2 * out_channels, style_dim))
            in_channels = out_channels

    def forward(self, code, features):
        style = self.style(code)
        out = self.conv1(self.input(code.shape[0]), style, features[0])
        skip = self.to_rgb1(out, style)
        for up_conv, conv, to_rgb, feature in zip(self.convs[::2], self.convs[1::2], self.to_rgbs, features[1:]):
            out = conv(up_conv(out, style, feature), style, feature)
            skip = to_rgb(out, style, skip)
        return skip


@ARCH_REGISTRY.register()
class GPEN(nn.Module):
    """GPEN-BFR generator (``FullGenerator``), a peer baseline for Panini-Net.

    Input: (B, 3, size, size) RGB face in [-1, 1] (GPEN normalises x/255 with
    mean 0.5, std 0.5); the size is fixed because the 4x4 encoder feature is
    flattened into a linear layer. Output: (B, 3, size, size) RGB in the same
    [-1, 1] convention (not clamped; GPEN clamps when converting to an image).
    GPEN-BFR-512 is ``size=512, style_dim=512, n_mlp=8, channel_multiplier=2,
    narrow=1`` (about 71 M parameters); smaller ``size`` and ``narrow`` give
    cheap test builds.

    Encoder: ``ecd0`` (1x1 conv at ``size``) and ``ecd1`` ... (3x3 stride-2 convs
    down to 4x4); ``final_linear`` maps the flattened 4x4 feature to the code.
    Each encoder feature is the generator's noise input at its resolution.

    Args:
        size (int): input and output resolution, a power of two in [8, 1024].
        style_dim (int): code and style size.
        n_mlp (int): layers of the mapping MLP.
        channel_multiplier (int): widens resolutions >= 64.
        narrow (float): scales every channel count.
        model_path (str | None): GPEN weights to load strictly (e.g. GPEN-BFR-512.pth).
        param_key (str | None): entry of the checkpoint holding the state dict;
            None for GPEN's own files, which are bare state dicts.
    """

    def __init__(self, size=512, style_dim=512, n_mlp=8, channel_multiplier=2, narrow=1, model_path=None,
                 param_key=None):
        super().__init__()
        if size < 8 or size > 1024 or size & (size - 1):
            raise ValueError(f'GPEN size must be a power of two in [8, 1024], got {size}')
        self.size = size
        channels = gpen_channels(channel_multiplier, narrow)
        self.generator = GPENGenerator(size, style_dim, n_mlp, channels)
        self.ecd0 = nn.Sequential(encoder_layer(3, channels[size], 1))
        self.num_encoder_layers = int(math.log2(size)) - 1
        for i in range(1, self.num_encoder_layers):
            res = size >> i
            self.add_module(f'ecd{i}', nn.Sequential(encoder_layer(channels[2 * res], channels[res], 3, True)))
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 16, style_dim, activate=True))
        if model_path is not None:
            load_weights(self, model_path, param_key, 'GPEN generator', GPEN_SOURCE_HINT)

    def forward(self, x):
        """(B, 3, size, size) in [-1, 1] -> restored (B, 3, size, size) in [-1, 1]."""
        if x.ndim != 4 or x.shape[1:] != (3, self.size, self.size):
            raise ValueError(f'GPEN expects input (B, 3, {self.size}, {self.size}), got {tuple(x.shape)}')
        if not x.is_floating_point():
            raise ValueError(f'GPEN expects a floating-point input in [-1, 1], got {x.dtype}')
        features = []
        for i in range(self.num_encoder_layers):
            x = getattr(self, f'ecd{i}')(x)
            features.append(x)
        code = self.final_linear(x.flatten(1))
        return self.generator(code, features[::-1])
