"""Panini-arch metrics (METRIC_REGISTRY): every `*_metric.py` here is imported and so registered."""
from panini_arch.utils import import_sibling_modules

_modules = import_sibling_modules(__name__, __file__, '_metric')
