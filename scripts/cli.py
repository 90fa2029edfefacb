"""Command-line options the scripts share: which Panini-Net to analyse, and Eq. 10 range overrides.

Imported by the scripts beside it (``python scripts/X.py`` puts this folder on ``sys.path``).
"""
import argparse

import yaml

from panini_arch.archs.presets import PRESETS, build_generator, panini_options
from panini_arch.utils.safe_load import load_options

RANGE_KEYS = ('downsample_range', 'blur_sigma', 'noise_range', 'jpeg_range')


def add_net_args(parser):
    """Add --opt, --arch, --arch_opt, --model_path, --param_key, --random_weights to an argparse parser."""
    parser.add_argument('--opt', help='test options file (network_g + path.pretrain_network_g)')
    parser.add_argument('--arch', default='fr', choices=sorted(PRESETS), help='PaniniNet preset without --opt')
    parser.add_argument('--arch_opt', nargs='*', default=[], metavar='KEY=VALUE',
                        help='PaniniNet arguments overriding the preset / options file (YAML values)')
    parser.add_argument('--model_path', help="Panini-Net checkpoint (overrides the options file path); the authors' "
                                              'released file brings its own network options')
    parser.add_argument('--param_key', default='params_ema', help="checkpoint key; 'none' for a plain state dict")
    parser.add_argument('--random_weights', action='store_true',
                        help='TESTS/DEMOS ONLY: untrained net, no weights needed (results are meaningless)')


def net_from_args(args):
    """Build the PaniniNet described by :func:`add_net_args` options (eval mode, CPU)."""
    network_opt, model_path, param_key = dict(type='PaniniNet', **PRESETS[args.arch]), None, args.param_key
    if args.opt:
        opt = load_options(args.opt)
        network_opt = dict(opt['network_g'])
        model_path = (opt.get('path') or {}).get('pretrain_network_g')
        param_key = (opt.get('path') or {}).get('param_key_g', param_key)
    if args.model_path:
        model_path, param_key = args.model_path, args.param_key
    for item in args.arch_opt:
        key, value = item.split('=', 1)
        network_opt[key] = yaml.safe_load(value)
    param_key = None if str(param_key).lower() == 'none' else param_key
    return build_generator(panini_options(network_opt), model_path, param_key, args.random_weights)


def _range_arg(text):
    """'10,200' -> [10.0, 200.0]; 'off' -> None."""
    if text == 'off':
        return None
    try:
        low, high = (float(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'low,high' or 'off', got {text!r}") from None
    return [low, high]


def add_range_args(parser):
    """Add --downsample-range, --blur-sigma, --noise-range, --jpeg-range to a script's parser."""
    for key in RANGE_KEYS:
        parser.add_argument('--' + key.replace('_', '-'), dest=key, type=_range_arg, default=argparse.SUPPRESS,
                            help="'low,high' or 'off' (default: the paper's range)")


def pop_ranges(args):
    """Remove the range options given on the command line from ``vars(args)`` and return them."""
    return {k: args.pop(k) for k in RANGE_KEYS if k in args}
