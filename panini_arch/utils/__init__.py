"""Leaf helpers shared across the package (no panini_arch imports): module scanning, image files."""
from .module_scan import import_sibling_modules

__all__ = ['import_sibling_modules']
