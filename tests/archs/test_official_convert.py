"""The authors' checkpoints: detection, key maps, strict loads, bad files, direct use, the numerical fixture."""
import contextlib
import logging

import pytest
import torch
import torch.nn.functional as F

import panini_arch  # noqa: F401  (before basicsr)
from basicsr.archs.stylegan2_arch import StyleGAN2Discriminator, StyleGAN2Generator
from panini_arch import convert as convert_cli
from panini_arch.archs import official_convert as oc
from panini_arch.archs.dre_arch import DRE
from panini_arch.archs.panini_arch import PaniniNet
from panini_arch.archs.presets import PRESETS, build_generator, read_network_g
from panini_arch.utils.weights import load_weights

from make_official_fixture import CROP, POOL, seeded_input, tensor_sha256
from official_layouts import (discriminator_state_dict, fixture, key_list, official_file, rule_state_dict)

OPTIONS = {'mfr': 'options/test_panini_fr_official.yml', 'sr': 'options/test_panini_sr16_official.yml'}


@contextlib.contextmanager
def logged():
    """The messages logged to BasicSR's logger (INFO and up) inside the block."""
    messages, logger = [], logging.getLogger('basicsr')
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def network_g(name):
    return read_network_g(OPTIONS[name])


def panini_state_dict(name, with_rest=True):
    """A generator in the layout of panini_<name>_latest.pth, plus discriminator and perceptual-loss parts."""
    state = rule_state_dict(key_list(name), 'generator.')
    if with_rest:
        state.update(discriminator_state_dict())
        state['perceptual_loss.vgg.features.0.weight'] = torch.randn(64, 3, 3, 3)
        state['perceptual_loss.mean'] = torch.zeros(1, 3, 1, 1)
    return state


@pytest.fixture(scope='module')
def mfr():
    return official_file(panini_state_dict('mfr'))


def moco_file():
    """moco_checkpoint_0199.pth.tar's layout, built from this project's DRE with its head."""
    torch.manual_seed(0)
    query, key = DRE(with_head=True).state_dict(), DRE(with_head=True).state_dict()

    def official(state, encoder):
        names = {'body': 'E', 'head': 'mlp'}
        return {f'module.{encoder}.{names[k.split(".")[0]]}.{k.split(".", 1)[1]}': v for k, v in state.items()}

    state = {'module.queue': torch.randn(256, 8192), 'module.queue_ptr': torch.zeros(1, dtype=torch.long)}
    state.update(official(query, 'encoder_q'))
    state.update(official(key, 'encoder_k'))
    return {'epoch': 200, 'arch': 'resnet50', 'state_dict': state, 'optimizer': {'state': {}, 'param_groups': []}}, query


def stylegan2_file():
    """MMEditing's StyleGAN2 FFHQ layout: generator, generator_ema (the Panini prior's keys) and discriminator."""
    prior = {k[len('generator.generator.'):]: v for k, v in panini_state_dict('mfr', False).items()
             if k.startswith('generator.generator.')}
    state = {f'generator_ema.{k}': v for k, v in prior.items()}
    state.update({f'generator.{k}': v.clone() for k, v in prior.items()})
    state.update(discriminator_state_dict())
    return {'meta': {'mmedit_version': '0.14.0'}, 'state_dict': state}


def test_each_kind_is_detected(mfr):
    assert oc.detect_kind(mfr) == 'panini_mfr'
    assert oc.detect_kind(official_file(panini_state_dict('sr', False))) == 'panini_sr'
    assert oc.detect_kind(moco_file()[0]) == 'moco'
    assert oc.detect_kind(stylegan2_file()) == 'stylegan2'
    assert oc.detect_kind(mfr['state_dict']) == 'panini_mfr'  # a bare state dict too
    assert oc.detect_kind({'params_ema': DRE().state_dict()}) is None  # BasicSR's layout is not converted


@pytest.mark.parametrize('name', ['mfr', 'sr'])
def test_panini_converts_and_loads_strictly_into_the_official_options(name):
    official = official_file(panini_state_dict(name))
    conversion = oc.convert(official, f'panini_{name}_latest.pth')
    generator = conversion.networks['generator']
    assert generator.num_params == {'mfr': 94_208_252, 'sr': 108_847_096}[name]
    options = {k: v for k, v in network_g(name).items() if k != 'type'}
    assert all(options.get(k, v) == v for k, v in generator.options.items())
    with torch.device('meta'):
        net = PaniniNet(**options)
    net.load_state_dict(generator.state_dict, strict=True, assign=True)
    state = official['state_dict']
    for i in range(17):
        assert torch.equal(generator.state_dict[f'generator.noises.noise{i}'],
                           state[f'generator.generator.injected_noise_{i}'])
    for index in (0, 2):
        for param in ('weight', 'bias'):
            assert torch.equal(generator.state_dict[f'mask_generator.mlp.{index}.{param}'],
                               state[f'generator.AFS_maskGen.mapping.{index}.{param}'])
    if name == 'sr':
        assert torch.equal(generator.state_dict['learned_dr'], state['generator.choice_vector'])
    else:
        dre = {k: v for k, v in state.items() if k.startswith('generator.deg_encoder.E.')}
        assert len(dre) == 42
        for key, value in dre.items():
            assert torch.equal(generator.state_dict['dre.body.' + key[len('generator.deg_encoder.E.'):]], value)
    dropped = ' '.join(conversion.dropped)
    assert 'meta' in dropped and 'optimizer' in dropped and '16 constant kernel' in dropped
    assert '2 tensors perceptual_loss.*' in dropped


def test_discriminator_loads_strictly_into_basicsr_stylegan2_discriminator(mfr):
    network = oc.convert(mfr, 'panini_mfr_latest.pth').networks['discriminator']
    assert network.options == dict(out_size=1024, channel_multiplier=2)
    disc = StyleGAN2Discriminator(1024, channel_multiplier=2)
    disc.load_state_dict(network.state_dict, strict=True)
    source = mfr['state_dict']
    assert torch.equal(disc.conv_body[1].conv2[1].weight, source['discriminator.convs.1.conv2.1.conv.weight_orig'])
    assert torch.equal(disc.final_linear[0].bias, source['discriminator.final_linear.0.bias'])
    assert len(network.state_dict) == 64 - 16  # every tensor but the 16 blur kernels


def test_moco_gives_the_dre_with_and_without_its_head(tmp_path):
    checkpoint, query = moco_file()
    path = tmp_path / 'moco_checkpoint_0199.pth.tar'
    torch.save(checkpoint, path)
    out = tmp_path / 'net_dre_moco.pth'
    lines = []
    convert_cli.run(str(path), str(out), echo=lines.append)
    saved = torch.load(out, weights_only=True)
    with_head = DRE(with_head=True)
    with_head.load_state_dict(saved['params_with_head'], strict=True)
    bare = DRE()
    bare.load_state_dict(saved['params'], strict=True)
    for key, value in query.items():
        assert torch.equal(with_head.state_dict()[key], value), key
    assert 'momentum encoder_k' in '\n'.join(lines)
    net = PaniniNet(**PRESETS['tiny'], dre_path=str(out))  # what Panini training reads from dre_path
    assert torch.equal(net.dre.body[0].weight, query['body.0.weight'])
    direct = PaniniNet(**PRESETS['tiny'], dre_path=str(path))  # the MoCo file itself works too
    assert torch.equal(direct.dre.body[15].weight, query['body.15.weight'])


def test_stylegan2_gives_basicsr_generator_and_discriminator(tmp_path):
    checkpoint = stylegan2_file()
    path = tmp_path / 'stylegan2-ffhq-config-f-official.pth'
    torch.save(checkpoint, path)
    out, out_d = tmp_path / 'g.pth', tmp_path / 'd.pth'
    convert_cli.run(str(path), str(out), str(out_d), echo=lambda line: None)
    generator = StyleGAN2Generator(1024)
    generator.load_state_dict(torch.load(out, weights_only=True)['params_ema'], strict=True)
    StyleGAN2Discriminator(1024, channel_multiplier=2).load_state_dict(
        torch.load(out_d, weights_only=True)['params'], strict=True)
    ema = checkpoint['state_dict']
    assert torch.equal(generator.style_convs[3].modulated_conv.weight, ema['generator_ema.convs.3.conv.weight_orig'])
    assert torch.equal(generator.noises.noise5, ema['generator_ema.injected_noise_5'])


BAD_EDITS = [  # (key, value or None to delete, file name, expected message)
    ('generator.fusion_out.3.weight', None, 'm.pth', r'm.pth.*missing keys.*fusions.3.conv.weight'),
    ('generator.encoder.5.3.weight', torch.zeros(9216, 4000), 's.pth', r's.pth.*shape mismatch.*lce.linear.weight'),
    ('generator.extra_branch.weight', torch.zeros(3), 'u.pth', r'u.pth: keys no rule maps.*extra_branch.weight'),
    ('generator.generator.convs.0.conv.blur.kernel', torch.ones(4, 4), 'k.pth',
     r'k.pth.*constant buffers.*convs.0.conv.blur.kernel'),
    ('ema.something', torch.zeros(1), 'o.pth', r'o.pth.*outside the known parts.*ema.something'),
]


@pytest.mark.parametrize('key,value,name,message', BAD_EDITS)
def test_bad_layouts_get_errors_naming_file_and_keys(mfr, key, value, name, message):
    state = dict(mfr['state_dict'])
    if value is None:
        del state[key]
    else:
        state[key] = value
    with pytest.raises(oc.OfficialCheckpointError, match=message):
        oc.convert(official_file(state), name)


def test_bad_files_get_errors_naming_file_and_keys(tmp_path):
    with pytest.raises(oc.OfficialCheckpointError, match=r'weird.pth is in no layout.*params_ema'):
        oc.convert({'params_ema': {}}, 'weird.pth')
    good = tmp_path / 'moco.pth.tar'
    torch.save(moco_file()[0], good)
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(RuntimeError, match='truncated.pth'):
        convert_cli.run(str(truncated), str(tmp_path / 'out.pth'))
    with pytest.raises(oc.OfficialCheckpointError, match='is the input file'):
        convert_cli.run(str(good), str(good))
    with pytest.raises(SystemExit):
        convert_cli.main([str(tmp_path / 'absent.pth'), str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()
    with pytest.raises(oc.OfficialCheckpointError, match=r'moco.pth.tar is the authors\' UDRL/MoCo.*no PaniniNet'):
        load_weights(PaniniNet(**PRESETS['tiny']), str(good), convert=oc.state_dict_for)


def regenerate_and_check(name, tmp_path):
    """FIXTURE.md end to end: rule-made weights in a released-file layout -> panini-convert -> the
    official test options' network_g (strict) -> the authors' output for the fixture input.

    ``tolerance`` is FIXTURE.md's 1e-4 * max(1, max |output|) (4.3e-4 MFR, 5.5e-3 SR; converted nets
    measure 7.6e-6 / 7.6e-4 against the full float32 output, float32 summation order). The crops are
    stored in float16, which rounds to nearest with a relative error of at most 2^-11, so each crop value
    gets 2^-11 * |crop| (about 1e-3 at MFR's peak, 1.6e-2 at SR's) on top of ``tolerance``; a conversion
    error (a wrong key, BatchNorm or layout) moves outputs by about 1 (MFR) and 36 (SR). The 16x16 means
    and the statistics are float32/float64 and get ``tolerance`` alone.
    """
    expected = fixture(name)
    source = tmp_path / f'panini_{name}_latest.pth'
    torch.save(official_file(panini_state_dict(name)), source)
    converted = tmp_path / f'panini_{name}_official.pth'
    convert_cli.run(str(source), str(converted), echo=lambda line: None)
    net = build_generator(network_g(name), str(converted), 'params_ema')
    with logged() as messages:  # the released file itself, converted in memory
        direct = build_generator(network_g(name), str(source), 'params_ema')
    assert any('converted in memory to PaniniNet' in message for message in messages)
    for key, value in net.state_dict().items():
        assert torch.equal(direct.state_dict()[key], value), key
    del direct
    inputs = seeded_input(tuple(expected['input_shape']), expected['input_seed'])
    assert tensor_sha256(inputs) == expected['input_sha256'], 'this torch draws another fixture input'
    with torch.no_grad():
        output = net(inputs)
    tolerance = 1e-4 * max(1.0, expected['abs_max'])
    crops = torch.stack([output[0, :, top:top + CROP, left:left + CROP] for top, left in expected['crop_corners']])
    reference = expected['crops'].float()
    excess = (crops - reference).abs() - (2 ** -11 * reference.abs() + tolerance)
    assert excess.max() <= 0, f'crop |diff| exceeds float16 rounding + {tolerance:.3g} by {excess.max():.3g}'
    error = (F.avg_pool2d(output, POOL)[0] - expected['pooled']).abs().max().item()
    assert error <= tolerance, f'16x16 means: max |diff| {error:.3g} > {tolerance:.3g}'
    statistics = {'abs_max': output.abs().max(), 'mean': output.double().mean(), 'std': output.double().std()}
    for key, value in statistics.items():
        assert abs(value.item() - expected[key]) <= tolerance, f'{key}: {value.item():.6g} vs {expected[key]:.6g}'


@pytest.mark.slow
def test_fixture_mfr_matches_the_authors_forward(tmp_path):
    regenerate_and_check('mfr', tmp_path)


@pytest.mark.slow
def test_fixture_sr_matches_the_authors_forward(tmp_path):
    regenerate_and_check('sr', tmp_path)
