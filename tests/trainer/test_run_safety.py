"""Runs stay in their folders and never trust a damaged file: names, locks, failed saves, unverified and
non-finite weights, reproducible checkpoint bytes. Every bad input is built here."""
import errno
import json
import os
import re
import socket
import subprocess
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

import panini_arch.trainer  # noqa: F401  (applies the trainer fixes: BasicSR's dataset and loaders)
from basicsr.archs.srresnet_arch import MSRResNet
from basicsr.data.paired_image_dataset import PairedImageDataset
from helpers import TRAIN, check, run, sr_options, write_options
from panini_arch import test as test_entry
from panini_arch import train as train_entry
from panini_arch.archs.presets import build_panini
from panini_arch.data.face_source import FaceSource
from panini_arch.data.lmdb_builder import make_lmdb
from panini_arch.inference import main as restore_main
from panini_arch.models import base_model
from panini_arch.models.base_model import CheckpointSaveError, PaniniBaseModel
from panini_arch.models.option_checks import OptionError
from panini_arch.trainer import checkpoint
from panini_arch.trainer.checkpoint import TrainingStateError
from panini_arch.trainer.run_folder import (LOCK_NAME, RunLock, RunLockedError, process_start, archive_and_create,
                                            check_run_name, claim_run_folder)
from panini_arch.utils.atomic import atomic_save
from panini_arch.utils.entry_paths import OutsideRootError
from panini_arch.utils.safe_load import NonFiniteWeightsError
from panini_arch.utils.weights import load_weights

BAD_NAMES = ['../outside', 'outside/../../outside', 'a/b', '..', '', 'VICTIM']


def snapshot(folder):
    """Every path under ``folder`` with its bytes (files) or None (folders)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            found[os.path.relpath(os.path.join(dirpath, name), folder)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, folder)] = open(path, 'rb').read()
    return found


@pytest.mark.parametrize('entry', ['train', 'test'])
@pytest.mark.parametrize('name', BAD_NAMES)
def test_name_that_is_not_one_folder_name_is_refused_and_nothing_outside_moves(name, entry, tmp_path, run_entry,
                                                                               pairs_root, capsys):
    victim = tmp_path / 'outside'
    (victim / 'models').mkdir(parents=True)
    (victim / 'models' / 'keep.pth').write_bytes(b'precious')
    opt = sr_options(pairs_root)
    opt['name'] = str(victim) if name == 'VICTIM' else name  # an absolute path
    if entry == 'test':
        opt.update(datasets={'test_1': opt['datasets']['val']}, path={'pretrain_network_g': None})
        del opt['train'], opt['logger']
    options = write_options(str(tmp_path / 'o'), opt)
    before = snapshot(tmp_path)
    assert run_entry((train_entry if entry == 'train' else test_entry).main, options) == 2
    assert re.search(r'name: .* (is empty|is \. or \.\.|holds a path separator)', capsys.readouterr().err)
    assert snapshot(tmp_path) == before  # nothing archived, created or written


@pytest.mark.parametrize('option', ['dataset', 'suffix'])
def test_dataset_name_or_suffix_leading_out_of_the_results_is_refused(option, tmp_path, run_entry, pairs_root, capsys):
    opt = sr_options(pairs_root)
    opt.update(name='ok', datasets={'test_1': opt['datasets']['val']}, path={'pretrain_network_g': None})
    del opt['train'], opt['logger']
    if option == 'dataset':
        opt['datasets']['test_1']['name'] = '../../../outside'
    else:
        opt['val'].update(save_img=True, suffix='/../../../../outside')
    options = write_options(str(tmp_path / 'o'), opt)
    before = snapshot(tmp_path)
    assert run_entry(test_entry.main, options) == 2
    assert ('datasets.test_1.name' if option == 'dataset' else 'val.suffix') in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_run_folders_are_made_and_archived_only_under_the_results_roots(tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'x.png').write_bytes(b'x')
    for path in (data, tmp_path / 'experiments' / 'a' / 'b', tmp_path / 'experiments'):
        with pytest.raises(ValueError, match='Refusing to archive or create'):
            archive_and_create(str(path))
    assert snapshot(tmp_path) == {'data': None, 'data/x.png': b'x'}
    (tmp_path / 'experiments').mkdir()
    os.symlink(data, tmp_path / 'experiments' / 'linked')
    with pytest.raises(OptionError, match='symbolic link'):
        check_run_name('linked', str(tmp_path))
    with pytest.raises(ValueError, match='Refusing'):
        archive_and_create(str(tmp_path / 'experiments' / 'linked'))
    run = tmp_path / 'experiments' / 'run'
    run.mkdir()
    (run / LOCK_NAME).write_text('{}')
    archive_and_create(str(run), keep=(LOCK_NAME, ))  # only the lock: nothing to archive
    assert sorted(os.listdir(tmp_path / 'experiments')) == ['linked', 'run']
    (run / 'old.log').write_text('old')
    archive_and_create(str(run), keep=(LOCK_NAME, ))
    archived = [p for p in os.listdir(tmp_path / 'experiments') if p.startswith('run_archived_')]
    assert os.listdir(run) == [LOCK_NAME] and os.listdir(tmp_path / 'experiments' / archived[0]) == ['old.log']
    assert (data / 'x.png').read_bytes() == b'x'


def write_face(path, size=16):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), np.full((size, size, 3), 128, np.uint8))


@pytest.mark.parametrize('backend', ['disk', 'lmdb'])
def test_meta_info_entries_leading_out_of_the_root_are_refused_by_name(tmp_path, backend):
    write_face(tmp_path / 'secret.png')  # outside the root: a reader following the entries would find it
    write_face(tmp_path / 'faces' / 'sub' / 'a.png')
    root = tmp_path / 'faces'
    if backend == 'lmdb':
        make_lmdb(str(root), str(tmp_path / 'faces.lmdb'), progress=False)
        root = tmp_path / 'faces.lmdb'
    meta = tmp_path / 'meta_info.txt'
    opt = {'dataroot_gt': str(root), 'meta_info': str(meta), 'io_backend': {'type': backend}, 'gt_size': 16}
    meta.write_text(('sub/a.png' if backend == 'lmdb' else 'sub/../sub/a.png') + ' (16,16,3)\n')  # inside: accepted
    assert len(FaceSource(opt)) == 1
    for entry in ('../secret.png', str(tmp_path / 'secret.png'), 'sub/../../secret.png'):
        meta.write_text(f'sub/a.png (16,16,3)\n{entry} (16,16,3)\n')
        with pytest.raises(OutsideRootError, match=re.escape(repr(entry))) as info:
            FaceSource(opt)
        assert str(meta) in str(info.value)


def test_harness_meta_info_file_leading_out_of_its_folders_is_refused(tmp_path):
    for sub in ('gt', 'lq'):
        write_face(tmp_path / sub / 'a.png')
    write_face(tmp_path / 'secret.png')
    meta = tmp_path / 'meta.txt'
    meta.write_text('a.png\n../secret.png\n')
    opt = {'dataroot_gt': str(tmp_path / 'gt'), 'dataroot_lq': str(tmp_path / 'lq'), 'meta_info_file': str(meta),
           'io_backend': {'type': 'disk'}, 'phase': 'val', 'scale': 1}
    with pytest.raises(OutsideRootError, match=r"'\.\./secret\.png'"):
        PairedImageDataset(opt)


def lock_record(**fields):
    record = {'pid': os.getpid(), 'host': socket.gethostname(), 'started': '2026-01-02 03:04:05',
              'proc_start': process_start(os.getpid()), 'command': 'the first run'}
    record.update(fields)
    return record


def dead_pid():
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()
    return process.pid


@pytest.mark.parametrize('holder', ['live', 'other_host'])
def test_second_training_of_a_held_folder_refuses_naming_the_first(holder, tmp_path, run_entry, pairs_root, capsys):
    opt = sr_options(pairs_root)
    exp = tmp_path / 'experiments' / opt['name']
    (exp / 'models').mkdir(parents=True)
    (exp / 'models' / 'net_g_4.pth').write_bytes(b'first run')
    record = lock_record() if holder == 'live' else lock_record(host='elsewhere', pid=dead_pid())
    (exp / LOCK_NAME).write_text(json.dumps(record))
    options = write_options(str(tmp_path / 'o'), opt)
    before = snapshot(tmp_path)
    assert run_entry(train_entry.main, options) == 1
    err = capsys.readouterr().err
    assert f'pid {record["pid"]} on host {record["host"]}, started 2026-01-02 03:04:05' in err
    assert snapshot(tmp_path) == before  # the first run's folder is neither archived nor touched


def test_lock_of_a_dead_process_is_taken_over_and_released(tmp_path, capsys, monkeypatch):
    folder = tmp_path / 'experiments' / 'run'
    folder.mkdir(parents=True)
    for stale in (lock_record(pid=dead_pid()), lock_record(proc_start=-1)):  # gone; pid reused by a newer process
        (folder / LOCK_NAME).write_text(json.dumps(stale))
        lock = RunLock.acquire(str(folder))
        assert 'Taking over' in capsys.readouterr().out
        assert json.loads((folder / LOCK_NAME).read_text())['command'] == lock.record['command']
        with monkeypatch.context() as other_process, pytest.raises(RunLockedError):  # held now: refused
            other_process.setattr(RunLock, 'held', None)
            RunLock.acquire(str(folder))
        lock.release()
        assert not (folder / LOCK_NAME).exists()
    (folder / LOCK_NAME).write_text(json.dumps(lock_record(pid=dead_pid())))
    RunLock(str(folder)).release()  # not ours: left alone
    assert (folder / LOCK_NAME).exists()


def test_only_rank_zero_of_a_training_takes_the_lock(tmp_path):
    opt = {'name': 'run', 'is_train': True, 'rank': 1, 'path': {'experiments_root': str(tmp_path / 'run')}}
    claim_run_folder(opt, str(tmp_path))
    assert not (tmp_path / 'run').exists()


def test_a_save_that_keeps_failing_stops_training_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(base_model, 'RETRY_DELAY_S', 0)
    real_save = torch.save

    def full_disk(obj, f):
        f.write(b'partial')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, 'save', full_disk)
    model = SimpleNamespace(opt={'path': {'models': str(tmp_path)}}, get_bare_model=lambda net: net)
    with pytest.raises(CheckpointSaveError, match='No space left on device.*Training stopped'):
        PaniniBaseModel.save_network(model, torch.nn.Linear(2, 2), 'net_g', 8)
    assert os.listdir(tmp_path) == [] and not vars(model).get('saved_networks')
    monkeypatch.setattr(torch, 'save', real_save)


def adam_state(current_iter, value=1.0):
    param = torch.nn.Parameter(torch.full((3, ), value))
    optimizer = torch.optim.Adam([param])
    param.grad = torch.ones(3)
    optimizer.step()
    optimizer.state[param]['exp_avg'].fill_(value)
    return {'epoch': 0, 'iter': current_iter, 'optimizers': [optimizer.state_dict()], 'schedulers': []}


def test_auto_resume_takes_the_newest_complete_pair_saying_what_it_skipped(tmp_path, capsys):
    states, models = tmp_path / 'states', tmp_path / 'models'
    states.mkdir()
    models.mkdir()
    for it in (4, 8, 12):
        state = dict(adam_state(it), networks=[f'net_g_{it}.pth', f'net_d_{it}.pth'])
        atomic_save(state, str(states / f'{it}.state'))
        for net in ('net_g', 'net_d'):
            if (it, net) != (12, 'net_d'):  # the disk filled up while iteration 12 was saved
                atomic_save({'params': {'w': torch.ones(2)}}, str(models / f'{net}_{it}.pth'))
    os.remove(models / 'net_g_8.pth.sha256')
    torch.save({'params': {'w': torch.tensor([1.0, float('nan')])}}, models / 'net_g_8.pth')  # unverified, NaN
    path, state = checkpoint.newest_training_state(str(states), models_folder=str(models))
    assert path == str(states / '4.state') and state['iter'] == 4
    out = capsys.readouterr().out
    assert re.search(r'Skipping training state 12: .*net_d_12\.pth are missing', out)
    assert re.search(r'Skipping training state 8: unverified network file .*net_g_8\.pth .*params\.w', out)


def test_state_without_checksum_is_resumed_only_when_finite_with_a_warning(tmp_path, capsys):
    torch.save(adam_state(4), tmp_path / '4.state')  # no .sha256 beside it: unverified
    torch.save(adam_state(8, float('inf')), tmp_path / '8.state')
    path, state = checkpoint.newest_training_state(str(tmp_path))
    assert state['iter'] == 4
    out = capsys.readouterr().out
    assert re.search(r'Skipping training state 8: .*8\.state: the training state hold NaN or infinite values in '
                     r'optimizers\.0\.state\.0\.exp_avg', out)
    assert re.search(r'Warning: .*4\.state has no checksum file \(4\.state\.sha256\): it is unverified', out)
    opt = {'auto_resume': False, 'num_gpu': 0, 'path': {'resume_state': str(tmp_path / '8.state')}}
    with pytest.raises(TrainingStateError, match='exp_avg'):
        checkpoint.load_resume_state(opt)


def nan_weights(net, path, key='params', names=None):
    """Save ``net``'s state dict under ``key`` with NaN in ``names`` (default: the first float tensor)."""
    state = {k: v.clone() for k, v in net.state_dict().items()}
    names = names or [next(k for k, v in state.items() if v.is_floating_point())]
    for name in names:
        state[name].view(-1)[0] = float('nan')
    torch.save({key: state}, path)
    return names


def test_every_network_loader_refuses_nan_weights_naming_file_and_tensors(tmp_path):
    net = build_panini('tiny')
    path = tmp_path / 'nan.pth'
    names = nan_weights(net, path, 'params_ema')
    pretrain = 'path.pretrain_network_g'
    for load in (lambda: load_weights(build_panini('tiny'), str(path)),
                 lambda: load_weights(build_panini('tiny'), str(path), 'params_ema', pretrain)):
        with pytest.raises(NonFiniteWeightsError) as info:
            load()
        assert str(path) in str(info.value) and names[0] in str(info.value)
    sr = MSRResNet(num_feat=8, num_block=1, upscale=2)
    names = nan_weights(sr, path, names=['conv_first.weight', 'conv_last.bias'])
    model = SimpleNamespace(get_bare_model=lambda n: n, _print_different_keys_loading=lambda *a: None)
    with pytest.raises(NonFiniteWeightsError, match=r'nan\.pth: .*conv_first\.weight, conv_last\.bias'):
        PaniniBaseModel.load_network(model, sr, str(path))  # SRModel (apply_to_basicsr_models), UDRL's pretrain


def test_restore_with_a_nan_checkpoint_exits_non_zero_naming_it(tmp_path, capsys):
    names = nan_weights(build_panini('tiny'), tmp_path / 'nan.pth', 'params_ema')
    write_face(tmp_path / 'in' / 'face.png', 64)
    code = restore_main(['-i', str(tmp_path / 'in'), '-o', str(tmp_path / 'out'), '--arch', 'tiny', '--aligned',
                         '--model_path', str(tmp_path / 'nan.pth')])
    assert code != 0
    assert f'nan.pth: Panini-Net weights hold NaN or infinite values in {names[0]}' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists() or not any(files for _, _, files in os.walk(tmp_path / 'out'))


def test_test_script_with_a_nan_checkpoint_exits_non_zero_before_scoring(tmp_path, run_entry, pairs_root, capsys):
    opt = sr_options(pairs_root)
    nan_weights(MSRResNet(**{k: v for k, v in opt['network_g'].items() if k != 'type'}), tmp_path / 'nan.pth')
    opt.update(name='nan_test', path={'pretrain_network_g': str(tmp_path / 'nan.pth')},
               datasets={'test_1': opt['datasets']['val']})
    del opt['train'], opt['logger']
    assert run_entry(test_entry.main, write_options(str(tmp_path / 'o'), opt)) == 1
    assert 'NaN or infinite values in conv_first.weight' in capsys.readouterr().err
    assert not list((tmp_path / 'results' / 'nan_test').glob('metrics_*'))


def test_same_weights_give_the_same_checkpoint_bytes(tmp_path, monkeypatch):
    torch.manual_seed(0)
    net = MSRResNet(num_feat=8, num_block=1, upscale=2)
    for pid, folder in ((1111, 'a'), (2222, 'b')):  # the process id used to end up inside the zip
        monkeypatch.setattr(os, 'getpid', lambda pid=pid: pid)
        (tmp_path / folder).mkdir()
        model = SimpleNamespace(opt={'path': {'models': str(tmp_path / folder)}}, get_bare_model=lambda n: n)
        PaniniBaseModel.save_network(model, net, 'net_g', 4)
        PaniniBaseModel.save_network(model, net, 'net_g', 8)
    files = [tmp_path / folder / f'net_g_{it}.pth' for folder in 'ab' for it in (4, 8)]
    assert len({f.read_bytes() for f in files}) == 1
    assert len({(f.parent / (f.name + '.sha256')).read_text().split()[0] for f in files}) == 1


@pytest.mark.slow
def test_full_disk_stops_training_then_auto_resume_takes_over_and_continues(tmp_path, pairs_root):
    """One tiny SRModel run: a full disk at iteration 8, then a stale lock and ``--auto_resume``."""
    root = str(tmp_path)
    opt = sr_options(pairs_root)
    options = write_options(root, opt)
    exp = os.path.join(root, 'experiments', opt['name'])
    failed = run(root, [sys.executable, TRAIN, '-opt', options], PANINI_TEST_NO_SPACE_FOR='net_g_8.pth')
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert re.search(r'Error: Cannot save the model .*net_g_8\.pth after 3 tries .*No space left on device.*'
                     r'Training stopped', failed.stderr)
    assert 'Just ignore it' not in failed.stderr + failed.stdout
    assert sorted(os.listdir(os.path.join(exp, 'training_states'))) == ['4.state', '4.state.sha256']
    assert not [n for n in os.listdir(os.path.join(exp, 'models')) if '8' in n]
    assert not os.path.exists(os.path.join(exp, LOCK_NAME))  # released on the error
    with open(os.path.join(exp, LOCK_NAME), 'w') as f:  # as a kill -9 leaves it
        json.dump(lock_record(pid=dead_pid()), f)
    resumed = check(run(root, [sys.executable, TRAIN, '-opt', options, '--auto_resume']))
    assert 'Taking over' in resumed.stdout
    assert re.search(r'Resuming training from epoch: \d+, iter: 4\.', resumed.stderr)
    assert checkpoint.read_training_state(os.path.join(exp, 'training_states', '12.state'))['networks'] == [
        'net_g_12.pth']
    assert not os.path.exists(os.path.join(exp, LOCK_NAME))
    assert not [n for n in os.listdir(os.path.dirname(exp)) if '_archived_' in n]
