"""GPEN re-implementation: published key layout, forward semantics, weight loading."""
import os

import pytest
import torch

import panini_arch  # noqa: F401  (registers the architectures)
from basicsr.archs import build_network
from basicsr.archs import stylegan2_arch as bsr
from basicsr.utils.registry import ARCH_REGISTRY
from helpers import FIXTURES
from panini_arch.archs.gpen_arch import GPEN, ModulatedConv2d, ToRGB, encoder_layer

KEYS_FILE = os.path.join(FIXTURES, 'gpen_bfr_512_keys.txt')
SMALL = dict(size=32, narrow=1 / 32, style_dim=16)


def published_shapes():
    """{key: shape} of GPEN-BFR-512.pth, from the hand-written list in tests/fixtures."""
    shapes = {}
    with open(KEYS_FILE) as handle:
        for line in handle:
            if line.startswith('#'):
                continue
            key, shape = line.rstrip('\n').split('\t')
            shapes[key] = tuple(int(n) for n in shape.split('x'))
    return shapes


def random_state_dict(model, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=generator) for k, v in model.state_dict().items()}


def test_published_key_list_loads_strictly_at_full_size():
    shapes = published_shapes()
    assert len(shapes) == 163
    state_dict = {key: torch.full(shape, float(index)) for index, (key, shape) in enumerate(shapes.items())}
    model = GPEN()  # the GPEN-BFR-512 configuration is the default
    model.load_state_dict(state_dict, strict=True)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in state_dict.items())


def test_registered_and_built_from_options():
    assert ARCH_REGISTRY.get('GPEN') is GPEN
    model = build_network({'type': 'GPEN', **SMALL})
    assert isinstance(model, GPEN) and model.size == 32


def test_small_forward_shape_and_every_parameter_learns():
    torch.manual_seed(0)
    model = GPEN(size=64, narrow=1 / 16, style_dim=32, n_mlp=2)
    for name, param in model.named_parameters():  # GPEN starts them at 0, which would hide the feature path
        if name.endswith('noise.weight'):
            torch.nn.init.constant_(param, 0.5)
    x = torch.rand(2, 3, 64, 64, requires_grad=True) * 2 - 1
    x.retain_grad()
    out = model(x)
    assert out.shape == (2, 3, 64, 64) and torch.isfinite(out).all()
    out.square().mean().backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert silent == []
    assert x.grad.abs().sum() > 0


def test_encoder_features_are_the_generator_noise_at_their_resolution():
    model = GPEN(**SMALL).eval()
    encoded, injected = {}, []
    for i in range(model.num_encoder_layers):
        getattr(model, f'ecd{i}').register_forward_hook(lambda m, inp, out: encoded.setdefault(out.shape[-1], out))
    noise_layers = [model.generator.conv1] + list(model.generator.convs)
    for layer in noise_layers:
        layer.noise.register_forward_hook(lambda m, inp, out: injected.append(inp[1]))
    with torch.no_grad():
        model(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert [feature.shape[-1] for feature in injected] == [4, 8, 8, 16, 16, 32, 32]
    assert all(feature is encoded[feature.shape[-1]] for feature in injected)


def test_forward_is_deterministic_and_noise_weights_matter():
    torch.manual_seed(1)
    model = GPEN(**SMALL).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        out = model(x)
        assert torch.equal(out, model(x))
        model.generator.convs[3].noise.weight.fill_(1.0)
        assert not torch.allclose(out, model(x))


@pytest.mark.parametrize('upsample', [False, True])
def test_modulated_conv_matches_basicsr_stylegan2(upsample):
    torch.manual_seed(2)
    ours = ModulatedConv2d(6, 5, 3, 8, upsample=upsample)
    theirs = bsr.ModulatedConv2d(6, 5, 3, 8, sample_mode='upsample' if upsample else None)
    theirs.load_state_dict({k: v for k, v in ours.state_dict().items() if not k.endswith('kernel')})
    x, style = torch.randn(2, 6, 8, 8), torch.randn(2, 8)
    assert torch.allclose(ours(x, style), theirs(x, style), atol=1e-5)


def test_to_rgb_and_encoder_layer_match_basicsr_stylegan2():
    torch.manual_seed(3)
    ours, theirs = ToRGB(6, 8), bsr.ToRGB(6, 8, upsample=True)
    theirs.load_state_dict({k.replace('conv.', 'modulated_conv.', 1): v
                            for k, v in ours.state_dict().items() if not k.endswith('kernel')})
    x, style, skip = torch.randn(2, 6, 8, 8), torch.randn(2, 8), torch.randn(2, 3, 4, 4)
    assert torch.allclose(ours(x, style, skip), theirs(x, style, skip), atol=1e-5)

    ours, theirs = encoder_layer(6, 5, 3, downsample=True), bsr.ConvLayer(6, 5, 3, downsample=True)
    theirs.load_state_dict({k: v for k, v in ours.state_dict().items() if not k.endswith('kernel')})
    torch.nn.init.normal_(ours[2].bias)
    theirs[2].bias.data.copy_(ours[2].bias)
    x = torch.randn(2, 6, 16, 16)
    assert ours(x).shape == (2, 5, 8, 8)
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)


def test_model_path_loads_bit_identical_weights(tmp_path):
    state_dict = random_state_dict(GPEN(**SMALL))
    path = tmp_path / 'gpen.pth'
    torch.save(state_dict, path)
    loaded = GPEN(**SMALL, model_path=str(path)).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state_dict.items())
    torch.save({'params_ema': state_dict}, tmp_path / 'wrapped.pth')
    loaded = GPEN(**SMALL, model_path=str(tmp_path / 'wrapped.pth'), param_key='params_ema').state_dict()
    assert torch.equal(loaded['final_linear.0.weight'], state_dict['final_linear.0.weight'])


def test_wrong_key_or_shape_is_named(tmp_path):
    state_dict = random_state_dict(GPEN(**SMALL))
    state_dict['generator.convs.1.noise.weight_typo'] = state_dict.pop('generator.convs.1.noise.weight')
    state_dict['ecd1.0.1.weight'] = state_dict['ecd1.0.1.weight'][:, :1]
    path = tmp_path / 'bad.pth'
    torch.save(state_dict, path)
    with pytest.raises(RuntimeError) as error:
        GPEN(**SMALL, model_path=str(path))
    message = str(error.value)
    for fragment in (str(path), 'generator.convs.1.noise.weight', 'weight_typo', 'ecd1.0.1.weight'):
        assert fragment in message
    with pytest.raises(FileNotFoundError, match='GPEN-BFR-512.pth'):
        GPEN(**SMALL, model_path=str(tmp_path / 'missing.pth'))


def test_wrong_input_raises_value_error():
    model = GPEN(**SMALL)
    with pytest.raises(ValueError, match=r'\(B, 3, 32, 32\)'):
        model(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match='floating'):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match='power of two'):
        GPEN(size=48)
