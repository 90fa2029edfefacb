"""PaniniModel: training through panini_arch/train.py, overfitting, NaN handling, weight errors, options.

Everything uses options/train_panini_fr_tiny.yml (64 -> 128, 1/16 width, random
weights). Kill/resume and torchrun runs are in ``system/test_launchers.py``.
"""
import copy
import logging
import math
import os
import re
import sys

import pytest
import torch
from torch.nn import functional as F

from basicsr.data import build_dataset
from helpers import (TRAIN, assert_same_weights, check, load_params, panini_model, panini_tiny_options, run,
                      write_options)
from helpers import read_options as read_repo_options
from panini_arch.models.train_checks import NonFiniteLossError, check_weight_files

LOSS_LINE = re.compile(r'iter:\s+(\d+),.*l_g_pix: (\S+) l_g_percep: (\S+) l_g_gan: (\S+) l_d: (\S+)')


def read_options(name):
    """options/train_panini_<name>.yml as plain dicts (the plugin entry is the string it names)."""
    return read_repo_options(f'train_panini_{name}')


def fixed_batch(opt):
    """Validation sample 0 (deterministic degradation) as a batch of one."""
    dataset = build_dataset(dict(opt['datasets']['val'], phase='val'))
    return torch.utils.data.default_collate([dataset[0]])


def state_snapshot(model):
    return [copy.deepcopy(net.state_dict()) for net in (model.net_g, model.net_d, model.net_g_ema)]


@pytest.mark.parametrize('name, in_size, network', [
    ('fr', 512, {'fusion': 'dafi', 'degradation_input': 'dre', 'rrdb_channels': 8, 'num_rrdb': 2}),
    ('sr16', 64, {'fusion': 'dafi', 'degradation_input': 'learned', 'rrdb_channels': 64, 'num_rrdb': 23}),
    ('catconv_sr16', 64, {'fusion': 'catconv', 'rrdb_channels': 64, 'num_rrdb': 23}),
])
def test_paper_options_carry_the_published_settings(name, in_size, network):
    opt = read_options(name)
    assert opt['plugin'] == 'panini_arch.trainer' and opt['model_type'] == 'PaniniModel'
    net_g, train = opt['network_g'], opt['train']
    assert (net_g['in_size'], net_g['out_size'], net_g['channel_multiplier']) == (in_size, 1024, 2)
    assert network.items() <= net_g.items()
    assert opt['network_d'] == {'type': 'StyleGAN2Discriminator', 'out_size': 1024, 'channel_multiplier': 2}
    assert train['pixel_opt']['loss_weight'] == 1
    assert (train['perceptual_opt']['layer_index'], train['perceptual_opt']['loss_weight']) == (21, 1e-2)
    assert (train['gan_opt']['gan_type'], train['gan_opt']['loss_weight']) == ('vanilla', 1e-2)
    for optim in (train['optim_g'], train['optim_d']):
        assert (optim['type'], optim['lr'], optim['betas']) == ('Adam', 1e-4, [0.9, 0.99])
    assert train['scheduler']['eta_min'] == 1e-7 and train['total_iter'] == 800000
    assert opt['datasets']['train']['batch_size_per_gpu'] == 1 and opt['datasets']['train']['use_hflip']
    assert 'allow_random_vgg' not in train['perceptual_opt']
    with pytest.raises(FileNotFoundError) as error:  # none of the published files exists here
        check_weight_files(opt)
    for option in ('network_g.stylegan_path', 'path.pretrain_network_d', 'train.perceptual_opt.vgg_path'):
        assert option in str(error.value)


@pytest.mark.slow
def test_tiny_fr_options_train_log_losses_and_save(tmp_path):
    opt = panini_tiny_options()
    assert opt['train']['total_iter'] >= 30
    result = check(run(str(tmp_path), [sys.executable, TRAIN, '-opt', write_options(str(tmp_path), opt)]))

    logged = {int(m.group(1)): [float(v) for v in m.groups()[1:]] for m in LOSS_LINE.finditer(result.stderr)}
    assert sorted(logged) == [8, 16, 24, 32]
    assert all(math.isfinite(v) for values in logged.values() for v in values)
    assert 'Non-finite loss' not in result.stderr
    assert re.search(r'iter:\s+8,.* l_d_r1: \S+', result.stderr)  # lazy R1 every 4 iterations
    assert re.search(r'# psnr: \d+\.\d+', result.stderr) and re.search(r'# ssim: [0-9.]+', result.stderr)

    exp = os.path.join(str(tmp_path), 'experiments', opt['name'])
    checkpoint = torch.load(os.path.join(exp, 'models', 'net_g_32.pth'), weights_only=True)
    assert set(checkpoint) == {'params', 'params_ema'}
    assert not torch.equal(checkpoint['params']['lce.linear.weight'], checkpoint['params_ema']['lce.linear.weight'])
    assert set(load_params(os.path.join(exp, 'models', 'net_d_32.pth')))
    state = torch.load(os.path.join(exp, 'training_states', '32.state'), weights_only=True)
    assert state['iter'] == 32 and len(state['optimizers']) == 2 and len(state['schedulers']) == 2
    saved_images = os.listdir(os.path.join(exp, 'visualization', '0000'))
    assert '0000_32.png' in saved_images


def test_overfitting_one_image_lowers_l1_by_30_percent(tmp_path):
    """The full objective (L1 1, perceptual 1e-2, GAN 1e-2, D steps included) on one fixed pair.

    The GAN term keeps the paper's weight: at 1e-2 its gradient is small next to
    L1's, so the generator can still fit the image. The generator's learning rate
    is raised to 1e-3 (paper: 1e-4) so that 12 steps suffice.
    """
    opt = panini_tiny_options()
    opt['train']['optim_g']['lr'] = 1e-3
    model = panini_model(opt, tmp_path)
    batch = fixed_batch(opt)

    def l1():
        with torch.no_grad():
            return F.l1_loss(model.net_g(batch['lq']), batch['gt']).item()

    before = l1()
    for current_iter in range(1, 13):
        model.feed_data(batch)
        model.optimize_parameters(current_iter)
        assert math.isfinite(model.log_dict['l_g_gan']) and math.isfinite(model.log_dict['l_d'])
    assert l1() <= 0.7 * before


class Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_nonfinite_loss_skips_the_update_then_stops(tmp_path):
    opt = panini_tiny_options()
    opt['train']['max_nonfinite_steps'] = 3
    model = panini_model(opt, tmp_path)
    batch = fixed_batch(opt)
    poisoned = dict(batch, lq=torch.full_like(batch['lq'], float('nan')))
    records = Records()
    logging.getLogger('basicsr').addHandler(records)
    try:
        model.feed_data(batch)
        model.optimize_parameters(1)
        before = state_snapshot(model)
        adam_steps = [s['step'].item() for s in model.optimizer_g.state.values()]

        model.feed_data(poisoned)
        model.optimize_parameters(2)
        for saved, net in zip(before, (model.net_g, model.net_d, model.net_g_ema)):
            assert_same_weights(saved, net.state_dict())
        assert [s['step'].item() for s in model.optimizer_g.state.values()] == adam_steps
        assert math.isnan(model.log_dict['l_g_pix'])
        warning = [m for m in records.messages if 'Non-finite loss at iteration 2' in m]
        assert warning and 'net_g and net_d and the EMA' in warning[0] and '1 in a row' in warning[0]

        model.feed_data(batch)
        model.optimize_parameters(3)  # a finite iteration resets the count
        assert not torch.equal(before[0]['lce.linear.weight'], model.net_g.state_dict()['lce.linear.weight'])
        model.feed_data(poisoned)
        model.optimize_parameters(4)
        model.optimize_parameters(5)
        with pytest.raises(NonFiniteLossError, match=r'iteration 6: 3 iterations in a row'):
            model.optimize_parameters(6)
    finally:
        logging.getLogger('basicsr').removeHandler(records)


@pytest.mark.parametrize('name', ['sr16_tiny', 'catconv_sr16_tiny'])
def test_tiny_sr_options_train(name, tmp_path):
    opt = panini_tiny_options(name)
    model = panini_model(opt, tmp_path)
    batch = fixed_batch(opt)
    assert batch['lq'].shape[-1] * opt['scale'] == batch['gt'].shape[-1] == opt['network_g']['out_size']
    before = copy.deepcopy(model.net_g.state_dict())
    model.feed_data(batch)
    model.optimize_parameters(1)
    assert {'l_g_pix', 'l_g_percep', 'l_g_gan', 'l_d'} <= set(model.log_dict)
    assert all(math.isfinite(v) for v in model.log_dict.values())
    assert not torch.equal(before['lce.linear.weight'], model.net_g.state_dict()['lce.linear.weight'])


def test_generator_waits_for_net_d_init_iters(tmp_path):
    opt = panini_tiny_options()
    opt['train']['net_d_init_iters'] = 1
    model = panini_model(opt, tmp_path)
    model.feed_data(fixed_batch(opt))
    before_g, before_d, _ = state_snapshot(model)
    model.optimize_parameters(1)
    assert_same_weights(before_g, model.net_g.state_dict())
    assert not torch.equal(before_d['final_linear.1.weight'], model.net_d.state_dict()['final_linear.1.weight'])
    assert 'l_g_pix' not in model.log_dict and 'l_d' in model.log_dict
    model.optimize_parameters(2)
    assert not torch.equal(before_g['lce.linear.weight'], model.net_g.state_dict()['lce.linear.weight'])
    assert 'l_g_pix' in model.log_dict


def test_missing_weight_files_are_named(tmp_path):
    opt = panini_tiny_options()
    missing_g = str(tmp_path / 'stylegan2.pth')
    opt['network_g']['stylegan_path'] = missing_g
    opt['path']['pretrain_network_d'] = str(tmp_path / 'discriminator.pth')
    with pytest.raises(FileNotFoundError) as error:
        panini_model(opt, tmp_path)
    message = str(error.value)
    assert f'network_g.stylegan_path = {missing_g}: file not found' in message
    assert 'path.pretrain_network_d' in message and 'discriminator.pth' in message
    assert 'download_pretrained_models.py StyleGAN' in message

    opt = panini_tiny_options()
    opt['train']['perceptual_opt']['allow_random_vgg'] = False
    with pytest.raises(ValueError, match=r'perceptual_opt\.vgg_path is not set.*vgg16-397923af\.pth'):
        panini_model(opt, tmp_path)


def test_bf16_autocast_and_channels_last_train(tmp_path):
    opt = panini_tiny_options()
    opt['train'].update(use_amp=True, amp_dtype='bf16', channels_last=True)
    model = panini_model(opt, tmp_path)
    model.feed_data(fixed_batch(opt))
    assert model.lq.is_contiguous(memory_format=torch.channels_last)
    before = copy.deepcopy(model.net_g.state_dict())
    model.optimize_parameters(1)
    assert all(math.isfinite(v) for v in model.log_dict.values())
    assert model.output.dtype == torch.float32
    assert not torch.equal(before['lce.linear.weight'], model.net_g.state_dict()['lce.linear.weight'])

    opt['train']['amp_dtype'] = 'fp16'
    with pytest.raises(ValueError, match='fp16 needs a CUDA device'):
        panini_model(opt, tmp_path)
