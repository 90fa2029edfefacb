"""CPU-safe StyleGAN2 ops and the BasicSR compatibility layer (import first), trainer fixes."""
from .basicsr_compat import HAS_FUSED_ACT_EXT, HAS_UPFIRDN2D_EXT, fused_leaky_relu, upfirdn2d
from . import training_compat  # noqa: F401  (BasicSR trainer fixes; needs basicsr_compat first)

__all__ = ['fused_leaky_relu', 'upfirdn2d', 'HAS_FUSED_ACT_EXT', 'HAS_UPFIRDN2D_EXT']
