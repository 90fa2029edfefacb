"""Helpers on whole modules: loading published or trained weights (errors name the file), memory format."""
import itertools
import os

from ..utils.safe_load import UnsafeWeightsError, check_finite, load_torch_file


def load_state_dict_file(module, path, key, what, source_hint=''):
    """Load ``torch.load(path)[key]`` into ``module`` strictly, weights only.

    A file in one of the authors' layouts (Panini MFR/SR, MoCo, MMEditing StyleGAN2; see
    :mod:`.official_convert`) is recognised whatever ``key`` says, converted in memory, and logged.

    Args:
        module (nn.Module): receives the weights.
        path (str): checkpoint file.
        key (str | None): entry of the checkpoint dict holding the state dict
            (``'params_ema'``, ``'params'``); None when the file is the state dict.
        what (str): what the file is, for messages ("StyleGAN2 generator").
        source_hint (str): where users get the file, appended to a missing-file error.

    Raises:
        FileNotFoundError: the file does not exist.
        RuntimeError: unreadable/truncated file, or missing, unexpected or
            wrongly shaped keys (all listed).
        KeyError: ``key`` is not in the checkpoint.
        OfficialCheckpointError (ValueError): an authors' file for another kind of network, or a damaged one.
    """
    path = os.fspath(path)
    checkpoint = read_weights_file(path, what, source_hint)
    from .official_convert import state_dict_for  # it builds the archs, which import this module
    state_dict = state_dict_for(module, checkpoint, path)
    if state_dict is None:
        state_dict = checkpoint
        if key is not None:
            if not isinstance(checkpoint, dict) or key not in checkpoint:
                found = sorted(checkpoint.keys()) if isinstance(checkpoint, dict) else type(checkpoint).__name__
                raise KeyError(f'{path} has no key {key!r} holding the {what} weights; found: {found}')
            state_dict = checkpoint[key]
    check_state_dict(module, state_dict, path, what)
    module.load_state_dict(state_dict, strict=True)


def read_weights_file(path, what, source_hint=''):
    """``torch.load(path, weights_only=True)`` on CPU, with errors naming the file and what it should hold.

    Zip-format saves (every torch.save since 1.6) are memory-mapped (``load_torch_file``), so a 1.5 GB
    checkpoint of which only the generator is used costs little more than the generator.

    Raises:
        FileNotFoundError: the file does not exist (``source_hint`` says where users get it).
        UnsafeWeightsError: the file pickles objects other than tensors and plain values.
        RuntimeError: unreadable, truncated or corrupt (checksum) file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        hint = f' {source_hint}' if source_hint else ''
        raise FileNotFoundError(f'{what} weights not found: {path}.{hint}')
    try:
        return load_torch_file(path)
    except UnsafeWeightsError:
        raise
    except Exception as error:  # torch raises several types for corrupt files
        raise RuntimeError(f'Cannot read {what} weights from {path} (truncated or not a torch file?): '
                           f'{error}') from error


def check_state_dict(module, state_dict, path, what):
    """Raise a RuntimeError listing every missing, unexpected or mis-shaped key, or naming the tensors holding
    NaN or inf (:class:`~panini_arch.utils.safe_load.NonFiniteWeightsError`)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    mismatched = [
        f'{k}: file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}' for k in sorted(set(own) & set(state_dict))
        if tuple(own[k].shape) != tuple(state_dict[k].shape)
    ]
    problems = [f'{what} {_some(keys)}' for what, keys in (('missing keys', missing), ('unexpected keys', unexpected),
                                                            ('shape mismatch', mismatched)) if keys]
    if problems:
        raise RuntimeError(f'{what} weights in {path} do not fit the network: ' + '; '.join(problems))
    check_finite(state_dict, path, f'{what} weights')


def _some(keys, shown=8):
    """``'(3): a, b, c'``, at most ``shown`` of them named (a wrong net would list thousands)."""
    more = f', ... and {len(keys) - shown} more' if len(keys) > shown else ''
    return f'({len(keys)}): {", ".join(keys[:shown])}{more}'


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
