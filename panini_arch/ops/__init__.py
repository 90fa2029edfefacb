"""CPU-safe StyleGAN2 ops and the BasicSR compatibility layer (import first)."""
from .basicsr_compat import HAS_FUSED_ACT_EXT, HAS_UPFIRDN2D_EXT, fused_leaky_relu, upfirdn2d

__all__ = ['fused_leaky_relu', 'upfirdn2d', 'HAS_FUSED_ACT_EXT', 'HAS_UPFIRDN2D_EXT']
