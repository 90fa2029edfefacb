"""Helpers on whole modules: networks built for one checkpoint, memory format.

Loading weights into a module is :func:`panini_arch.utils.weights.load_weights`.
"""
import itertools


def without_weight_paths(network_opt):
    """A copy of PaniniNet's ``network_g`` options with ``stylegan_path`` and ``dre_path`` cleared.

    For building a net whose every weight then comes from one Panini-Net checkpoint, so the
    StyleGAN2 and DRE files named for training need not exist where it is loaded.
    """
    return dict(network_opt, stylegan_path=None, dre_path=None)


def set_memory_format(module, memory_format):
    """Put every 4-D parameter and buffer of ``module`` in ``memory_format`` (e.g. ``torch.channels_last``);
    ``Module.to`` would refuse StyleGAN2's 5-D modulated-conv weights, which have no such layout and stay."""
    for tensor in itertools.chain(module.parameters(), module.buffers()):
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=memory_format)
    return module
