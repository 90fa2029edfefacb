"""Options are validated before work starts; every error names the option path."""
import os

import pytest
import torch

import panini_arch  # noqa: F401
from helpers import FACES, REPO
from panini_arch import train as train_entry
from panini_arch.models.option_checks import OptionError, check_options
from panini_arch.utils.safe_load import load_options, load_options_text


def shipped(name):
    opt = load_options(os.path.join(REPO, 'options', name))
    for dataset in opt['datasets'].values():
        for key in ('dataroot_gt', 'meta_info'):
            if dataset.get(key):
                dataset[key] = os.path.join(REPO, dataset[key])
    return opt


def errors(opt):
    with pytest.raises(OptionError) as info:
        check_options(opt, 'x.yml')
    return str(info.value)


def test_shipped_tiny_options_pass():
    for name in ('train_panini_fr_tiny.yml', 'train_panini_sr16_tiny.yml', 'train_panini_catconv_sr16_tiny.yml'):
        check_options(shipped(name))
    opt = shipped('train_udrl_tiny.yml')
    opt['datasets']['train']['dataroot_gt'] = FACES
    check_options(opt)


@pytest.mark.parametrize('section, key, value, expected', [
    ('datasets.train', 'downsample_rnage', [1, 2], "datasets.train.downsample_rnage: unknown option; did you mean "
                                                   "'downsample_range'?"),
    ('datasets.val', 'gt_size', -1, 'datasets.val.gt_size: must be >= 1, got -1'),
    ('datasets.train', 'batch_size_per_gpu', 0, 'datasets.train.batch_size_per_gpu: must be >= 1, got 0'),
    ('datasets.train', 'in_size', '64', "datasets.train.in_size: '64' is a string"),
    ('train', 'ema_decy', 0.9, "train.ema_decy: unknown option; did you mean 'ema_decay'?"),
    ('train', 'ema_decay', 'high', "train.ema_decay: must be a number, got the string 'high'"),
    ('train', 'ema_decay', 1.5, 'train.ema_decay: must be >= 0 and <= 1, got 1.5'),
    ('train', 'total_iter', -5, 'train.total_iter: must be >= 1, got -5'),
    ('train', 'total_iter', 0, 'train.total_iter: must be >= 1, got 0'),
    ('train', 'net_d_reg_every', 0, 'train.net_d_reg_every: must be >= 1'),
    ('train.optim_g', 'lr', -1.0, 'train.optim_g.lr: must be > 0, got -1.0'),
    ('train.optim_d', 'betas', [0.9], 'train.optim_d.betas: must be two numbers'),
    ('train.scheduler', 'periods', [0], 'train.scheduler.periods[0]: must be >= 1, got 0'),
    ('train.pixel_opt', 'loss_weight', 'one', "train.pixel_opt.loss_weight: must be a number, got the string 'one'"),
    ('logger', 'print_freq', 0, 'logger.print_freq: must be >= 1, got 0'),
])
def test_bad_option_is_named(section, key, value, expected):
    opt = shipped('train_panini_fr_tiny.yml')
    node = opt
    for name in section.split('.'):
        node = node[name]
    node[key] = value
    assert expected in errors(opt)


def test_exponent_without_dot_read_as_string_by_yaml_is_explained():
    text = open(os.path.join(REPO, 'options', 'train_panini_fr_tiny.yml'), encoding='utf-8').read()
    opt = load_options_text(text.replace('lr: !!float 1e-4', 'lr: 1e-4'))
    assert opt['train']['optim_g']['lr'] == '1e-4'  # YAML 1.1
    message = errors(opt)
    assert "train.optim_g.lr: '1e-4' is a string" in message and '1.0e-4' in message and 'x.yml' in message


def test_udrl_train_keys_and_ranges():
    opt = shipped('train_udrl_tiny.yml')
    opt['datasets']['train']['dataroot_gt'] = FACES
    opt['train'].update(moco_m=1.0, queue_sise=10, degrade_on_device=True)
    message = errors(opt)
    assert 'train.moco_m: must be >= 0 and < 1, got 1.0' in message
    assert "train.queue_sise: unknown option; did you mean 'queue_size'?" in message
    assert 'train.degrade_on_device: moved to datasets.train.degrade_on_device' in message  # the old switch
    assert 'degrade_on_device: unknown' not in message


def test_num_gpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    opt = shipped('train_panini_fr_tiny.yml')
    opt['num_gpu'] = 1
    assert 'num_gpu: 1 but CUDA is not available' in errors(opt)


def test_gt_lq_mismatch_is_named(tmp_path):
    for sub, names in (('GT', ['a.png', 'b.png', 'c.png']), ('LQ', ['a.png', 'c.png', 'x.png'])):
        (tmp_path / sub).mkdir()
        for name in names:
            (tmp_path / sub / name).write_bytes(b'')
    opt = load_options(os.path.join(REPO, 'options', 'test_panini_fr.yml'))
    opt['datasets']['test'].update(dataroot_gt=str(tmp_path / 'GT'), dataroot_lq=str(tmp_path / 'LQ'))
    message = errors(opt)
    assert '1 image(s) in dataroot_gt' in message and 'b.png' in message
    assert '1 image(s) in dataroot_lq' in message and 'x.png' in message


def run_train(tmp_path, run_entry, opt_text):
    path = tmp_path / 'opt.yml'
    path.write_text(opt_text, encoding='utf-8')
    return run_entry(train_entry.main, path)


def test_trainer_stops_on_bad_options_before_any_work(tmp_path, run_entry, capsys):
    text = open(os.path.join(REPO, 'options', 'train_panini_fr_tiny.yml'), encoding='utf-8').read()
    assert run_train(tmp_path, run_entry, text.replace('total_iter: 32', 'total_iter: -5')) == 2
    assert 'train.total_iter: must be >= 1, got -5' in capsys.readouterr().err
    assert not (tmp_path / 'experiments').exists()


def test_dataset_smaller_than_one_batch_is_an_error(tmp_path, run_entry, capsys):
    text = open(os.path.join(REPO, 'options', 'train_udrl_tiny.yml'), encoding='utf-8').read()
    text = text.replace('      num: 512\n', '      num: 16\n')  # 16 drawn training faces
    text = text.replace('dataroot_gt: data/faces_udrl_val', f'dataroot_gt: {REPO}/data/faces_udrl_val')
    assert run_train(tmp_path, run_entry, text) == 2
    err = capsys.readouterr().err
    assert 'datasets.train: 16 image(s)' in err and 'fewer than batch_size_per_gpu=32' in err
