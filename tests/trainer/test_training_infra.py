"""Training infrastructure in this process: states, atomic saves, sampler, backend, random streams, flags.

The launches themselves (one process, kill/resume, torchrun, BasicSR's own train.py) are in
``system/test_launchers.py``.
"""
import os
import random
import sys

import numpy as np
import pytest
import torch

import panini_arch.trainer  # noqa: F401  (applies the trainer fixes: parse_options accepts --local-rank)
from helpers import sr_options, write_options
from panini_arch.trainer import checkpoint, patches
from panini_arch.trainer.checkpoint import ResumableSampler, TrainingStateError
from panini_arch.utils.atomic import atomic_save
from panini_arch.utils.safe_load import verify_checksum


def test_local_rank_with_dash_is_accepted(tmp_path, pairs_root, monkeypatch):
    opt_path = write_options(str(tmp_path), sr_options(pairs_root))
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
    atomic_save({'params': {'w': torch.zeros(2)}}, str(target))

    def broken_save(obj, f):
        f.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        atomic_save({'params': {'w': torch.ones(2)}}, str(target))
    monkeypatch.undo()
    assert torch.equal(torch.load(target, weights_only=True)['params']['w'], torch.zeros(2))
    assert sorted(os.listdir(tmp_path)) == ['net_g_latest.pth', 'net_g_latest.pth.sha256']
    verify_checksum(str(target))  # the old file still matches its checksum


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
