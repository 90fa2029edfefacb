"""The PaniniNet preset table, the one builder and the one weight loader."""
import inspect
import os

import pytest
import torch

import panini_arch  # noqa: F401  (registers the architectures)
from helpers import REPO
from panini_arch.archs.panini_arch import PaniniNet
from panini_arch.archs.presets import PRESETS, build_generator, build_panini, panini_options, read_network_g
from panini_arch.utils.weights import load_weights


def arguments(network_g):
    """Every PaniniNet constructor argument (defaults filled in) that shapes the network.

    Cat-Conv fusion has no degradation input, so ``degradation_input`` does not count there.
    """
    network_g = dict(network_g)
    assert network_g.pop('type') == 'PaniniNet'
    bound = inspect.signature(PaniniNet).bind(**network_g)
    bound.apply_defaults()
    ignored = {'stylegan_path', 'dre_path', 'fix_dre'} | ({'degradation_input'} if network_g.get('fusion') == 'catconv'
                                                         else set())
    return {k: v for k, v in bound.arguments.items() if k not in ignored}


def shapes(net):
    return {key: tuple(value.shape) for key, value in net.state_dict().items()}


@pytest.mark.parametrize('preset, options', [
    ('fr', ['train_panini_fr', 'test_panini_fr']),
    ('sr16', ['train_panini_sr16', 'test_panini_sr16']),
    ('catconv', ['train_panini_catconv_sr16', 'test_catconv_sr16']),
    ('tiny', ['train_panini_fr_tiny']),
])
def test_each_preset_is_the_network_of_its_options_files(preset, options):
    expected = arguments(panini_options(preset))
    for name in options:
        assert arguments(panini_options(read_network_g(os.path.join(REPO, 'options', f'{name}.yml')))) == expected, name


def test_builder_takes_a_preset_or_network_g_and_clears_weight_paths():
    net = build_panini('tiny')
    assert (net.in_size, net.out_size) == (64, 128)
    options = dict(type='PaniniNet', **PRESETS['tiny'], stylegan_path='/missing/stylegan.pth', dre_path='/missing.pth')
    assert shapes(build_panini(options)) == shapes(net)
    assert options['stylegan_path'] == '/missing/stylegan.pth'  # the caller's dict is left alone
    assert panini_options('tiny')['stylegan_path'] is None
    with pytest.raises(ValueError, match="choose one of \\['catconv', 'fr', 'sr16', 'tiny'\\]"):
        build_panini('huge')


@pytest.mark.parametrize('layout', ['params_ema', 'params', 'bare'])
def test_loader_finds_the_weights_in_every_checkpoint_layout(tmp_path, layout):
    torch.manual_seed(0)
    source = build_panini('tiny')
    state = source.state_dict()
    torch.save(state if layout == 'bare' else {layout: state}, tmp_path / 'net.pth')
    torch.manual_seed(1)
    net = load_weights(build_panini('tiny'), str(tmp_path / 'net.pth'))
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_loader_prefers_ema_and_names_the_file_on_errors(tmp_path):
    torch.manual_seed(0)
    ema, plain = build_panini('tiny').state_dict(), build_panini('tiny').state_dict()
    torch.save({'params': plain, 'params_ema': ema}, tmp_path / 'both.pth')
    net = load_weights(build_panini('tiny'), str(tmp_path / 'both.pth'))
    key = next(iter(ema))
    assert torch.equal(net.state_dict()[key], ema[key])
    with pytest.raises(KeyError, match="both.pth has no key 'params_g'"):
        load_weights(build_panini('tiny'), str(tmp_path / 'both.pth'), 'params_g')
    torch.save({'params': build_panini('tiny').state_dict()}, tmp_path / 'tiny.pth')
    with pytest.raises(RuntimeError, match='tiny.pth do not fit the network'):
        load_weights(build_panini(dict(PRESETS['tiny'], type='PaniniNet', rrdb_channels=8)), str(tmp_path / 'tiny.pth'))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_weights(build_panini('tiny'), str(tmp_path / 'missing.pth'))


def test_harness_builder_uses_the_same_loader(tmp_path):
    torch.manual_seed(0)
    source = build_panini('tiny')
    torch.save(source.state_dict(), tmp_path / 'bare.pth')
    net = build_generator(panini_options('tiny'), str(tmp_path / 'bare.pth'), None)
    assert not net.training
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in net.state_dict().items())
