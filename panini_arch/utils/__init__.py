"""Small helpers shared across the package."""
from .module_scan import import_sibling_modules

__all__ = ['import_sibling_modules']
