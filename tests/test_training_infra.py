"""Training infrastructure: BasicSR's trainer with the plugin, on CPU, one or two processes, resume.

Uses BasicSR's own SRModel with a tiny MSRResNet on a generated three-image
paired folder (random crops, flips and rotations from Python's ``random``,
validation every save), so it depends on no Panini model. Runs are subprocesses with
``OMP_NUM_THREADS=1``; ``training_hooks`` (imported by the options file)
can SIGKILL a run after a save and dumps every rank's final weights.
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml

import panini_arch.trainer  # noqa: F401  (before basicsr: makes it importable, applies the trainer fixes)
import basicsr
from panini_arch.trainer import checkpoint, patches
from panini_arch.trainer.checkpoint import ResumableSampler, TrainingStateError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(REPO, 'panini_arch', 'train.py')
TEST = os.path.join(REPO, 'panini_arch', 'test.py')
NAME = 'infra'
TOTAL_ITER = 12
SAVE_FREQ = 4
TAGS = ('plugin: !!python/name:panini_arch.trainer.__name__\n'
        'test_hooks: !!python/name:training_hooks.__name__\n')


def tiny_options(data_root):
    """Options for a tiny SRModel run with validation at every save."""
    return {
        'name': NAME,
        'model_type': 'SRModel',
        'scale': 2,
        'num_gpu': 0,
        'manual_seed': 0,
        'datasets': {
            'train': {
                'name': 'three_images',
                'type': 'PairedImageDataset',
                'dataroot_gt': os.path.join(data_root, 'gt'),
                'dataroot_lq': os.path.join(data_root, 'lq'),
                'io_backend': {'type': 'disk'},
                'gt_size': 16,
                'use_hflip': True,
                'use_rot': True,
                'num_worker_per_gpu': 0,
                'batch_size_per_gpu': 1,
                'dataset_enlarge_ratio': 1,
            },
            'val': {
                'name': 'pairs',
                'type': 'PairedImageDataset',
                'dataroot_gt': os.path.join(data_root, 'gt'),
                'dataroot_lq': os.path.join(data_root, 'lq'),
                'io_backend': {'type': 'disk'},
            },
        },
        'network_g': {'type': 'MSRResNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1,
                      'upscale': 2},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {
            'optim_g': {'type': 'Adam', 'lr': 1e-2, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [6], 'gamma': 0.5},
            'total_iter': TOTAL_ITER,
            'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
        },
        'val': {'val_freq': SAVE_FREQ, 'save_img': False, 'metrics': {'psnr': {'type': 'calculate_psnr',
                                                                                 'crop_border': 0}}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': SAVE_FREQ, 'use_tb_logger': True},
    }


def write_options(folder, opt):
    """Write ``opt`` to ``folder/options.yml`` headed by the plugin and test-hook tags; return the path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, 'options.yml')
    with open(path, 'w') as f:
        f.write(TAGS + yaml.safe_dump(opt, sort_keys=False))
    return path


def run(cwd, args, path=(), **env):
    """Run ``args`` in ``cwd`` with the repository, tests/ and ``path`` importable."""
    full_env = {key: value for key, value in os.environ.items() if key != 'PANINI_TEST_KILL_AFTER_ITER'}
    full_env.update(PYTHONPATH=os.pathsep.join([*path, REPO, TESTS]), OMP_NUM_THREADS='1', **env)
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=240)


def check(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def experiment(root):
    return os.path.join(root, 'experiments', NAME)


def load_params(path):
    return torch.load(path, map_location='cpu', weights_only=True)['params']


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """Three 24x24 GT images and their 12x12 LQ versions."""
    root = tmp_path_factory.mktemp('pairs')
    for sub in ('gt', 'lq'):
        os.makedirs(root / sub)
    rng = np.random.default_rng(0)
    for name in ('a', 'b', 'c'):
        image = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
        assert cv2.imwrite(str(root / 'gt' / f'{name}.png'), image)
        assert cv2.imwrite(str(root / 'lq' / f'{name}.png'), cv2.resize(image, (12, 12), interpolation=cv2.INTER_AREA))
    return str(root)


@pytest.fixture(scope='module')
def reference_run(tmp_path_factory, data_root):
    """An uninterrupted single-process run; returns its root folder."""
    root = str(tmp_path_factory.mktemp('reference'))
    check(run(root, [sys.executable, TRAIN, '-opt', write_options(root, tiny_options(data_root))]))
    return root


def test_single_process_trains_and_saves(reference_run):
    exp = experiment(reference_run)
    for it in (4, 8, 12):
        assert os.path.isfile(os.path.join(exp, 'models', f'net_g_{it}.pth'))
        state = checkpoint.read_training_state(os.path.join(exp, 'training_states', f'{it}.state'))
        assert state['iter'] == it and len(state['optimizers']) == 1 and len(state['schedulers']) == 1
        assert set(state['rng']) >= {'python', 'numpy_key', 'torch'}
    assert os.path.isfile(os.path.join(exp, 'models', 'net_g_latest.pth'))
    for folder in ('models', 'training_states'):
        assert not [n for n in os.listdir(os.path.join(exp, folder)) if n.endswith('.tmp')]
    assert os.listdir(os.path.join(reference_run, 'tb_logger', NAME))
    log = open([os.path.join(exp, n) for n in os.listdir(exp) if n.endswith('.log')][0]).read()
    assert re.search(r'\[infra\.\.\]\[epoch:\s+\d+, iter:\s+12, lr:\(5\.000e-03,\)\].* l_pix: ', log)
    first = load_params(os.path.join(exp, 'models', 'net_g_4.pth'))
    last = load_params(os.path.join(exp, 'models', 'net_g_latest.pth'))
    assert not torch.equal(first['conv_first.weight'], last['conv_first.weight'])


def test_test_pipeline_with_trained_weights(tmp_path, reference_run, data_root):
    opt = tiny_options(data_root)
    weights = os.path.join(experiment(reference_run), 'models', 'net_g_latest.pth')
    opt.update(name='infra_test', path={'pretrain_network_g': weights}, datasets={'test_1': opt['datasets']['val']})
    opt['val'].update(save_img=True, suffix=None)
    del opt['train'], opt['logger']
    result = check(run(str(tmp_path), [sys.executable, TEST, '-opt', write_options(str(tmp_path), opt)]))
    assert re.search(r'# psnr: \d+\.\d+', result.stderr)
    images = os.listdir(tmp_path / 'results' / 'infra_test' / 'visualization' / 'pairs')
    assert sorted(images) == ['a_infra_test.png', 'b_infra_test.png', 'c_infra_test.png']


@pytest.mark.slow
def test_auto_resume_after_sigkill_matches_uninterrupted_run(tmp_path, reference_run, data_root):
    root = str(tmp_path)
    opt = write_options(root, tiny_options(data_root))
    killed = run(root, [sys.executable, TRAIN, '-opt', opt], PANINI_TEST_KILL_AFTER_ITER='8')
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    states = sorted(os.listdir(os.path.join(experiment(root), 'training_states')))
    assert states == ['4.state', '8.state']
    assert not os.path.exists(os.path.join(experiment(root), 'models', 'net_g_latest.pth'))

    resumed = check(run(root, [sys.executable, TRAIN, '-opt', opt, '--auto_resume']))
    assert re.search(r'Resuming training from epoch: \d+, iter: 8\.', resumed.stderr)
    assert_same_weights(
        load_params(os.path.join(experiment(root), 'models', 'net_g_latest.pth')),
        load_params(os.path.join(experiment(reference_run), 'models', 'net_g_latest.pth')))


@pytest.mark.slow
def test_torchrun_two_processes_gloo_identical_weights(tmp_path, data_root):
    root = str(tmp_path)
    opt = write_options(root, tiny_options(data_root))
    result = check(
        run(root, [
            sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', TRAIN, '-opt', opt,
            '--launcher', 'pytorch'
        ]))
    assert 'World size (gpu number): 2' in result.stderr
    exp = experiment(root)
    rank0 = torch.load(os.path.join(exp, 'rank0_net_g.pth'), weights_only=True)
    rank1 = torch.load(os.path.join(exp, 'rank1_net_g.pth'), weights_only=True)
    assert_same_weights(rank0, rank1)
    assert_same_weights(rank0, load_params(os.path.join(exp, 'models', 'net_g_latest.pth')))


@pytest.mark.slow
def test_unmodified_basicsr_train_script_with_plugin_tag(tmp_path, data_root):
    """BasicSR's train.py, copied verbatim: a killed run, then --auto_resume through its slurm launcher.

    pip's basicsr 1.4.2 cannot even be imported under torchvision >= 0.17
    (BasicSR's checkout fixed that import, XPixelGroup/BasicSR#650); a
    ``sitecustomize`` aliasing the module (without importing panini_arch)
    stands in for that fix. Everything else comes from the ``plugin:`` tag.
    """
    root = str(tmp_path)
    startup = os.path.join(root, 'startup')
    os.makedirs(startup)
    with open(os.path.join(startup, 'sitecustomize.py'), 'w') as f:
        f.write('import sys\nimport torchvision.transforms._functional_tensor as new\n'
                "sys.modules['torchvision.transforms.functional_tensor'] = new\n")
    script = os.path.join(root, 'basicsr', 'train.py')
    os.makedirs(os.path.dirname(script))
    shutil.copyfile(os.path.join(os.path.dirname(basicsr.__file__), 'train.py'), script)
    opt = write_options(os.path.join(root, 'options'), tiny_options(data_root))
    killed = run(root, [sys.executable, script, '-opt', opt], path=[startup], PANINI_TEST_KILL_AFTER_ITER='4')
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]

    fake_bin = os.path.join(root, 'bin')
    os.makedirs(fake_bin)
    with open(os.path.join(fake_bin, 'scontrol'), 'w') as f:
        f.write('#!/bin/sh\necho 127.0.0.1\n')
    os.chmod(os.path.join(fake_bin, 'scontrol'), 0o755)
    slurm = dict(SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_NODELIST='node0', MASTER_PORT=str(free_port()),
                 PATH=fake_bin + os.pathsep + os.environ['PATH'])
    args = [sys.executable, script, '-opt', opt, '--launcher', 'slurm', '--auto_resume']
    resumed = check(run(root, args, path=[startup], **slurm))
    assert re.search(r'Resuming training from epoch: \d+, iter: 4\.', resumed.stderr)
    assert os.path.isfile(os.path.join(experiment(root), 'models', 'net_g_latest.pth'))


def test_local_rank_with_dash_is_accepted(tmp_path, data_root, monkeypatch):
    opt_path = write_options(str(tmp_path), tiny_options(data_root))
    monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', opt_path, '--local-rank=1'])
    opt, args = sys.modules['basicsr.train'].parse_options(str(tmp_path), is_train=True)
    assert args.local_rank == 1 and opt['dist'] is False


def adam_state(path, current_iter):
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.Adam([param])
    param.grad = torch.ones(3)
    optimizer.step()
    torch.save({'epoch': 0, 'iter': current_iter, 'optimizers': [optimizer.state_dict()], 'schedulers': []}, path)


def test_truncated_latest_state_is_skipped_for_auto_resume(tmp_path, capsys):
    for it in (4, 8):
        adam_state(tmp_path / f'{it}.state', it)
    data = (tmp_path / '8.state').read_bytes()
    (tmp_path / '8.state').write_bytes(data[:len(data) // 2])
    path, state = checkpoint.newest_training_state(str(tmp_path))
    assert path == str(tmp_path / '4.state') and state['iter'] == 4
    assert '8.state' in capsys.readouterr().out


def test_explicit_truncated_state_fails_with_clear_message(tmp_path):
    adam_state(tmp_path / '8.state', 8)
    data = (tmp_path / '8.state').read_bytes()
    (tmp_path / '8.state').write_bytes(data[:100])
    opt = {'auto_resume': False, 'num_gpu': 0, 'path': {'resume_state': str(tmp_path / '8.state')}}
    with pytest.raises(TrainingStateError, match=r'8\.state is unreadable'):
        checkpoint.load_resume_state(opt)


class NotAllowed:
    """A type torch's weights-only loader must refuse."""


def test_state_with_arbitrary_objects_is_refused(tmp_path):
    torch.save({'epoch': 0, 'iter': 1, 'optimizers': [NotAllowed()], 'schedulers': []}, tmp_path / '1.state')
    with pytest.raises(TrainingStateError, match='weights_only'):
        checkpoint.read_training_state(str(tmp_path / '1.state'))


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    target = tmp_path / 'net_g_latest.pth'
    checkpoint.atomic_save({'params': {'w': torch.zeros(2)}}, str(target))

    def broken_save(obj, path):
        with open(path, 'wb') as f:
            f.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        checkpoint.atomic_save({'params': {'w': torch.ones(2)}}, str(target))
    monkeypatch.undo()
    assert torch.equal(torch.load(target, weights_only=True)['params']['w'], torch.zeros(2))
    assert os.listdir(tmp_path) == ['net_g_latest.pth']


def test_backend_override_and_cpu_default(monkeypatch):
    monkeypatch.setenv('PANINI_DIST_BACKEND', 'mpi')
    assert patches.dist_backend() == 'mpi'
    monkeypatch.delenv('PANINI_DIST_BACKEND')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert patches.dist_backend() == 'gloo'


def test_resumed_epoch_skips_the_batches_already_trained_on(monkeypatch):
    sampler = ResumableSampler(list(range(6)), num_replicas=1, rank=0)
    sampler.set_epoch(1)
    full_epoch = list(sampler)
    monkeypatch.setattr(ResumableSampler, 'resume_point', {'epoch': 1, 'iter': 5, 'batch_size': 2, 'rng': None})
    assert list(sampler) == full_epoch[4:]  # 3 batches per epoch: iterations 4 and 5 of epoch 1 are done
    assert list(sampler) == full_epoch  # only the first pass after resuming skips


def test_validation_leaves_random_streams_alone():

    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    checkpoint.set_rng_state(checkpoint.rng_state())
    state = checkpoint.rng_state()
    expected = draw()
    checkpoint.set_rng_state(state)
    checkpoint.keep_rng_state(draw)()
    assert draw() == expected
