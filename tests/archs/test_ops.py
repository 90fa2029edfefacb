"""The BasicSR compatibility layer and the pure-PyTorch StyleGAN2 ops."""
import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import panini_arch  # noqa: F401  (installs the compat layer)
from basicsr.archs import stylegan2_arch
from basicsr.ops.upfirdn2d.upfirdn2d import upfirdn2d_native
from panini_arch.ops import fused_leaky_relu, upfirdn2d
from panini_arch.ops.fused_act import fused_leaky_relu as torch_fused_leaky_relu
from panini_arch.ops.upfirdn2d import upfirdn2d as torch_upfirdn2d


def test_basicsr_imports_in_a_fresh_interpreter_after_panini_arch():
    code = ('import panini_arch, basicsr, torchvision.transforms.functional_tensor as ft;'
            'from basicsr.data.degradations import rgb_to_grayscale; print(ft.__name__)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'torchvision.transforms._functional_tensor'


def test_basicsr_stylegan2_modules_call_the_patched_ops():
    assert stylegan2_arch.fused_leaky_relu is fused_leaky_relu
    assert stylegan2_arch.upfirdn2d is upfirdn2d


def reference_fused_leaky_relu(x, bias, slope, scale):
    shifted = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    return torch.where(shifted >= 0, shifted, shifted * slope) * scale


@pytest.mark.parametrize('shape', [(2, 5), (2, 5, 4, 3)])
def test_fused_leaky_relu_matches_formula(shape):
    x = torch.randn(*shape)
    bias = torch.randn(shape[1])
    expected = reference_fused_leaky_relu(x, bias, 0.2, math.sqrt(2))
    torch.testing.assert_close(fused_leaky_relu(x, bias), expected, atol=1e-5, rtol=0)


def test_fused_leaky_relu_gradcheck():
    x = torch.randn(2, 3, 4, 4, dtype=torch.double, requires_grad=True)
    bias = torch.randn(3, dtype=torch.double, requires_grad=True)
    x.data[x.data.abs() < 1e-2] += 0.1  # keep away from the kink where the derivative is undefined
    assert torch.autograd.gradcheck(lambda a, b: torch_fused_leaky_relu(a, b, 0.2, 1.4), (x, bias))


def direct_upfirdn2d(x, kernel, up, down, pad0, pad1):
    """Textbook definition: zero-insert, pad, correlate with the flipped kernel, decimate."""
    b, c, h, w = x.shape
    up_x = torch.zeros(b, c, h * up, w * up, dtype=x.dtype)
    up_x[:, :, ::up, ::up] = x
    padded = F.pad(up_x, [pad0, pad1, pad0, pad1])
    weight = torch.flip(kernel, [0, 1]).expand(c, 1, *kernel.shape)
    return F.conv2d(padded, weight, groups=c)[:, :, ::down, ::down]


CASES = [(1, 1, (1, 1)), (2, 1, (2, 1)), (1, 2, (1, 1)), (2, 1, (1, 1)), (1, 2, (2, 2)), (1, 1, (2, 1))]


@pytest.mark.parametrize('up,down,pad', CASES)
def test_upfirdn2d_matches_basicsr_native_and_direct_definition(up, down, pad):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    k1 = torch.tensor([1., 3., 3., 1.])
    kernel = k1[None, :] * k1[:, None]
    kernel = kernel / kernel.sum()
    ours = upfirdn2d(x, kernel, up=up, down=down, pad=pad)
    native = upfirdn2d_native(x, kernel, up, up, down, down, pad[0], pad[1], pad[0], pad[1])
    torch.testing.assert_close(ours, native, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours, direct_upfirdn2d(x, kernel, up, down, *pad), atol=1e-5, rtol=0)


def test_upfirdn2d_negative_pad_crops_like_basicsr():
    x = torch.randn(1, 2, 9, 9)
    kernel = torch.rand(3, 3)
    ours = upfirdn2d(x, kernel, up=1, down=1, pad=(-1, 2))
    native = upfirdn2d_native(x, kernel, 1, 1, 1, 1, -1, 2, -1, 2)
    torch.testing.assert_close(ours, native, atol=1e-5, rtol=0)


@pytest.mark.parametrize('up,down,pad', [(2, 1, (2, 1)), (1, 2, (1, 1))])
def test_upfirdn2d_gradcheck_and_gradients_match_native(up, down, pad):
    x = torch.randn(1, 2, 5, 5, dtype=torch.double, requires_grad=True)
    kernel = torch.rand(4, 4, dtype=torch.double)
    assert torch.autograd.gradcheck(lambda t: torch_upfirdn2d(t, kernel, up, down, pad), (x,))
    grad_ours, = torch.autograd.grad(torch_upfirdn2d(x, kernel, up, down, pad).pow(2).sum(), x)
    native = upfirdn2d_native(x, kernel, up, up, down, down, pad[0], pad[1], pad[0], pad[1])
    grad_native, = torch.autograd.grad(native.pow(2).sum(), x)
    torch.testing.assert_close(grad_ours, grad_native, atol=1e-5, rtol=0)


def test_stylegan2_generator_and_discriminator_train_on_cpu():
    torch.manual_seed(0)
    gen = stylegan2_arch.StyleGAN2Generator(64, num_style_feat=32, num_mlp=2, narrow=1 / 16)
    disc = stylegan2_arch.StyleGAN2Discriminator(64, narrow=1 / 16)
    image, _ = gen([torch.randn(2, 32)])
    assert image.shape == (2, 3, 64, 64)
    disc(image).mean().backward()
    for name, param in list(gen.named_parameters()) + list(disc.named_parameters()):
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_r1_double_backward_through_discriminator():
    disc = stylegan2_arch.StyleGAN2Discriminator(32, narrow=1 / 16)
    real = torch.randn(2, 3, 32, 32, requires_grad=True)
    grad, = torch.autograd.grad(disc(real).sum(), real, create_graph=True)
    grad.pow(2).sum().backward()
    missing = [name for name, p in disc.named_parameters() if p.grad is None]
    assert missing == ['final_linear.1.bias']  # the last bias cannot change d(score)/d(input)
