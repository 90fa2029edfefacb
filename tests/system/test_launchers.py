"""BasicSR's trainer with the plugin, as users launch it: one process, kill -9 + ``--auto_resume``, torchrun (gloo).

Parametrised over three models whose state differs: BasicSR's own ``SRModel`` (a tiny
MSRResNet on three generated pairs with random crops, flips and rotations and validation at
every save, so a resume must restore the data order and random streams exactly),
``PaniniModel`` (generator, EMA and discriminator, two optimizers) and ``UDRLModel``
(the MoCo queue and key encoder). Each model's uninterrupted run is made once and shared. The
kill -9 case also runs ``PaniniModel`` and ``UDRLModel`` with ``datasets: train: degrade_on_device: true``
(Eq. 10 in ``feed_data`` from uint8 HQ faces and per-sample seeds), which must resume as exactly.
"""
import copy
import os
import re
import signal
import sys

import pytest
import torch

from helpers import (FACES, HOOKS_TAG, REPO, TAGS, TEST, TORCHRUN, TRAIN, assert_same_weights, basicsr_script,
                      check, free_port, load_params, panini_model, panini_tiny_options, read_options, run, sr_options,
                      write_options)
from panini_arch.trainer.checkpoint import read_training_state

MODELS = ('sr', 'panini', 'udrl')
RESUME_MODELS = MODELS + ('panini_on_device', 'udrl_on_device')
KILL_AFTER = {'sr': 8, 'panini': 4, 'udrl': 4, 'panini_on_device': 4, 'udrl_on_device': 4}
ON_DEVICE_LINE = 'Eq. 10 runs in feed_data on cpu'


def without_validation(opt):
    opt = copy.deepcopy(opt)
    opt.pop('val')
    opt['datasets'].pop('val')
    return opt


def panini_resume_options(data):
    """Tiny Panini-FR, 8 iterations, a save every 4, on one face with a fixed degradation and no flip.

    Exact equality needs the same data stream after the resume: with one image and a deterministic
    degradation every batch is the same, so the test isolates what the model owns (net_g, net_g_ema,
    net_d, both Adam states, both schedulers); the SRModel case covers the data order.
    """
    opt = without_validation(panini_tiny_options())
    opt['datasets']['train'].update(meta_info=data['one_face'], use_hflip=False, deterministic=True, seed=7)
    opt['train']['total_iter'] = 8
    opt['logger'].update(print_freq=4, save_checkpoint_freq=4)
    return opt


def udrl_options(total_iter, queue_size=20):
    """``options/train_udrl_tiny.yml`` shrunk to seconds on ``data/faces_tiny``, deterministic data."""
    opt = read_options('train_udrl_tiny')
    del opt['plugin']
    train, val = opt['datasets']['train'], opt['datasets']['val']
    val.update(dataroot_gt=os.path.join(REPO, val['dataroot_gt']), in_size=16, num_degradations=3, num_faces=2)
    train.update(dataroot_gt=FACES, io_backend={'type': 'disk'}, meta_info=None, in_size=16, batch_size_per_gpu=4, num_worker_per_gpu=0,
                 dataset_enlarge_ratio=1, deterministic=True, seed=1)
    opt['network_g']['pool_size'] = 16
    opt['train'].update(queue_size=queue_size, total_iter=total_iter,
                        scheduler=dict(opt['train']['scheduler'], periods=[total_iter]))
    opt['val']['val_freq'] = 3
    opt['logger'].update(print_freq=1, save_checkpoint_freq=2)
    return opt


def on_device(opt):
    """``opt`` with the one switch ``datasets.train.degrade_on_device`` on (the model degrades what it hands over)."""
    opt['datasets']['train']['degrade_on_device'] = True
    return opt


RESUME_OPTIONS = {'sr': lambda data: sr_options(data['pairs']), 'panini': panini_resume_options,
                  'udrl': lambda data: udrl_options(6),
                  'panini_on_device': lambda data: on_device(panini_resume_options(data)),
                  'udrl_on_device': lambda data: on_device(udrl_options(6))}


def experiment(root, opt):
    return os.path.join(root, 'experiments', opt['name'])


def rank_dump(root, opt, what, rank=0):
    """What ``training_hooks`` saved for ``rank`` at the end of the run (``net_g`` or ``moco``)."""
    return torch.load(os.path.join(experiment(root, opt), f'rank{rank}_{what}.pth'), weights_only=True)


@pytest.fixture(scope='module')
def reference_run(tmp_path_factory, pairs_root):
    """``reference_run(model)``: ``(root, opt, result)`` of that model's uninterrupted single-process run (made once)."""
    one_face = tmp_path_factory.mktemp('one_face') / 'meta_info.txt'
    one_face.write_text('0000.png (128,128,3)\n')
    data = {'pairs': pairs_root, 'one_face': str(one_face)}
    runs = {}

    def get(model):
        if model not in runs:
            root = str(tmp_path_factory.mktemp(f'reference_{model}'))
            opt = RESUME_OPTIONS[model](data)
            result = check(run(root, [sys.executable, TRAIN, '-opt', write_options(root, opt)]))
            runs[model] = root, opt, result
        return runs[model]

    return get


def test_single_process_sr_run_trains_and_saves(reference_run):
    root, opt, _ = reference_run('sr')
    exp = experiment(root, opt)
    for it in (4, 8, 12):
        assert os.path.isfile(os.path.join(exp, 'models', f'net_g_{it}.pth'))
        state = read_training_state(os.path.join(exp, 'training_states', f'{it}.state'))
        assert state['iter'] == it and len(state['optimizers']) == 1 and len(state['schedulers']) == 1
        assert set(state['rng']) >= {'python', 'numpy_key', 'torch'}
    assert os.path.isfile(os.path.join(exp, 'models', 'net_g_latest.pth'))
    for folder in ('models', 'training_states'):
        assert not [n for n in os.listdir(os.path.join(exp, folder)) if n.endswith('.tmp')]
    assert os.listdir(os.path.join(root, 'tb_logger', opt['name']))
    log = open([os.path.join(exp, n) for n in os.listdir(exp) if n.endswith('.log')][0]).read()
    assert re.search(r'\[infra\.\.\]\[epoch:\s+\d+, iter:\s+12, lr:\(5\.000e-03,\)\].* l_pix: ', log)
    first = load_params(os.path.join(exp, 'models', 'net_g_4.pth'))
    last = load_params(os.path.join(exp, 'models', 'net_g_latest.pth'))
    assert not torch.equal(first['conv_first.weight'], last['conv_first.weight'])


def test_single_process_udrl_run_logs_losses_and_retrieval_metrics(reference_run):
    root, opt, _ = reference_run('udrl')
    exp = experiment(root, opt)
    log = open(next(os.path.join(exp, n) for n in os.listdir(exp) if n.endswith('.log'))).read()
    assert re.search(r'l_infonce: \S+ acc_top1: ', log)
    assert re.search(r'# deg_top1: [\d.]+', log) and re.search(r'# r2_log_r: ', log)


def test_test_pipeline_with_trained_weights(tmp_path, reference_run, pairs_root):
    root, _, _ = reference_run('sr')
    opt = sr_options(pairs_root)
    weights = os.path.join(experiment(root, opt), 'models', 'net_g_latest.pth')
    opt.update(name='infra_test', path={'pretrain_network_g': weights}, datasets={'test_1': opt['datasets']['val']})
    opt['val'].update(save_img=True, suffix=None)
    del opt['train'], opt['logger']
    result = check(run(str(tmp_path), [sys.executable, TEST, '-opt', write_options(str(tmp_path), opt)]))
    assert re.search(r'# psnr: \d+\.\d+', result.stderr)
    images = os.listdir(tmp_path / 'results' / 'infra_test' / 'visualization' / 'pairs')
    assert sorted(images) == ['a_infra_test.png', 'b_infra_test.png', 'c_infra_test.png']


def after_kill(model, exp):
    """What the killed run left: the states up to the kill, no ``latest`` weights (and, for UDRL, the queue)."""
    model = model.split('_')[0]
    assert not os.path.exists(os.path.join(exp, 'models', 'net_g_latest.pth'))
    if model == 'sr':
        states = os.listdir(os.path.join(exp, 'training_states'))
        assert sorted(n for n in states if n.endswith('.state')) == ['4.state', '8.state']
    if model == 'udrl':
        assert read_training_state(os.path.join(exp, 'training_states', '4.state'))['moco']['queue_ptr'] == 4 * 4 % 20


def same_final_state(model, root, reference_root, opt, resumed):
    """The resumed run ends where the uninterrupted one does."""
    model = model.split('_')[0]
    models, reference_models = (os.path.join(experiment(r, opt), 'models') for r in (root, reference_root))
    if model == 'udrl':
        after, expected = rank_dump(root, opt, 'moco'), rank_dump(reference_root, opt, 'moco')
        assert after['queue_ptr'] == expected['queue_ptr'] == 6 * 4 % 20
        assert torch.allclose(after['queue'], expected['queue'], atol=1e-5)
        return
    files = [('net_g_latest.pth', 'params')]
    if model == 'panini':
        assert not re.search(r'iter:\s+4,', resumed.stderr) and re.search(r'iter:\s+8,', resumed.stderr)
        files += [('net_g_latest.pth', 'params_ema'), ('net_d_latest.pth', 'params')]
    for file, key in files:
        assert_same_weights(load_params(os.path.join(models, file), key),
                            load_params(os.path.join(reference_models, file), key))


@pytest.mark.slow
@pytest.mark.parametrize('model', RESUME_MODELS)
def test_kill_then_auto_resume_matches_uninterrupted_run(model, tmp_path, reference_run):
    reference_root, opt, _ = reference_run(model)
    root = str(tmp_path)
    options = write_options(root, opt)
    killed = run(root, [sys.executable, TRAIN, '-opt', options], PANINI_TEST_KILL_AFTER_ITER=str(KILL_AFTER[model]))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert (ON_DEVICE_LINE in killed.stderr) == model.endswith('_on_device')
    after_kill(model, experiment(root, opt))
    resumed = check(run(root, [sys.executable, TRAIN, '-opt', options, '--auto_resume']))
    assert re.search(rf'Resuming training from epoch: \d+, iter: {KILL_AFTER[model]}\.', resumed.stderr)
    same_final_state(model, root, reference_root, opt, resumed)


def torchrun_options(model, pairs_root):
    if model == 'sr':
        return sr_options(pairs_root)
    if model == 'udrl':
        return udrl_options(3)
    opt = without_validation(panini_tiny_options())
    opt['train']['total_iter'] = 4
    opt['logger'].update(print_freq=2, save_checkpoint_freq=4)
    return opt


def ranks_agree(model, root, opt, tmp_path):
    """Both ranks hold the same model state at the end (BasicSR saves from rank 0 only)."""
    if model == 'udrl':
        rank0, rank1 = rank_dump(root, opt, 'moco', 0), rank_dump(root, opt, 'moco', 1)
        assert rank0['queue_ptr'] == rank1['queue_ptr'] == (3 * 2 * 4) % 20  # both ranks' keys enter each queue
        assert torch.equal(rank0['queue'], rank1['queue'])
        for key, value in rank0['net_k'].items():
            if 'running' not in key and 'num_batches' not in key:  # BN statistics see each rank's own keys
                assert torch.equal(value, rank1['net_k'][key]), key
        return
    rank0, rank1 = rank_dump(root, opt, 'net_g', 0), rank_dump(root, opt, 'net_g', 1)
    assert_same_weights(rank0, rank1)
    assert_same_weights(rank0, load_params(os.path.join(experiment(root, opt), 'models', 'net_g_latest.pth')))
    if model == 'panini':
        initial = panini_model(panini_tiny_options(), tmp_path / 'initial').net_g.state_dict()
        assert not torch.equal(initial['lce.linear.weight'], rank0['lce.linear.weight'])


@pytest.mark.slow
@pytest.mark.parametrize('model', MODELS)
def test_torchrun_two_processes_gloo_agree(model, tmp_path, pairs_root):
    root = str(tmp_path / 'run')
    opt = torchrun_options(model, pairs_root)
    result = check(run(root, [*TORCHRUN, TRAIN, '-opt', write_options(root, opt), '--launcher', 'pytorch']))
    assert 'World size (gpu number): 2' in result.stderr
    ranks_agree(model, root, opt, tmp_path)


@pytest.mark.slow
def test_unmodified_basicsr_train_script_with_plugin_tag(tmp_path, pairs_root):
    """BasicSR's train.py, copied verbatim: a killed run, then --auto_resume through its slurm launcher.

    pip's basicsr 1.4.2 cannot even be imported under torchvision >= 0.17
    (BasicSR's checkout fixed that import, XPixelGroup/BasicSR#650); a
    ``sitecustomize`` aliasing the module (without importing panini_arch)
    stands in for that fix. Everything else comes from the ``plugin:`` tag.
    """
    root = str(tmp_path)
    script, startup = basicsr_script(root)
    opt = sr_options(pairs_root)
    options = write_options(os.path.join(root, 'options'), opt, HOOKS_TAG + TAGS)
    killed = run(root, [sys.executable, script, '-opt', options], path=[startup], PANINI_TEST_KILL_AFTER_ITER='4')
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]

    fake_bin = os.path.join(root, 'bin')
    os.makedirs(fake_bin)
    with open(os.path.join(fake_bin, 'scontrol'), 'w') as f:
        f.write('#!/bin/sh\necho 127.0.0.1\n')
    os.chmod(os.path.join(fake_bin, 'scontrol'), 0o755)
    slurm = dict(SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_NODELIST='node0', MASTER_PORT=str(free_port()),
                 PATH=fake_bin + os.pathsep + os.environ['PATH'])
    args = [sys.executable, script, '-opt', options, '--launcher', 'slurm', '--auto_resume']
    resumed = check(run(root, args, path=[startup], **slurm))
    assert re.search(r'Resuming training from epoch: \d+, iter: 4\.', resumed.stderr)
    assert os.path.isfile(os.path.join(experiment(root, opt), 'models', 'net_g_latest.pth'))

