"""The one weight loader: a weight file -> a module's weights, read weights-only, checked once, loaded strictly.

:func:`load_weights` is what every network, loss and metric calls; its steps are public for the few callers
that hold the pieces already:

1. :func:`read_weights_file`: ``torch.load(weights_only=True)`` on CPU (memory-mapped, checksum checked);
2. :func:`select_state_dict`: the state dict the file holds (``params_ema``, ``params``, a bare dict, a named key);
3. :func:`load_checked`: :func:`check_state_dict` (every missing, unexpected or mis-shaped key; NaN or inf
   refused by tensor name), then ``load_state_dict(strict=True)``.

Every error names the file and the keys. The authors' released layouts are not recognised here: where such a
file can appear, the caller passes ``convert=panini_arch.archs.official_convert.state_dict_for``.
"""
import os

from .safe_load import UnsafeWeightsError, check_finite, load_torch_file

PARAM_KEYS = ('params_ema', 'params')


def load_weights(module, path, key='auto', what=None, source_hint='', convert=None):
    """Load the weight file ``path`` into ``module`` strictly, weights only; returns ``module``.

    Args:
        module (nn.Module): receives the weights.
        path (str | Path): weight file.
        key (str | None): see :func:`select_state_dict` (``'auto'``: ``params_ema``, ``params`` or the file).
        what (str | None): what the file holds, for messages ("StyleGAN2 generator"; default: the class name).
        source_hint (str): where users get the file, added to a missing-file error.
        convert (callable | None): ``convert(module, checkpoint, path)`` -> a state dict for a file in another
            layout, or None to go on with ``key``.

    Raises:
        FileNotFoundError: no such file. UnsafeWeightsError: the file pickles code. RuntimeError: unreadable
        file, or keys/shapes that do not fit ``module`` (all listed). NonFiniteWeightsError (RuntimeError):
        NaN or inf, by tensor name. KeyError: an explicit ``key`` the file lacks.
    """
    path = os.fspath(path)
    what = what or type(module).__name__
    checkpoint = read_weights_file(path, what, source_hint)
    state_dict = convert(module, checkpoint, path) if convert else None
    if state_dict is None:
        state_dict = select_state_dict(checkpoint, key, path, what)
    return load_checked(module, state_dict, path, what)


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


def select_state_dict(checkpoint, key, path, what):
    """The state dict held by a loaded checkpoint.

    Args:
        checkpoint: what ``torch.load`` returned.
        key (str | None): ``'auto'``: ``params_ema``, else ``params``, else the checkpoint itself; another
            string: that entry only; None: the checkpoint is the state dict.
        path, what (str): for messages.

    Raises:
        KeyError: ``key`` names an entry the checkpoint lacks (the entries found are listed).
    """
    if key is None:
        return checkpoint
    if key == 'auto':
        found = [name for name in PARAM_KEYS if isinstance(checkpoint, dict) and name in checkpoint]
        return checkpoint[found[0]] if found else checkpoint
    if not isinstance(checkpoint, dict) or key not in checkpoint:
        found = sorted(checkpoint.keys()) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise KeyError(f'{path} has no key {key!r} holding the {what} weights; found: {found}')
    return checkpoint[key]


def strip_module_prefix(state_dict):
    """``state_dict`` with the ``module.`` prefix of ``DataParallel``/DDP saves removed from its keys."""
    return {key[len('module.'):] if key.startswith('module.') else key: value for key, value in state_dict.items()}


def load_checked(module, state_dict, path, what):
    """:func:`check_state_dict`, then ``module.load_state_dict(state_dict, strict=True)``; returns ``module``."""
    check_state_dict(module, state_dict, path, what)
    module.load_state_dict(state_dict, strict=True)
    return module


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
