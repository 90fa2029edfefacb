"""GFPGAN's ``GFPGANv1Clean`` in ARCH_REGISTRY, from the optional ``gfpgan`` package (extra ``peers``).

Importing ``gfpgan`` registers its architectures with BasicSR's ARCH_REGISTRY by
itself, so this module only imports it (after ``panini_arch.ops`` has made
basicsr importable). ``GFPGANv1Clean`` takes (B, 3, out_size, out_size) RGB in
[-1, 1] and returns ``(image, intermediate_rgbs)`` with the image in the same
range; GFPGAN v1.3/v1.4 use ``out_size=512, channel_multiplier=2,
input_is_latent=True, different_w=True, sft_half=True, fix_decoder=False``.

When ``gfpgan`` is missing or fails to import, a stand-in of the same name is
registered instead, so ``import panini_arch`` still works and options that ask
for ``GFPGANv1Clean`` fail with an error saying how to install it.
"""
from basicsr.utils.registry import ARCH_REGISTRY

try:
    from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
    GFPGAN_IMPORT_ERROR = None
except Exception as error:  # a broken optional peer must not break the package, whatever it raises
    GFPGAN_IMPORT_ERROR = error

if 'GFPGANv1Clean' not in ARCH_REGISTRY:

    @ARCH_REGISTRY.register()
    class GFPGANv1Clean:
        """Stand-in registered when the ``gfpgan`` package does not import; building it raises ImportError."""

        def __init__(self, *args, **kwargs):
            raise ImportError('GFPGANv1Clean comes from the optional gfpgan package: pip install gfpgan '
                              f'(or pip install -e ".[peers]"). Importing it failed with: {GFPGAN_IMPORT_ERROR!r}')
