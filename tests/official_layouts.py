"""Random state dicts in the authors' checkpoint layouts, built from the key lists in tests/fixtures/official.

``rule_value`` is the rule of the authors' numerical fixture (FIXTURE.md, one seeded draw per key; see
docs/official_weights.md), so the fixture's weights can be regenerated; ``official_file`` wraps a layout
the way the released files do; ``fixture`` reads what tests/fixtures/official keeps of the authors' output.

FIXTURE.md's "BatchNorm module" test looks ``<module>.running_mean`` up among the JSON's keys, which all
start with ``generator.``, while ``<module>`` comes from the key without that prefix: read literally, no
module qualifies, so that row never applies and BatchNorm weights fall to the last row (``randn`` for a
1-D shape). That is how ``fixture_*_io.pt`` was made: measured with the authors' own modules (their
panini.py on MMEditing 0.14's StyleGAN2), the literal reading reproduces the fixture to 6.4e-6 (MFR) /
7.7e-4 (SR), while drawing BN weights as ``1 + 0.1 * randn`` misses it by 1.61 / 36.2.
"""
import json
import math
import zlib
from pathlib import Path

import torch

from helpers import FIXTURES
from panini_arch.archs import official_convert as oc

KEY_LISTS = Path(FIXTURES) / 'official'
BLUR = torch.tensor([1., 3., 3., 1.])


def key_list(name):
    """``{key: shape}`` of ``official_<name>_keys.json`` (mfr, sr, discriminator)."""
    with open(KEY_LISTS / f'official_{name}_keys.json', encoding='utf-8') as f:
        return {key: tuple(shape) for key, shape in json.load(f).items()}


def rule_value(key, shape):
    """FIXTURE.md's value for ``key`` (without its first ``generator.``)."""
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    last = key.rsplit('.', 1)[-1]
    if key.endswith('num_batches_tracked'):
        return torch.tensor(0)
    if key.endswith('.kernel'):
        return (4 * torch.outer(BLUR, BLUR) / 64).reshape(shape)
    if key.endswith('running_var'):
        return 0.5 + torch.rand(shape, generator=g)
    if key.endswith('running_mean'):
        return 0.1 * torch.randn(shape, generator=g)
    if key.endswith('style_modulation.bias'):
        return 1 + 0.1 * torch.randn(shape, generator=g)
    if key.endswith('noise_injector.weight'):
        return 0.2 * torch.randn(shape, generator=g)
    if key.endswith('bias'):
        return 0.1 * torch.randn(shape, generator=g)
    if key.endswith('weight_orig') or 'injected_noise' in key or last in ('input', 'choice_vector'):
        return torch.randn(shape, generator=g)
    if key == 'AFS_maskGen.mapping.2.weight':
        return 4 * torch.randn(shape, generator=g) / math.sqrt(shape[1])
    return torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))


def rule_state_dict(keys_and_shapes, prefix):
    """Rule-made values for every key; the rule sees each key without ``prefix``."""
    return {key: rule_value(key[len(prefix):], shape) for key, shape in keys_and_shapes.items()}


def discriminator_state_dict():
    """The official discriminator with small random weights (its blur kernels are outer([1,3,3,1]) / 64)."""
    values = {}
    for index, (key, shape) in enumerate(key_list('discriminator').items()):
        if key.endswith('.kernel'):
            values[key] = torch.outer(BLUR, BLUR) / 64
        else:
            values[key] = torch.randn(shape, generator=torch.Generator().manual_seed(index))
    return values


def official_file(state_dict, optimizer=True):
    """The released files' top level: meta, state_dict and (Adam-like) optimizer state."""
    checkpoint = {'meta': {'mmedit_version': '0.14.0', 'exp_name': 'panini', 'epoch': 1, 'iter': 800000,
                           'config': 'model = dict(type="Panini")'},
                  'state_dict': state_dict}
    if optimizer:
        checkpoint['optimizer'] = {'generator': {'state': {0: {'step': torch.tensor(1.0),
                                                               'exp_avg': torch.zeros(3),
                                                               'exp_avg_sq': torch.zeros(3)}},
                                                'param_groups': [{'lr': 1e-4, 'betas': (0.9, 0.99), 'params': [0]}]},
                                   'discriminator': {'state': {}, 'param_groups': []}}
    return checkpoint


def fixture(name):
    """``tests/fixtures/official/fixture_<name>.pt``: the input's seed and hash, float16 crops and statistics
    of the authors' output (made by scripts/make_official_fixture.py)."""
    return torch.load(KEY_LISTS / f'fixture_{name}.pt', weights_only=True)


def small_panini_layout(name, in_size=64, out_size=128, num_rrdb=1, **widths):
    """``{key: shape}`` of ``panini_<name>_latest.pth``'s generator cut to a smaller net the converter accepts.

    The StyleGAN2 prior stops at ``out_size`` (fewer ``injected_noise``/``convs``/``to_rgbs``), the
    IFE reaches 64x64 from ``in_size`` with fewer stride-2 convs (``encoder.0.<even>``), the
    RRDB trunk keeps ``num_rrdb`` blocks and ``widths`` (PaniniNet options: ``narrow``,
    ``num_style_feat``, ``rrdb_channels``) shrink the layers; the shapes are those of the PaniniNet the
    converter builds for these options, found through its own key rules. For end-to-end tests that
    cannot afford the published sizes.
    """
    full = key_list(name)
    levels = int(math.log2(out_size)) - 2

    def kept(key):
        parts = key.split('.')
        if key.startswith('generator.generator.injected_noise_'):
            return int(key.rsplit('_', 1)[1]) < 2 * levels + 1
        if key.startswith(('generator.generator.convs.', 'generator.generator.to_rgbs.')):
            return int(parts[3]) < (2 * levels if parts[2] == 'convs' else levels)
        if key.startswith('generator.encoder.0.0.body.'):
            return int(parts[5]) < num_rrdb
        if key.startswith('generator.encoder.0.') and parts[3] not in ('0', '1'):
            return (int(parts[3]) - 2) // 2 <= int(math.log2(in_size // 64))
        return True

    layout = {key: shape for key, shape in full.items() if kept(key)}
    meta = {key[len('generator.'):]: torch.empty(shape, device='meta') for key, shape in layout.items()}
    options = dict(oc.panini_options(meta, f'small panini_{name}'), **widths)
    with torch.device('meta'):
        target = oc.build('PaniniNet', options).state_dict()
    for key in layout:
        mapped = oc._map_key(key[len('generator.'):], oc.PANINI_RULES)
        if isinstance(mapped, str):
            layout[key] = tuple(target[mapped].shape)
        elif torch.is_tensor(mapped):
            layout[key] = tuple(mapped.shape)
    return layout
