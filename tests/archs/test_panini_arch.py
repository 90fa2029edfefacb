"""PaniniNet and DRE: registry, shapes, gradients, prior equivalence, weight loading, analysis hooks."""
import pytest
import torch

import panini_arch  # noqa: F401
from basicsr.archs.stylegan2_arch import StyleGAN2Generator
from basicsr.utils.registry import ARCH_REGISTRY
from panini_arch.archs.arch_util import without_weight_paths
from panini_arch.archs.dre_arch import DRE
from panini_arch.archs.panini_blocks import CBAM
from panini_arch.archs.panini_arch import PaniniNet
from panini_arch.archs.presets import PRESETS

TINY = PRESETS['tiny']
VARIANTS = {
    'fr': {},
    'sr': dict(degradation_input='learned', cbam_reduction=8),
    'catconv': dict(fusion='catconv'),
}


def tiny(**kwargs):
    torch.manual_seed(0)
    return PaniniNet(**{**TINY, **kwargs})


@pytest.fixture(scope='module')
def net():
    return tiny().eval()


@pytest.fixture(scope='module')
def lq():
    torch.manual_seed(1)
    return torch.rand(2, 3, 64, 64) * 2 - 1


def test_registry_builds_from_yaml_style_kwargs():
    built = ARCH_REGISTRY.get('PaniniNet')(**TINY)
    assert isinstance(built, PaniniNet)
    assert ARCH_REGISTRY.get('DRE') is DRE


def test_dre_shapes_and_head():
    dre = DRE(with_head=True, head_dim=128)
    v_dr = dre(torch.rand(3, 3, 300, 200))
    assert v_dr.shape == (3, 256)
    assert dre.project(v_dr).shape == (3, 128)
    with pytest.raises(RuntimeError, match='with_head=False'):
        DRE().project(v_dr)


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_forward_backward_every_learnable_parameter_gets_a_gradient(variant, lq):
    model = tiny(**VARIANTS[variant]).train()
    out = model(lq)
    assert out.shape == (2, 3, 128, 128) and torch.isfinite(out).all()
    out.square().mean().backward()
    learnable = {name for name, p in model.named_parameters() if p.requires_grad}
    without_grad = sorted(name for name, p in model.named_parameters() if p.requires_grad and p.grad is None)
    assert learnable and not without_grad
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert all(name.startswith('generator.style_mlp.') or name.startswith('dre.') for name in frozen)


def test_fixed_dre_gets_no_gradient_and_keeps_eval_mode(lq):
    model = tiny(fix_dre=True).train()
    assert not model.dre.training
    model(lq).mean().backward()
    assert all(p.grad is None and not p.requires_grad for p in model.dre.parameters())


def test_unfixed_dre_learns(lq):
    model = tiny(fix_dre=False).train()
    assert model.dre.training
    model(lq).mean().backward()
    assert all(p.grad is not None for p in model.dre.parameters())


def test_prior_path_equals_stylegan2_generator_on_same_codes(net, lq):
    with torch.no_grad():
        out = net(lq, drop='ife', mask_bias=100.0)
        _, latent = net.encode(lq)
        reference = StyleGAN2Generator(128, num_style_feat=64, narrow=1 / 16)
        reference.load_state_dict(net.generator.state_dict())
        expected, _ = reference([latent], input_is_latent=True, randomize_noise=False)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_masks_lie_in_open_unit_interval_and_theta_is_dafi5_mean(net, lq):
    with torch.no_grad():
        image, masks = net(lq, return_masks=True)
    channels = net.generator.channels['64']
    assert masks.shape == (2, 5, channels)
    assert ((masks > 0) & (masks < 1)).all()
    theta = masks[:, 4].mean(1)
    assert theta.shape == (2, )
    torch.testing.assert_close(image, net(lq))


def test_mask_bias_moves_masks_towards_the_prior(net, lq):
    with torch.no_grad():
        base = net.degradation_masks(lq)
        up = net.degradation_masks(lq, mask_bias=2.0)
        per_level = net.degradation_masks(lq, mask_bias=torch.tensor([0., 0., 0., 0., -3.]))
        out_base, out_biased = net(lq), net(lq, mask_bias=2.0)
    assert (up > base).all()
    torch.testing.assert_close(per_level[:, :4], base[:, :4])
    assert (per_level[:, 4] < base[:, 4]).all()
    assert not torch.allclose(out_base, out_biased)
    with pytest.raises(ValueError, match='mask_bias'):
        net(lq, mask_bias=torch.zeros(3))


def test_drop_removes_one_source_as_in_eq12_eq13(net, lq):
    with torch.no_grad():
        full = net(lq)
        y_ife = net(lq, drop='gpb')
        y_gpb = net(lq, drop='ife')
        all_ife = net(lq, drop='gpb', mask_bias=-100.0)
        plain = net(lq, mask_bias=-100.0)
    assert not torch.allclose(full, y_ife) and not torch.allclose(full, y_gpb)
    assert not torch.allclose(y_ife, y_gpb)
    torch.testing.assert_close(all_ife, plain, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='drop'):
        net(lq, drop='both')


def test_catconv_has_no_masks_but_supports_drop(lq):
    model = tiny(fusion='catconv').eval()
    assert model.dre is None and model.mask_generator is None
    with torch.no_grad():
        assert not torch.allclose(model(lq), model(lq, drop='gpb'))
    with pytest.raises(ValueError, match='Cat-Conv'):
        model(lq, return_masks=True)
    with pytest.raises(ValueError, match='Cat-Conv'):
        model(lq, mask_bias=1.0)


@pytest.mark.parametrize('bad,match', [
    (torch.rand(1, 3, 32, 32), '64x64'),
    (torch.rand(1, 1, 64, 64), 'channels'),
    (torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8), 'floating-point'),
    (torch.rand(3, 64, 64), r'\(B, 3, 64, 64\)'),
])
def test_bad_input_raises_value_error_saying_what_was_expected(net, bad, match):
    with pytest.raises(ValueError, match=match):
        net(bad)


@pytest.mark.parametrize('kwargs,match', [
    (dict(in_size=48), 'power of two'),
    (dict(out_size=64), 'larger'),
    (dict(fusion='sum'), 'fusion'),
    (dict(degradation_input='none'), 'degradation_input'),
    (dict(fusion='catconv', dre_path='x.pth'), 'dre_path'),
])
def test_bad_configuration_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def authors_cbam(x, cbam, training):
    """The authors' CBAM written out with functional ops and the module's tensors."""
    def pre(t):
        return torch.nn.functional.conv2d(t, cbam.pre.weight, cbam.pre.bias, padding=1)

    def mlp(t):
        first, _, second = cbam.channel_mlp
        return torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(t, first.weight, first.bias)),
                                          second.weight, second.bias)

    y = pre(x)
    y = y * torch.sigmoid(mlp(y.mean(dim=(2, 3))) + mlp(y.flatten(2).max(dim=2).values))[:, :, None, None]
    z = pre(y)
    stats = torch.cat([z.max(dim=1, keepdim=True).values, z.mean(dim=1, keepdim=True)], dim=1)
    spatial = torch.nn.functional.conv2d(stats, cbam.spatial_conv.weight, None, padding=3)
    bn = cbam.spatial_bn
    if training:
        mean, var = spatial.mean(), spatial.var(unbiased=False)
    else:
        mean, var = bn.running_mean, bn.running_var
    normed = (spatial - mean) / torch.sqrt(var + 1e-5) * bn.weight + bn.bias
    return z * torch.sigmoid(normed), spatial


@pytest.mark.parametrize('training', [True, False])
def test_cbam_computes_the_authors_formula(training):
    torch.manual_seed(3)
    cbam = CBAM(8, reduction=2)
    with torch.no_grad():
        for tensor in cbam.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.randn_like(tensor) * 0.3)
        cbam.spatial_bn.running_var.uniform_(0.5, 1.5)
    assert cbam.spatial_conv.bias is None and cbam.spatial_bn.momentum == 0.01 and cbam.spatial_bn.eps == 1e-5
    x = torch.randn(3, 8, 12, 10)
    running_mean, running_var = cbam.spatial_bn.running_mean.clone(), cbam.spatial_bn.running_var.clone()
    with torch.no_grad():
        expected, spatial = authors_cbam(x, cbam, training)
        cbam.train(training)
        torch.testing.assert_close(cbam(x), expected, atol=1e-6, rtol=1e-5)
    if training:  # running statistics move 1% towards the batch's (unbiased variance)
        running_mean = 0.99 * running_mean + 0.01 * spatial.mean()
        running_var = 0.99 * running_var + 0.01 * spatial.var(unbiased=True)
    torch.testing.assert_close(cbam.spatial_bn.running_mean, running_mean)
    torch.testing.assert_close(cbam.spatial_bn.running_var, running_var)


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_every_variant_builds_the_authors_cbam(variant):
    cbam = tiny(**VARIANTS[variant]).ife.cbam
    assert isinstance(cbam, CBAM) and isinstance(cbam.spatial_bn, torch.nn.BatchNorm2d)
    assert cbam.pre.bias is not None and cbam.pre.weight.shape == (4, 4, 3, 3)


def test_sizes_generalise_and_latent_count_follows_out_size():
    model = tiny(in_size=128, out_size=256)
    assert model.lce.num_latent == model.generator.num_latent == 14
    with torch.no_grad():
        assert model(torch.rand(1, 3, 128, 128)).shape == (1, 3, 256, 256)


def test_stylegan_weights_load_bit_identical(tmp_path):
    source = StyleGAN2Generator(128, num_style_feat=64, narrow=1 / 16)
    path = tmp_path / 'stylegan2.pth'
    torch.save({'params_ema': source.state_dict()}, path)
    model = tiny(stylegan_path=str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(model.generator.state_dict()[key], value), key


def test_dre_weights_from_udrl_export_load(tmp_path):
    dre = DRE(pool_size=64)
    path = tmp_path / 'net_dre_10.pth'
    torch.save({'params': dre.state_dict()}, path)
    model = tiny(dre_path=str(path))
    for key, value in dre.state_dict().items():
        assert torch.equal(model.dre.state_dict()[key], value), key


def test_weight_file_errors_name_file_and_keys(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        tiny(stylegan_path=str(tmp_path / 'missing.pth'))

    good = tmp_path / 'good.pth'
    torch.save({'params_ema': StyleGAN2Generator(128, num_style_feat=64, narrow=1 / 16).state_dict()}, good)
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(RuntimeError, match='truncated.pth'):
        tiny(stylegan_path=str(truncated))

    wrong_key = tmp_path / 'wrong_key.pth'
    torch.save({'params': {}}, wrong_key)
    with pytest.raises(KeyError, match="wrong_key.pth has no key 'params_ema'"):
        tiny(stylegan_path=str(wrong_key))

    wider = tmp_path / 'wider.pth'
    torch.save({'params_ema': StyleGAN2Generator(128, num_style_feat=64, narrow=1 / 8).state_dict()}, wider)
    with pytest.raises(RuntimeError, match=r'wider.pth.*shape mismatch.*constant_input.weight'):
        tiny(stylegan_path=str(wider))

    smaller = tmp_path / 'smaller.pth'
    torch.save({'params_ema': StyleGAN2Generator(64, num_style_feat=64, narrow=1 / 16).state_dict()}, smaller)
    with pytest.raises(RuntimeError, match=r'smaller.pth.*missing keys.*style_convs.8'):
        tiny(stylegan_path=str(smaller))


PARAMETER_COUNTS = {'fr': 94_208_252, 'sr16': 108_847_096, 'catconv': 119_261_688}  # as in the README


@pytest.mark.parametrize('name', sorted(PARAMETER_COUNTS))
def test_full_size_parameter_counts_match_the_readme(name):
    kwargs = dict(fusion='catconv') if name == 'catconv' else {}
    preset = dict(in_size=64, out_size=1024, rrdb_channels=64, num_rrdb=23, cbam_reduction=8,
                  degradation_input='learned', **kwargs) if name != 'fr' else {}
    with torch.device('meta'):
        model = PaniniNet(**preset)
    assert sum(p.numel() for p in model.parameters()) == PARAMETER_COUNTS[name]


@pytest.mark.slow
def test_full_size_panini_fr_has_published_parameter_count_and_runs():
    torch.manual_seed(0)
    model = PaniniNet().eval()
    assert sum(p.numel() for p in model.parameters()) == PARAMETER_COUNTS['fr']
    assert model.lce.linear.weight.numel() == 4096 * 18 * 512
    with torch.no_grad():
        out = model(torch.rand(1, 3, 512, 512) * 2 - 1)
    assert out.shape == (1, 3, 1024, 1024) and torch.isfinite(out).all()


def test_torchscript_trace_keeps_the_fusions(net, lq):
    with torch.no_grad():
        traced = torch.jit.trace(net, (lq, ), check_trace=False)
        torch.testing.assert_close(traced(lq), net(lq), atol=1e-5, rtol=0)


def test_dre_sees_the_input_pooled_to_its_pretraining_size(lq):
    model = tiny(dre_pool_size=16).eval()
    assert model.dre.pool_size == 16
    with torch.no_grad():
        pooled = torch.nn.functional.adaptive_avg_pool2d(lq, 16)
        expected = model.mask_generator(model.dre(pooled)).softmax(dim=2)[:, :, 0]
        torch.testing.assert_close(model.degradation_masks(lq), expected)
    assert tiny().dre.pool_size == 64  # 256 by default, never above the input size


def test_without_weight_paths_builds_a_net_whose_training_files_are_gone(tmp_path):
    gone = dict(stylegan_path=str(tmp_path / 'gone_sg.pth'), dre_path=str(tmp_path / 'gone.pth'))
    opt = dict(type='PaniniNet', **TINY, **gone)
    with pytest.raises(FileNotFoundError, match='gone'):
        ARCH_REGISTRY.get('PaniniNet')(**{k: v for k, v in opt.items() if k != 'type'})
    cleared = without_weight_paths(opt)
    assert cleared['stylegan_path'] is None and cleared['dre_path'] is None
    assert opt['stylegan_path'].endswith('gone_sg.pth')  # the caller's options are left as they were
    assert isinstance(ARCH_REGISTRY.get('PaniniNet')(**{k: v for k, v in cleared.items() if k != 'type'}), PaniniNet)
