"""PaniniNet presets, the one builder of a PaniniNet, and "which net, which weights".

* :data:`PRESETS`: name -> PaniniNet arguments. ``fr``: 512 -> 1024 face restoration
  (paper Table 1); ``sr16``: 64 -> 1024 16x super-resolution (Table 2);
  ``catconv``: ``sr16`` with the Cat-Conv fusion of the ablation (Table 3);
  ``tiny``: 64 -> 128 with a 1/16-width StyleGAN2, for tests and CPU demos.
* :func:`build_panini`: a preset name or a ``network_g`` mapping -> untrained PaniniNet
  whose every weight then comes from one checkpoint (StyleGAN2/DRE paths cleared).
* :func:`build_generator`: any registered network from its options plus its checkpoint
  (:func:`panini_arch.utils.weights.load_weights`), as ``panini-restore``, ``panini-export``,
  ``scripts/test.py`` and the analyses use it for Panini-Net, GFPGAN and GPEN alike. Given an
  authors' Panini file, the PaniniNet's options come from its conversion (no ``--arch`` needed).
"""
import logging
from copy import deepcopy

from basicsr.archs import build_network

from ..utils.safe_load import load_options
from ..utils.weights import load_checked, read_weights_file, select_state_dict
from .arch_util import without_weight_paths
from .official_convert import panini_generator, state_dict_for

_SR16 = dict(in_size=64, out_size=1024, degradation_input='learned', rrdb_channels=64, num_rrdb=23, cbam_reduction=8)
PRESETS = {
    'fr': dict(in_size=512, out_size=1024),
    'sr16': _SR16,
    'catconv': dict(_SR16, fusion='catconv'),
    'tiny': dict(in_size=64, out_size=128, num_style_feat=64, narrow=1 / 16, rrdb_channels=4, num_rrdb=1),
}
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


def build_generator(network_opt, model_path=None, param_key='params', random_weights=False, what=None,
                    source_hint=WEIGHTS_HINT):
    """Build ``network_opt['type']`` from ARCH_REGISTRY with the weights of ``model_path``: which net, which weights.

    A PaniniNet is built by :func:`build_panini` (its weights all come from ``model_path``); given an authors'
    Panini-FR/SR file, the options are those of its conversion, whatever ``network_opt`` says.

    Args:
        network_opt (dict): ``network_g`` options (``type`` + constructor arguments).
        model_path (str | None): checkpoint; required unless ``random_weights``.
        param_key (str | None): checkpoint entry (``params_ema``/``params``/``auto``); None for a bare state dict.
        random_weights (bool): allow a missing ``model_path`` (tests/demos), with a loud warning.
        what (str | None): what the file holds, for messages (default: the network type).
        source_hint (str): where users get the file, added to a missing-file error.

    Returns:
        nn.Module in eval mode, on CPU.
    """
    network_opt = deepcopy(network_opt)
    what = what or network_opt['type']
    if not model_path:
        if not random_weights:
            raise ValueError(f'No weights for {what}: set path.pretrain_network_g (or --model_path). '
                             f'{WEIGHTS_HINT} Random weights need the explicit random_weights flag (tests only).')
        logger.warning(RANDOM_WEIGHTS_WARNING.format(what=what))
        print(RANDOM_WEIGHTS_WARNING.format(what=what), flush=True)
        return build_net(network_opt).eval()
    checkpoint = read_weights_file(model_path, what, source_hint)
    official = panini_generator(checkpoint, model_path) if network_opt['type'] == 'PaniniNet' else None
    if official is not None:
        network_opt = dict(type=official.type, **official.options)
    net = build_net(network_opt)
    state_dict = official.state_dict if official is not None else state_dict_for(net, checkpoint, model_path)
    if state_dict is None:
        state_dict = select_state_dict(checkpoint, param_key, model_path, what)
    return load_checked(net, state_dict, model_path, what).eval()


def build_net(network_opt):
    """An untrained network from ``network_g`` options; a PaniniNet through :func:`build_panini`."""
    return build_panini(network_opt) if network_opt['type'] == 'PaniniNet' else build_network(network_opt)


def build_generator_from_opt(opt):
    """:func:`build_generator` from a BasicSR options dict (``network_g``, ``path``, ``random_weights``)."""
    path_opt = opt.get('path') or {}
    return build_generator(opt['network_g'], path_opt.get('pretrain_network_g'), path_opt.get('param_key_g', 'params'),
                           opt.get('random_weights', False))
