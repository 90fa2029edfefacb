"""Let basicsr 1.4.2 import under torchvision >= 0.17.

basicsr imports ``torchvision.transforms.functional_tensor``, which torchvision
renamed to ``_functional_tensor``. A meta-path finder answers the old name with
the new module, lazily: nothing is imported until someone asks for it.
"""
import importlib
import importlib.abc
import importlib.util
import sys

OLD_NAME = 'torchvision.transforms.functional_tensor'
NEW_NAME = 'torchvision.transforms._functional_tensor'


class _AliasLoader(importlib.abc.Loader):

    def create_module(self, spec):
        return importlib.import_module(NEW_NAME)

    def exec_module(self, module):
        sys.modules[OLD_NAME] = module


class FunctionalTensorAlias(importlib.abc.MetaPathFinder):
    """Resolve the removed torchvision module name to its new location."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != OLD_NAME or importlib.util.find_spec(NEW_NAME) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader())


def install_functional_tensor_alias():
    """Register the alias once; a no-op where torchvision still has the old module."""
    if any(isinstance(finder, FunctionalTensorAlias) for finder in sys.meta_path):
        return
    sys.meta_path.append(FunctionalTensorAlias())
