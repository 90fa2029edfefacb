"""Every shipped tiny options file trains from a fresh clone, with no preparation step.

The clone is the repository's files as git lists them (tracked and new, not ignored) for the folders the
options read, ``data/`` and ``options/``, copied to an empty folder (no ``datasets/``, nothing made by
hand). Each file is trained in-process through ``panini_arch.train`` from there, as shipped except for
``--force_yml`` shortening it to 2 iterations; the final save and validation run as usual.
"""
import glob
import os
import shutil
import subprocess
import sys

import pytest
import torch

from helpers import REPO
from panini_arch.train import main as train_main

TINY_OPTIONS = sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, 'options', '*_tiny.yml')))


@pytest.fixture(scope='module')
def clone(tmp_path_factory):
    files = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard', '--', 'data', 'options'],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    root = tmp_path_factory.mktemp('clone')
    for name in files:
        if os.path.isfile(os.path.join(REPO, name)):  # a deleted but still tracked file is not in a clone
            os.makedirs(root / os.path.dirname(name), exist_ok=True)
            shutil.copy(os.path.join(REPO, name), root / name)
    return root


def test_there_are_tiny_options():
    assert set(TINY_OPTIONS) >= {'options/train_udrl_tiny.yml', 'options/train_panini_fr_tiny.yml'}


@pytest.mark.slow
@pytest.mark.parametrize('options', TINY_OPTIONS)
def test_tiny_options_train_from_a_fresh_clone(clone, options, monkeypatch):
    assert not os.path.exists(clone / 'datasets')
    monkeypatch.chdir(clone)
    monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', options, '--force_yml', 'train:total_iter=2',
                                      'logger:print_freq=1', 'logger:save_checkpoint_freq=2'])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the launcher tests' OMP_NUM_THREADS=1: tiny nets gain nothing from more
    try:
        train_main()
    finally:
        torch.set_num_threads(threads)
    name = next(line.split(':', 1)[1].strip() for line in open(options) if line.startswith('name:'))
    models = clone / 'experiments' / name / 'models'
    assert os.path.isfile(models / 'net_g_2.pth') and os.path.isfile(models / 'net_g_latest.pth')
    state = torch.load(clone / 'experiments' / name / 'training_states' / '2.state', weights_only=True)
    assert state['iter'] == 2
