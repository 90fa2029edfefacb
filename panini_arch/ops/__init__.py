"""CPU-safe StyleGAN2 ops and the BasicSR import-compatibility layer (imported first by ``panini_arch``)."""
from .basicsr_compat import HAS_FUSED_ACT_EXT, HAS_UPFIRDN2D_EXT, fused_leaky_relu, upfirdn2d

__all__ = ['fused_leaky_relu', 'upfirdn2d', 'HAS_FUSED_ACT_EXT', 'HAS_UPFIRDN2D_EXT']
