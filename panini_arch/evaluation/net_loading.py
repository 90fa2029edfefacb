"""Build a registered restoration network and load its weights (or, for tests only, keep it random)."""
import logging
from copy import deepcopy

from basicsr.archs import build_network
from panini_arch.archs.arch_util import load_state_dict_file

logger = logging.getLogger('basicsr')
WEIGHTS_HINT = 'See docs/evaluation.md ("Weights") for where each method\'s weights come from.'
RANDOM_WEIGHTS_WARNING = ('!!! RANDOM WEIGHTS: {what} is randomly initialised (random_weights). Outputs and metrics '
                          'are meaningless; use this for tests and demos only. !!!')


def build_generator(network_opt, model_path=None, param_key='params', random_weights=False):
    """Build ``network_opt['type']`` from ARCH_REGISTRY and load ``model_path`` strictly.

    Args:
        network_opt (dict): ``network_g`` options (``type`` + constructor arguments).
        model_path (str | None): checkpoint; required unless ``random_weights``.
        param_key (str | None): checkpoint key (``params_ema``/``params``); None for a plain state dict.
        random_weights (bool): allow a missing ``model_path`` (tests/demos), with a loud warning.

    Returns:
        nn.Module in eval mode, on CPU.
    """
    network_opt = deepcopy(network_opt)
    what = network_opt['type']
    net = build_network(network_opt)
    if model_path:
        load_state_dict_file(net, model_path, param_key, what, WEIGHTS_HINT)
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
