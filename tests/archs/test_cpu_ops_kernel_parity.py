"""The CPU StyleGAN2 ops take every input BasicSR's CUDA kernels take and give the kernels' results.

References: BasicSR's own ``upfirdn2d_native`` (its formula, imported) and the flat-index bias rule of
its ``fused_bias_act`` kernel (``bias[(i // step) % bias.numel()]``, ``step`` the product of the sizes
after dim 1), written out below. GFPGAN v1's original architecture feeds a (B, N, C) latent through
StyleGAN2's mapping MLP (``different_w``), which the CPU op refused before.
"""
import itertools
import math

import pytest
import torch

import panini_arch  # noqa: F401  (rebinds BasicSR's ops)
from basicsr.ops.upfirdn2d.upfirdn2d import upfirdn2d_native
from gfpgan.archs.gfpganv1_arch import GFPGANv1
from panini_arch.ops.fused_act import fused_leaky_relu
from panini_arch.ops.upfirdn2d import upfirdn2d


def kernel_fused_leaky_relu(x, bias, negative_slope=0.2, scale=2**0.5):
    """BasicSR's ``fused_bias_act`` kernel (act 3, grad 0), element by element on the flat tensor."""
    flat = x.reshape(-1)
    step = math.prod(x.shape[2:])
    index = (torch.arange(flat.numel()) // step) % bias.numel()
    y = flat + bias.reshape(-1)[index]
    return (torch.where(y > 0, y, y * negative_slope) * scale).view(x.shape)


@pytest.mark.parametrize('shape,channels', [((2, 5, 3, 3), 5), ((2, 8, 32), 32), ((3, 7), 7), ((4, 6, 2), 3),
                                            ((2, 3, 4, 5, 2), 3)])
def test_fused_leaky_relu_matches_the_kernel_on_every_shape_it_takes(shape, channels):
    x = torch.randn(*shape, dtype=torch.float64)
    bias = torch.randn(channels, dtype=torch.float64)
    torch.testing.assert_close(fused_leaky_relu(x, bias), kernel_fused_leaky_relu(x, bias), rtol=0, atol=1e-12)


def test_fused_leaky_relu_half_input_with_float_bias_keeps_the_input_dtype():
    x = torch.randn(2, 4, 3, 3).half()
    bias = torch.randn(4)
    out = fused_leaky_relu(x, bias)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), kernel_fused_leaky_relu(x.float(), bias.half().float()), rtol=1e-2,
                               atol=1e-2)


def test_upfirdn2d_matches_basicsr_native_over_up_down_pads_and_kernels():
    generator = torch.Generator().manual_seed(0)
    for up, down, pad0, pad1, kh, kw in itertools.product((1, 2, 3), (1, 2), (-2, 0, 2), (-1, 0, 3), (1, 3, 4),
                                                          (2, 4)):
        x = torch.randn(2, 3, 9, 8, generator=generator, dtype=torch.float64)
        kernel = torch.randn(kh, kw, generator=generator, dtype=torch.float64)
        ref = upfirdn2d_native(x, kernel, up, up, down, down, pad0, pad1, pad0, pad1)
        for pad in ((pad0, pad1), [pad0, pad1], (pad0, pad1, pad0, pad1)):  # BasicSR reads pad[0], pad[1]
            out = upfirdn2d(x, kernel, up=up, down=down, pad=pad)
            torch.testing.assert_close(out, ref, rtol=0, atol=1e-12, msg=f'up={up} down={down} pad={pad} k={kh}x{kw}')


@pytest.mark.parametrize('options', [dict(different_w=True), dict(different_w=True, sft_half=True),
                                     dict(input_is_latent=True, different_w=True)])
def test_gfpgan_v1_original_architecture_runs_forward_on_cpu(options):
    torch.manual_seed(0)
    net = GFPGANv1(out_size=32, num_style_feat=32, channel_multiplier=1, decoder_load_path=None,
                   fix_decoder=False, num_mlp=2, narrow=0.25, **options).eval()
    with torch.no_grad():
        image, _ = net(torch.rand(2, 3, 32, 32), return_rgb=False)
    assert image.shape == (2, 3, 32, 32) and torch.isfinite(image).all()
