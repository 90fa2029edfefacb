"""panini-arch: Panini-Net (AAAI 2022) for BasicSR.

Importing the package first makes basicsr 1.4.2 usable with current torch and
torchvision (``panini_arch.ops``), then registers every architecture, dataset,
model, loss and metric with BasicSR's registries.
"""
from . import ops  # noqa: F401  (must come before anything that imports basicsr)
from . import archs, data, losses, metrics, models  # noqa: F401
from .version import __version__

__all__ = ['__version__']
