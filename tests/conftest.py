"""Helpers the tests share: the training launcher (subprocesses with the test hooks), options and weights.

Training runs are subprocesses of ``panini_arch/train.py`` (or ``torchrun`` of it) with
``OMP_NUM_THREADS=1``. The options they read start with :data:`TAGS`, the plugin line (the one
Python tag the options loader accepts); ``tests/hooks`` first on their PYTHONPATH loads
``training_hooks`` (this folder) at start-up, which can SIGKILL a run after a save and dumps
what every rank holds at the end (see ``training_hooks.py``).
"""
import copy
import os
import shutil
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml

import panini_arch  # noqa: F401  (first: makes basicsr importable)
from panini_arch.utils.safe_load import load_options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(REPO, 'panini_arch', 'train.py')
TEST = os.path.join(REPO, 'panini_arch', 'test.py')
FACES = os.path.join(REPO, 'data', 'faces_tiny')
HOOKS = os.path.join(TESTS, 'hooks')
TAGS = 'plugin: !!python/name:panini_arch.trainer.__name__\n'
HOOKS_TAG = 'test_hooks: !!python/name:training_hooks.__name__\n'  # BasicSR's own loader, above the plugin line
TORCHRUN = (sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2')


def read_options(name):
    """``options/<name>.yml`` as plain dicts and lists (the plugin entry is the string it names)."""
    return load_options(os.path.join(REPO, 'options', f'{name}.yml'))


def panini_tiny_options(name='fr_tiny'):
    """``options/train_panini_<name>.yml`` on ``data/faces_tiny`` (absolute paths), without the plugin entry."""
    opt = read_options(f'train_panini_{name}')
    opt.pop('plugin')
    for dataset in opt['datasets'].values():
        if opt.get('scale'):  # as BasicSR's parse_options does
            dataset['scale'] = opt['scale']
        dataset['dataroot_gt'] = FACES
        dataset['meta_info'] = os.path.join(FACES, 'meta_info.txt')
    return opt


def sr_options(pairs_root):
    """A tiny SRModel run: 12 iterations, a save and a validation every 4."""
    return {
        'name': 'infra',
        'model_type': 'SRModel',
        'scale': 2,
        'num_gpu': 0,
        'manual_seed': 0,
        'datasets': {
            'train': {
                'name': 'three_images',
                'type': 'PairedImageDataset',
                'dataroot_gt': os.path.join(pairs_root, 'gt'),
                'dataroot_lq': os.path.join(pairs_root, 'lq'),
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
                'dataroot_gt': os.path.join(pairs_root, 'gt'),
                'dataroot_lq': os.path.join(pairs_root, 'lq'),
                'io_backend': {'type': 'disk'},
            },
        },
        'network_g': {'type': 'MSRResNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1,
                      'upscale': 2},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {
            'optim_g': {'type': 'Adam', 'lr': 1e-2, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [6], 'gamma': 0.5},
            'total_iter': 12,
            'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
        },
        'val': {'val_freq': 4, 'save_img': False, 'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0}}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 4, 'use_tb_logger': True},
    }


def panini_model(opt, folder):
    """A training PaniniModel built in this process (no launcher), its files under ``folder``, seed 0."""
    from basicsr.models import build_model
    opt = copy.deepcopy(opt)
    opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False)
    opt['path'].update({key: str(folder / key) for key in ('models', 'training_states', 'visualization')})
    torch.manual_seed(0)
    return build_model(opt)


def write_options(folder, opt, tags=TAGS):
    """Write ``opt`` to ``folder/options.yml`` headed by ``tags`` (:data:`TAGS`); returns the path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, 'options.yml')
    with open(path, 'w') as f:
        f.write(tags + yaml.safe_dump(opt, sort_keys=False))
    return path


def basicsr_script(root, name='train.py'):
    """BasicSR's ``name`` (``train.py``, ``test.py``) copied verbatim to ``root/basicsr/``; returns it and a
    start-up folder for ``run``'s ``path``, whose ``sitecustomize`` aliases the torchvision module pip's basicsr
    1.4.2 imports (BasicSR's checkout fixed that import, XPixelGroup/BasicSR#650) without importing panini_arch."""
    import basicsr
    startup = os.path.join(root, 'startup')
    os.makedirs(startup)
    with open(os.path.join(startup, 'sitecustomize.py'), 'w') as f:
        f.write('import sys\nimport torchvision.transforms._functional_tensor as new\n'
                "sys.modules['torchvision.transforms.functional_tensor'] = new\n")
    script = os.path.join(root, 'basicsr', name)
    os.makedirs(os.path.dirname(script))
    shutil.copyfile(os.path.join(os.path.dirname(basicsr.__file__), name), script)
    return script, startup


def run(cwd, args, path=(), **env):
    """Run ``args`` in ``cwd`` with ``path``, the test hooks, the repository and tests/ importable, one thread
    per process."""
    full_env = {key: value for key, value in os.environ.items() if key != 'PANINI_TEST_KILL_AFTER_ITER'}
    full_env.update(PYTHONPATH=os.pathsep.join([*path, HOOKS, REPO, TESTS]), OMP_NUM_THREADS='1', **env)
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


def check(result):
    """``result`` if the process exited with 0; else fail with the end of its output."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def load_params(path, key='params'):
    """``torch.load(path)[key]`` on CPU, weights only."""
    return torch.load(path, map_location='cpu', weights_only=True)[key]


def assert_same_weights(a, b):
    """Two state dicts hold the same keys and bit-identical tensors."""
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='session')
def pairs_root(tmp_path_factory):
    """Three 24x24 GT images and their 12x12 LQ versions (``gt/``, ``lq/``) for BasicSR's SRModel."""
    root = tmp_path_factory.mktemp('pairs')
    for sub in ('gt', 'lq'):
        os.makedirs(root / sub)
    rng = np.random.default_rng(0)
    for name in ('a', 'b', 'c'):
        image = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
        assert cv2.imwrite(str(root / 'gt' / f'{name}.png'), image)
        assert cv2.imwrite(str(root / 'lq' / f'{name}.png'), cv2.resize(image, (12, 12), interpolation=cv2.INTER_AREA))
    return str(root)


@pytest.fixture
def run_entry(tmp_path, monkeypatch):
    """``run_entry(main, opt_path)``: call an entry point's ``main`` with ``-opt opt_path`` in ``tmp_path``;
    returns its exit status (it must end with ``SystemExit``)."""

    def run_main(main, opt_path):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, 'argv', ['entry.py', '-opt', str(opt_path)])
        with pytest.raises(SystemExit) as info:
            main()
        return info.value.code

    return run_main
