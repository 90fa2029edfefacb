"""Panini-arch datasets (DATASET_REGISTRY): every `*_dataset.py` here is imported and so registered."""
from panini_arch.utils import import_sibling_modules

_modules = import_sibling_modules(__name__, __file__, '_dataset')
