"""Panini-arch architectures (ARCH_REGISTRY): every `*_arch.py` here is imported and so registered."""
from panini_arch.utils import import_sibling_modules

_modules = import_sibling_modules(__name__, __file__, '_arch')
