"""PaniniNet presets, the one builder of a PaniniNet and the one checkpoint loader.

* :data:`PRESETS`: name -> PaniniNet arguments. ``fr``: 512 -> 1024 face restoration
  (paper Table 1); ``sr16``: 64 -> 1024 16x super-resolution (Table 2);
  ``catconv``: ``sr16`` with the Cat-Conv fusion of the ablation (Table 3);
  ``tiny``: 64 -> 128 with a 1/16-width StyleGAN2, for tests and CPU demos.
* :func:`build_panini`: a preset name or a ``network_g`` mapping -> untrained PaniniNet
  whose every weight then comes from one checkpoint (StyleGAN2/DRE paths cleared).
* :func:`load_checkpoint`: every way a checkpoint may hold its weights
  (``params_ema``, ``params``, a bare state dict, the authors' released layouts), loaded strictly.
* :func:`build_generator`: any registered network from its options plus its
  checkpoint, as the test harness uses it for Panini-Net, GFPGAN and GPEN alike.
"""
import logging
from copy import deepcopy

from basicsr.archs import build_network

from ..utils.safe_load import load_options
from .arch_util import check_state_dict, read_weights_file, without_weight_paths
from .official_convert import state_dict_for

_SR16 = dict(in_size=64, out_size=1024, degradation_input='learned', rrdb_channels=64, num_rrdb=23, cbam_reduction=8)
PRESETS = {
    'fr': dict(in_size=512, out_size=1024),
    'sr16': _SR16,
    'catconv': dict(_SR16, fusion='catconv'),
    'tiny': dict(in_size=64, out_size=128, num_style_feat=64, narrow=1 / 16, rrdb_channels=4, num_rrdb=1),
}
PARAM_KEYS = ('params_ema', 'params')
PANINI_SOURCE = 'Train one with panini-train, or run scripts/demo.py, which trains a small one offline.'
WEIGHTS_HINT = 'See docs/evaluation.md ("Weights") for where each method\'s weights come from.'
RANDOM_WEIGHTS_WARNING = ('!!! RANDOM WEIGHTS: {what} is randomly initialised (random_weights). Outputs and metrics '
                          'are meaningless; use this for tests and demos only. !!!')
logger = logging.getLogger('basicsr')


def read_network_g(opt_path):
    """The ``network_g`` section of a BasicSR options file (a dict)."""
    opt = load_options(opt_path)
    if 'network_g' not in (opt or {}):
        raise KeyError(f'{opt_path} has no network_g section')
    return dict(opt['network_g'])


def panini_options(spec):
    """PaniniNet ``network_g`` options (a new dict) from a preset name or a ``network_g`` mapping.

    ``stylegan_path`` and ``dre_path`` are cleared: the net is meant to receive a whole
    Panini-Net checkpoint, so the files named for training need not exist.
    """
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(f'Unknown PaniniNet preset {spec!r}; choose one of {sorted(PRESETS)}')
        spec = dict(type='PaniniNet', **PRESETS[spec])
    return without_weight_paths(deepcopy(dict(spec)))


def build_panini(spec='fr'):
    """An untrained PaniniNet from a preset name (:data:`PRESETS`) or a ``network_g`` mapping."""
    return build_network(panini_options(spec))


def select_state_dict(checkpoint, param_key, path, what):
    """The state dict held by a loaded checkpoint: every layout a checkpoint may have is recognised here.

    Args:
        checkpoint: what ``torch.load`` returned.
        param_key (str | None): ``'auto'``: ``params_ema``, else ``params``, else the
            checkpoint itself; another string: that entry only; None: the checkpoint is the state dict.
        path, what (str): for messages.

    Raises:
        KeyError: ``param_key`` names an entry the checkpoint lacks (the entries found are listed).
    """
    if param_key is None:
        return checkpoint
    if param_key == 'auto':
        found = [key for key in PARAM_KEYS if isinstance(checkpoint, dict) and key in checkpoint]
        return checkpoint[found[0]] if found else checkpoint
    if not isinstance(checkpoint, dict) or param_key not in checkpoint:
        found = sorted(checkpoint.keys()) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise KeyError(f'{path} has no key {param_key!r} holding the {what} weights; found: {found}')
    return checkpoint[param_key]


def load_checkpoint(net, path, param_key='auto', what=None, source_hint=WEIGHTS_HINT):
    """Load a checkpoint file into ``net`` strictly (weights only, CPU); returns ``net``.

    Args:
        net (nn.Module): receives the weights.
        path (str): checkpoint file.
        param_key (str | None): see :func:`select_state_dict` (``'auto'`` tries every layout).
        what (str | None): what the file holds, for messages (default: the class name).
        source_hint (str): where users get the file, added to a missing-file error.

    Raises:
        FileNotFoundError: no such file. RuntimeError: unreadable file, or keys/shapes that do not
        fit ``net`` (all listed). KeyError: an explicit ``param_key`` the file lacks.
    """
    what = what or type(net).__name__
    checkpoint = read_weights_file(path, what, source_hint)
    state_dict = state_dict_for(net, checkpoint, path)  # an authors' file, converted in memory
    if state_dict is None:
        state_dict = select_state_dict(checkpoint, param_key, path, what)
    check_state_dict(net, state_dict, path, what)
    net.load_state_dict(state_dict, strict=True)
    return net


def build_generator(network_opt, model_path=None, param_key='params', random_weights=False):
    """Build ``network_opt['type']`` from ARCH_REGISTRY and load ``model_path`` with :func:`load_checkpoint`.

    A PaniniNet is built by :func:`build_panini` (its weights all come from ``model_path``).

    Args:
        network_opt (dict): ``network_g`` options (``type`` + constructor arguments).
        model_path (str | None): checkpoint; required unless ``random_weights``.
        param_key (str | None): checkpoint entry (``params_ema``/``params``/``auto``); None for a bare state dict.
        random_weights (bool): allow a missing ``model_path`` (tests/demos), with a loud warning.

    Returns:
        nn.Module in eval mode, on CPU.
    """
    network_opt = deepcopy(network_opt)
    what = network_opt['type']
    net = build_panini(network_opt) if what == 'PaniniNet' else build_network(network_opt)
    if model_path:
        load_checkpoint(net, model_path, param_key, what, WEIGHTS_HINT)
    elif random_weights:
        logger.warning(RANDOM_WEIGHTS_WARNING.format(what=what))
        print(RANDOM_WEIGHTS_WARNING.format(what=what), flush=True)
    else:
        raise ValueError(f'No weights for {what}: set path.pretrain_network_g (or --model_path). '
                         f'{WEIGHTS_HINT} Random weights need the explicit random_weights flag (tests only).')
    return net.eval()


def build_generator_from_opt(opt):
    """:func:`build_generator` from a BasicSR options dict (``network_g``, ``path``, ``random_weights``)."""
    path_opt = opt.get('path') or {}
    return build_generator(opt['network_g'], path_opt.get('pretrain_network_g'), path_opt.get('param_key_g', 'params'),
                           opt.get('random_weights', False))
