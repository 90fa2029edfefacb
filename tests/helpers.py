"""What the tests share besides pytest fixtures (those are in ``conftest.py``): paths, options, the training launcher.

Every test file imports its paths from here (:data:`REPO`, :data:`FACES`, :data:`FIXTURES`), never from
its own location. Training runs are subprocesses of ``panini_arch/train.py`` (or ``torchrun`` of it) with
``OMP_NUM_THREADS=1``. The options they read start with :data:`TAGS`, the plugin line (the one
Python tag the options loader accepts); ``tests/hooks`` first on their PYTHONPATH loads
``training_hooks`` (this folder) at start-up, which can SIGKILL a run after a save and dumps
what every rank holds at the end (see ``training_hooks.py``).
"""
import copy
import importlib.util
import os
import shutil
import socket
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import torch
import yaml

import panini_arch  # noqa: F401  (first: makes basicsr importable)
from panini_arch.archs.presets import PRESETS
from panini_arch.utils.safe_load import load_options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(REPO, 'panini_arch', 'train.py')
TEST = os.path.join(REPO, 'panini_arch', 'test.py')
FACES = os.path.join(REPO, 'data', 'faces_tiny')
FIXTURES = os.path.join(TESTS, 'fixtures')  # stored test data: the authors' key lists and numerical fixture
HOOKS = os.path.join(TESTS, 'hooks')
TAGS = 'plugin: !!python/name:panini_arch.trainer.__name__\n'
HOOKS_TAG = 'test_hooks: !!python/name:training_hooks.__name__\n'  # BasicSR's own loader, above the plugin line
TORCHRUN = (sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2')
TINY_NET_ARGS = ['--arch', 'tiny', '--random_weights', '--device', 'cpu']  # panini-restore on a tiny untrained net


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


def write_pairs(root, names):
    """Random 128 px GT images (blurred noise) and their 64 px LQ versions, ``root/GT/<name>``, ``root/LQ/<name>``."""
    for sub in ('LQ', 'GT'):
        os.makedirs(root / sub, exist_ok=True)
    rng = np.random.default_rng(1)
    for name in names:
        gt = cv2.GaussianBlur((rng.random((128, 128, 3)) * 255).astype(np.uint8), (3, 3), 0)
        cv2.imwrite(str(root / 'GT' / name), gt)
        cv2.imwrite(str(root / 'LQ' / name), cv2.resize(gt, (64, 64), interpolation=cv2.INTER_AREA))


def harness_options(tmp_path, metrics):
    """``options/test_panini_fr.yml`` on a tiny random Panini over ``tmp_path/LQ`` and ``GT`` with ``metrics``,
    written to ``tmp_path/opt.yml``; returns that path."""
    opt = read_options('test_panini_fr')
    opt.update(network_g=dict(type='PaniniNet', **PRESETS['tiny']), path={'pretrain_network_g': None},
               random_weights=True, num_gpu=0, name='bad_neighbours')
    opt['datasets']['test'].update(dataroot_lq=str(tmp_path / 'LQ'), dataroot_gt=str(tmp_path / 'GT'))
    opt['val'].update(input_size=64, num_workers=0, batch_size=2, metrics=metrics)
    path = tmp_path / 'opt.yml'
    path.write_text(yaml.safe_dump(opt), encoding='utf-8')
    return path


def load_script(name):
    """``scripts/<name>.py`` imported as a module (its ``__main__`` block not run)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, 'scripts', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_extractor():
    """A small seeded random net standing in for a metric's feature extractor: (B, 3, H, W) -> (B, 6)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 5, 4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten()).eval()
    return lambda x: net(x).detach()


def png_chunk(kind, body):
    """One PNG chunk: length, ``kind`` (4 bytes), ``body`` and its CRC."""
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))
