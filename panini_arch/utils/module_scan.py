"""Import every module of a package whose file name ends with a suffix.

This is how BasicSR registers classes: importing ``foo_arch.py`` runs its
``@ARCH_REGISTRY.register()`` decorators.
"""
import importlib
from pathlib import Path


def import_sibling_modules(package_name, package_file, suffix):
    """Import ``<package_name>.<stem>`` for each ``*<suffix>.py`` beside ``package_file``.

    Returns:
        list[module]: the imported modules, sorted by file name.
    """
    folder = Path(package_file).parent
    stems = sorted(p.stem for p in folder.glob(f'*{suffix}.py'))
    return [importlib.import_module(f'{package_name}.{stem}') for stem in stems]
