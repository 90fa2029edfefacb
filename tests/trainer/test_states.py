"""Training states are trustworthy: checksums, fallback, no non-finite saves, extended schedules, seeded data."""
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import panini_arch  # noqa: F401  (before basicsr: makes it importable)
from basicsr.models.lr_scheduler import CosineAnnealingRestartLR
from helpers import REPO, read_options
from panini_arch.data.panini_degradation_dataset import PaniniDegradationDataset
from panini_arch.models.base_model import PaniniBaseModel
from panini_arch.models.option_checks import OptionError, check_options
from panini_arch.trainer import checkpoint
from panini_arch.trainer.checkpoint import TrainingStateError
from panini_arch.utils.atomic import atomic_save
from panini_arch.utils.safe_load import ChecksumError, NonFiniteWeightsError, load_torch_file


def save_state(folder, current_iter):
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.Adam([param])
    state = {'epoch': 0, 'iter': current_iter, 'optimizers': [optimizer.state_dict()], 'schedulers': []}
    atomic_save(state, os.path.join(folder, f'{current_iter}.state'))


def flip_byte(path, offset=-40):
    data = bytearray(open(path, 'rb').read())
    data[offset] ^= 0x01
    open(path, 'wb').write(bytes(data))


def test_bit_flipped_state_is_detected_and_resume_falls_back(tmp_path, capsys):
    for it in (4, 8):
        save_state(str(tmp_path), it)
    assert (tmp_path / '8.state.sha256').is_file()
    flip_byte(tmp_path / '8.state')
    path, state = checkpoint.newest_training_state(str(tmp_path))
    assert path == str(tmp_path / '4.state') and state['iter'] == 4
    out = capsys.readouterr().out
    assert 'Skipping training state 8' in out and 'checksum' in out and 'falling back' in out
    with pytest.raises(TrainingStateError, match='checksum'):
        checkpoint.read_training_state(str(tmp_path / '8.state'))


def test_corrupt_network_of_the_newest_state_falls_back_too(tmp_path, capsys):
    states, models = tmp_path / 'states', tmp_path / 'models'
    states.mkdir()
    models.mkdir()
    for it in (4, 8):
        save_state(str(states), it)
        atomic_save({'params': {'w': torch.full((64, ), float(it))}}, str(models / f'net_g_{it}.pth'))
    flip_byte(models / 'net_g_8.pth', offset=-200)
    path, _ = checkpoint.newest_training_state(str(states), models_folder=str(models))
    assert path.endswith('4.state') and 'net_g_8.pth' in capsys.readouterr().out
    with pytest.raises(ChecksumError, match='net_g_8.pth'):
        load_torch_file(models / 'net_g_8.pth')


def test_non_finite_weights_are_not_saved_over_the_last_good_file(tmp_path):
    net = torch.nn.Linear(2, 2)
    model = SimpleNamespace(opt={'path': {'models': str(tmp_path)}}, get_bare_model=lambda n: n)
    PaniniBaseModel.save_network.__wrapped__(model, net, 'net_g', -1)
    good = (tmp_path / 'net_g_latest.pth').read_bytes()
    with torch.no_grad():
        net.weight[0, 0] = float('nan')
    with pytest.raises(NonFiniteWeightsError, match=r'net_g \(params\) at iteration -1 has NaN/inf weights'):
        PaniniBaseModel.save_network.__wrapped__(model, net, 'net_g', -1)
    assert (tmp_path / 'net_g_latest.pth').read_bytes() == good


def scheduled_model(periods):
    param = torch.nn.Parameter(torch.ones(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    return SimpleNamespace(optimizers=[optimizer],
                           schedulers=[CosineAnnealingRestartLR(optimizer, periods, [1] * len(periods), eta_min=0)])


def test_extended_schedule_resumes_with_the_new_periods(caplog):
    finished = scheduled_model([4])
    for _ in range(4):
        finished.optimizers[0].step()
        finished.schedulers[0].step()
    state = {'optimizers': [finished.optimizers[0].state_dict()], 'schedulers': [finished.schedulers[0].state_dict()]}
    extended, fresh = scheduled_model([8]), scheduled_model([8])
    PaniniBaseModel.resume_training(extended, state)
    assert extended.schedulers[0].periods == [8] and extended.schedulers[0].last_epoch == 4
    for _ in range(4):
        fresh.optimizers[0].step()
        fresh.schedulers[0].step()
    for _ in range(4):  # BasicSR's own resume fails here: its restored periods end at 4
        extended.optimizers[0].step()
        extended.schedulers[0].step()
        fresh.optimizers[0].step()
        fresh.schedulers[0].step()
        assert extended.optimizers[0].param_groups[0]['lr'] == pytest.approx(fresh.optimizers[0].param_groups[0]['lr'])


def test_schedule_shorter_than_total_iter_is_an_option_error():
    opt = read_options('train_panini_fr_tiny')
    opt['train']['total_iter'] = 64  # raised without the periods
    with pytest.raises(OptionError, match=r'train.scheduler.periods: sum to 32, fewer than train.total_iter=64'):
        check_options(opt)


def test_dataset_draws_no_os_entropy_with_a_seeded_run():
    opt = read_options('train_panini_fr_tiny')['datasets']['train']
    opt.update(dataroot_gt=os.path.join(REPO, opt['dataroot_gt']), meta_info=os.path.join(REPO, opt['meta_info']),
               phase='train')
    dataset = PaniniDegradationDataset(opt)

    def draws(seed):
        torch.manual_seed(seed)
        return [dataset[i]['deg_params'] for i in range(3)] + [dataset[0]['lq']]

    first, second, other = draws(0), draws(0), draws(1)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    assert np.unique([float(p[0]) for p in first[:3]]).size == 3
