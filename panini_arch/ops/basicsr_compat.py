"""Make basicsr 1.4.2 importable and its StyleGAN2 ops runnable on CPU.

Imported first by ``panini_arch``. It never edits site-packages: it registers a
torchvision alias before basicsr is imported, then rebinds the names that
BasicSR's StyleGAN2 modules call (``fused_leaky_relu``, ``upfirdn2d``) to
dispatchers that use the compiled CUDA kernels where they loaded and the
pure-PyTorch versions everywhere else. Module and parameter names are untouched,
so published StyleGAN2 state dicts load as they are.
"""
import sys

from .torchvision_compat import install_functional_tensor_alias

install_functional_tensor_alias()

import basicsr  # noqa: E402  (needs the alias above)
import basicsr.archs.stylegan2_arch as _stylegan2_arch  # noqa: E402
import basicsr.ops.fused_act as _fused_act_pkg  # noqa: E402

from .fused_act import fused_leaky_relu as _torch_fused_leaky_relu  # noqa: E402
from .upfirdn2d import upfirdn2d as _torch_upfirdn2d  # noqa: E402

_fused_act_mod = sys.modules['basicsr.ops.fused_act.fused_act']
_upfirdn2d_mod = sys.modules['basicsr.ops.upfirdn2d.upfirdn2d']

HAS_FUSED_ACT_EXT = hasattr(_fused_act_mod, 'fused_act_ext')
HAS_UPFIRDN2D_EXT = hasattr(_upfirdn2d_mod, 'upfirdn2d_ext')

_basicsr_fused_leaky_relu = _fused_act_mod.fused_leaky_relu
_basicsr_upfirdn2d = _upfirdn2d_mod.upfirdn2d


def fused_leaky_relu(x, bias, negative_slope=0.2, scale=2**0.5):
    """BasicSR's call signature; compiled kernel on CUDA when it loaded."""
    if HAS_FUSED_ACT_EXT and x.is_cuda:
        return _basicsr_fused_leaky_relu(x, bias, negative_slope, scale)
    return _torch_fused_leaky_relu(x, bias, negative_slope, scale)


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """BasicSR's call signature; compiled kernel on CUDA when it loaded."""
    if HAS_UPFIRDN2D_EXT and x.is_cuda:
        return _basicsr_upfirdn2d(x, kernel, up=up, down=down, pad=pad)
    return _torch_upfirdn2d(x, kernel, up=up, down=down, pad=pad)


for _module in (_fused_act_mod, _fused_act_pkg, _stylegan2_arch):
    _module.fused_leaky_relu = fused_leaky_relu
for _module in (_upfirdn2d_mod, _stylegan2_arch):
    _module.upfirdn2d = upfirdn2d
sys.modules['basicsr.ops.upfirdn2d'].upfirdn2d = upfirdn2d

__all__ = ['basicsr', 'fused_leaky_relu', 'upfirdn2d', 'HAS_FUSED_ACT_EXT', 'HAS_UPFIRDN2D_EXT']
