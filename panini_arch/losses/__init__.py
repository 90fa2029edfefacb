"""Panini-arch losses (LOSS_REGISTRY): every `*_loss.py` here is imported and so registered."""
from panini_arch.utils import import_sibling_modules

_modules = import_sibling_modules(__name__, __file__, '_loss')
