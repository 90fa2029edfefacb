"""GFPGAN's ``GFPGANv1Clean`` in ARCH_REGISTRY, from the optional ``gfpgan`` package (extra ``peers``).

``GFPGANv1Clean`` takes (B, 3, out_size, out_size) RGB in [-1, 1] and returns
``(image, intermediate_rgbs)`` with the image in the same range; GFPGAN
v1.3/v1.4 use ``out_size=512, channel_multiplier=2, input_is_latent=True,
different_w=True, sft_half=True, fix_decoder=False``.

``import panini_arch`` does not import ``gfpgan`` (it pulls in facexlib and
registers GFPGAN's own dataset and model). A stand-in of the same name is
registered instead; building it imports ``gfpgan``, whose import registers the
real class in the stand-in's place, and returns an instance of that class.
When ``gfpgan`` is missing or fails to import, building it raises an
ImportError saying how to install it. ``gfpgan`` imported in any other way
(``import gfpgan`` in a user's script, before or after ``panini_arch``) also
replaces the stand-in with the real class.
"""
import importlib
import importlib.abc
import sys

from basicsr.utils.registry import ARCH_REGISTRY

NAME = 'GFPGANv1Clean'
GFPGAN_MODULE = 'gfpgan.archs.gfpganv1_clean_arch'


class GFPGANv1CleanStandIn:
    """Registered as ``GFPGANv1Clean`` until ``gfpgan`` is imported; building it imports ``gfpgan``."""

    def __new__(cls, *args, **kwargs):
        try:
            importlib.import_module(GFPGAN_MODULE)
        except Exception as error:  # a broken optional peer must not break the package, whatever it raises
            register_stand_in()
            raise ImportError(f'{NAME} comes from the optional gfpgan package: pip install gfpgan '
                              f'(or pip install -e ".[peers]"). Importing it failed with: {error!r}') from error
        return ARCH_REGISTRY.get(NAME)(*args, **kwargs)


def register_stand_in():
    """Register the stand-in unless a ``GFPGANv1Clean`` (the real one or the stand-in) is there."""
    if NAME not in ARCH_REGISTRY:
        ARCH_REGISTRY._obj_map[NAME] = GFPGANv1CleanStandIn


class _MakeRoomForGFPGAN(importlib.abc.MetaPathFinder):
    """Remove the stand-in just before ``gfpgan`` registers its own ``GFPGANv1Clean`` (which may not replace it)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == GFPGAN_MODULE and ARCH_REGISTRY._obj_map.get(NAME) is GFPGANv1CleanStandIn:
            del ARCH_REGISTRY._obj_map[NAME]
        return None


if not any(isinstance(finder, _MakeRoomForGFPGAN) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MakeRoomForGFPGAN())
register_stand_in()
