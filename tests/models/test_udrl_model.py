"""UDRL: MoCo model (queue, momentum, InfoNCE, shuffle-BN, state, export), validation set and metrics."""
import math
import os

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import panini_arch.trainer  # noqa: F401  (registers everything; UDRLModel.save needs the trainer fixes)
from helpers import REPO
from panini_arch.archs.dre_arch import DRE
from panini_arch.archs.panini_arch import PaniniNet
from panini_arch.archs.presets import PRESETS
from panini_arch.data.udrl_val_dataset import UDRLValDataset
from panini_arch.metrics.udrl_metric import (calculate_degradation_top1, calculate_identity_top1,
                                             calculate_probe_r2)
from panini_arch.models.udrl_model import UDRLModel, moco_logits
from panini_arch.trainer.checkpoint import read_training_state
from panini_arch.utils.weights import load_weights

VAL_FACES = os.path.join(REPO, 'data', 'faces_udrl_val')
SIZE = 16
HEAD_DIM = 8


def make_opt(root, **train):
    models, states = os.path.join(root, 'models'), os.path.join(root, 'training_states')
    os.makedirs(models, exist_ok=True)
    os.makedirs(states, exist_ok=True)
    return {
        'name': 'udrl_unit',
        'num_gpu': 0,
        'is_train': True,
        'dist': False,
        'rank': 0,
        'world_size': 1,
        'manual_seed': 0,
        'network_g': {'type': 'DRE', 'pool_size': SIZE, 'with_head': True, 'head_dim': HEAD_DIM},
        'path': {'models': models, 'training_states': states, 'pretrain_network_g': None},
        'train': {
            'moco_m': 0.9,
            'queue_size': 10,
            'temperature': 0.2,
            'bn_splits': 1,
            'optim_g': {'type': 'SGD', 'lr': 0.03, 'momentum': 0.9, 'weight_decay': 1e-4},
            'scheduler': {'type': 'CosineAnnealingRestartLR', 'periods': [10], 'restart_weights': [1]},
            **train,
        },
        'val': {
            'save_best': 'deg_top1',
            'metrics': {
                'deg_top1': {'type': 'calculate_degradation_top1', 'better': 'higher'},
                'id_top1': {'type': 'calculate_identity_top1', 'better': 'lower'},
                'r2_log_r': {'type': 'calculate_probe_r2', 'target': 'log_r'},
                'deg_top1_head': {'type': 'calculate_degradation_top1', 'embedding': 'projection'},
            },
        },
    }


def batch(seed, b=4):
    g = torch.Generator().manual_seed(seed)
    return {
        'query': torch.rand(b, 3, SIZE, SIZE, generator=g) * 2 - 1,
        'key': torch.rand(b, 3, SIZE, SIZE, generator=g) * 2 - 1,
        'deg_params': torch.rand(b, 4, generator=g),
    }


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    return UDRLModel(make_opt(str(tmp_path)))


def test_queue_enqueue_wraps_pointer(model):
    assert model.queue.shape == (10, HEAD_DIM)
    assert torch.allclose(model.queue.norm(dim=1), torch.ones(10))
    first = F.normalize(torch.randn(6, HEAD_DIM), dim=1)
    model.dequeue_and_enqueue(first)
    assert model.queue_ptr == 6
    assert torch.equal(model.queue[:6], first)
    second = F.normalize(torch.randn(7, HEAD_DIM), dim=1)
    model.dequeue_and_enqueue(second)
    assert model.queue.shape == (10, HEAD_DIM)
    assert model.queue_ptr == 3  # (6 + 7) % 10
    assert torch.equal(model.queue[6:], second[:4])
    assert torch.equal(model.queue[:3], second[4:])
    assert torch.equal(model.queue[3:6], first[3:])


def test_momentum_update_formula(model):
    net_q = model.get_bare_model(model.net_g)
    with torch.no_grad():
        for p in net_q.parameters():
            p.add_(torch.randn_like(p))
    before_k = [p.clone() for p in model.net_k.parameters()]
    params_q = [p.clone() for p in net_q.parameters()]
    model.momentum_update()
    for p_k, old_k, p_q in zip(model.net_k.parameters(), before_k, params_q):
        assert torch.allclose(p_k, 0.9 * old_k + 0.1 * p_q, atol=1e-6)
    assert not any(p.requires_grad for p in model.net_k.parameters())


def test_infonce_logits_match_hand_computation():
    q = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    k = torch.tensor([[0.0, 1.0], [0.6, 0.8]])
    queue = torch.tensor([[1.0, 0.0], [-0.8, 0.6], [0.0, -1.0]])
    logits, labels = moco_logits(q, k, queue, temperature=0.5)
    expected = torch.tensor([
        [0.0, 1.0, -0.8, 0.0],  # q0.k0, q0.queue
        [1.0, 0.6, 0.0, -0.8],  # q1.k1, q1.queue
    ]) / 0.5
    assert torch.allclose(logits, expected)
    assert labels.tolist() == [0, 0]
    loss = F.cross_entropy(logits, labels)
    row0 = -expected[0, 0] + torch.logsumexp(expected[0], 0)
    row1 = -expected[1, 0] + torch.logsumexp(expected[1], 0)
    assert math.isclose(loss.item(), ((row0 + row1) / 2).item(), rel_tol=1e-6)


def test_step_enqueues_key_encoder_outputs(model):
    data = batch(1)
    model.feed_data(data)
    q_before = [p.clone() for p in model.get_bare_model(model.net_g).parameters()]
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert set(log) == {'l_infonce', 'acc_top1'}
    assert math.isfinite(log['l_infonce']) and 0 <= log['acc_top1'] <= 1
    assert model.queue_ptr == 4
    with torch.no_grad():  # bn_splits=1: keys are the key encoder on the whole key batch
        expected = F.normalize(model.net_k.project(model.net_k(data['key'])), dim=1)
    assert torch.allclose(model.queue[:4], expected, atol=1e-5)
    changed = [not torch.equal(a, b) for a, b in zip(q_before, model.get_bare_model(model.net_g).parameters())]
    assert all(changed)


def test_shuffled_bn_groups(tmp_path):
    torch.manual_seed(0)
    model = UDRLModel(make_opt(str(tmp_path), bn_splits=2))
    key = batch(2, b=6)['key']
    torch.manual_seed(5)
    mine, keys_all = model.encode_keys(key)
    torch.manual_seed(5)
    perm = torch.randperm(6)
    with torch.no_grad():
        for group in perm.view(2, 3):  # each key is normalised with the statistics of its own group
            out = F.normalize(model.net_k.project(model.net_k(key[group])), dim=1)
            assert torch.allclose(keys_all[group], out, atol=1e-5)
        whole = F.normalize(model.net_k.project(model.net_k(key)), dim=1)
    assert torch.equal(mine, keys_all)
    assert not torch.allclose(keys_all, whole, atol=1e-3)
    with pytest.raises(ValueError, match='bn_splits'):
        model.feed_data(batch(3, b=5))


def test_save_and_resume_restore_queue_key_encoder_optimizer(tmp_path):
    torch.manual_seed(0)
    opt = make_opt(str(tmp_path / 'a'))
    first = UDRLModel(opt)
    for it in (1, 2):
        first.feed_data(batch(it))
        first.optimize_parameters(it)
    first.save(0, 2)
    names = sorted(n for n in os.listdir(opt['path']['models']) if n.endswith('.pth'))
    assert names == ['net_dre_2.pth', 'net_g_2.pth']
    state = read_training_state(os.path.join(opt['path']['training_states'], '2.state'))  # weights_only

    torch.manual_seed(1)  # another init: everything must come from the files
    opt_b = make_opt(str(tmp_path / 'b'))
    opt_b['path']['pretrain_network_g'] = os.path.join(opt['path']['models'], 'net_g_2.pth')
    second = UDRLModel(opt_b)
    second.resume_training(state)
    assert second.queue_ptr == first.queue_ptr == 8
    assert torch.equal(second.queue, first.queue)
    for a, b in zip(first.net_k.state_dict().values(), second.net_k.state_dict().values()):
        assert torch.equal(a, b)

    for m in (first, second):  # the next step is identical
        torch.manual_seed(7)
        m.feed_data(batch(3))
        m.optimize_parameters(3)
    assert torch.equal(first.queue, second.queue)
    for a, b in zip(first.net_g.parameters(), second.net_g.parameters()):
        assert torch.allclose(a, b, atol=1e-6)

    bad = make_opt(str(tmp_path / 'c'), queue_size=12)
    with pytest.raises(ValueError, match='queue'):
        UDRLModel(bad).resume_training(state)


def test_exported_dre_loads_strictly_into_bare_dre(model):
    model.feed_data(batch(1))
    model.optimize_parameters(1)
    model.save(0, 1)
    path = os.path.join(model.opt['path']['models'], 'net_dre_1.pth')
    dre = DRE(pool_size=SIZE, with_head=False)
    load_weights(dre, path, 'params', 'DRE')
    assert dre.head is None
    x = batch(4)['query']
    dre.eval()
    with torch.no_grad():
        assert torch.allclose(dre(x), model.test(x)[0], atol=1e-6)
    with pytest.raises(RuntimeError, match='missing keys'):  # the file holds no head
        load_weights(DRE(pool_size=SIZE, with_head=True), path, 'params', 'DRE')
    panini = PaniniNet(**PRESETS['tiny'], dre_path=path)
    for key, value in dre.state_dict().items():
        assert torch.equal(panini.dre.state_dict()[key], value), key


def val_opt(**kw):
    return {'name': 'udrl_val', 'dataroot_gt': VAL_FACES, 'gt_size': 128, 'in_size': SIZE, 'num_degradations': 3,
            'num_faces': 2, 'seed': 3, **kw}


def test_val_dataset_is_a_fixed_grid():
    a, b = UDRLValDataset(val_opt()), UDRLValDataset(val_opt())
    assert len(a) == 6
    items = [a[i] for i in range(6)]
    assert [(it['deg_index'], it['face_index']) for it in items] == [(d, f) for d in range(3) for f in range(2)]
    for i, it in enumerate(items):
        assert it['lq'].shape == (3, SIZE, SIZE) and it['lq'].min() >= -1 and it['lq'].max() <= 1
        assert torch.equal(it['lq'], b[i]['lq'])
    assert torch.equal(items[0]['deg_params'], items[1]['deg_params'])
    assert not torch.equal(items[0]['deg_params'], items[2]['deg_params'])
    assert items[0]['lq_path'] != items[1]['lq_path']
    other = UDRLValDataset(val_opt(seed=4))
    assert not torch.equal(other[0]['deg_params'], items[0]['deg_params'])
    with pytest.raises(ValueError, match='num_faces'):
        UDRLValDataset(val_opt(num_faces=9))


def grid(num_deg, num_faces):
    deg = np.repeat(np.arange(num_deg), num_faces)
    face = np.tile(np.arange(num_faces), num_deg)
    return deg, face


def test_retrieval_metrics_by_hand():
    deg, face = grid(2, 2)  # items: (d0,f0) (d0,f1) (d1,f0) (d1,f1)
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.8, 0.2]])
    # other faces: item0 -> {1, 3}: 1 (same deg); item1 -> {0, 2}: 0 (same); item2 -> {1, 3}: 3 (same deg);
    # item3 -> {0, 2}: 0 (deg 0, miss)  => 3 / 4
    assert calculate_degradation_top1(emb, deg, face) == 0.75
    # other degradations: item0 -> {2, 3}: 3 (face 1, miss); item1 -> {2, 3}: 3 (same face);
    # item2 -> {0, 1}: 1 (miss); item3 -> {0, 1}: 1 (same face)  => 2 / 4
    assert calculate_identity_top1(emb, deg, face) == 0.5


def test_metrics_separate_degradation_from_content():
    rng = np.random.default_rng(0)
    deg, face = grid(20, 5)
    deg_code, face_code = rng.standard_normal((20, 16)), rng.standard_normal((5, 16))
    about_deg = deg_code[deg] + 0.1 * face_code[face]
    about_face = face_code[face] + 0.1 * deg_code[deg]
    assert calculate_degradation_top1(about_deg, deg, face) == 1.0
    assert calculate_identity_top1(about_deg, deg, face) < 0.5
    assert calculate_identity_top1(about_face, deg, face) == 1.0
    assert calculate_degradation_top1(about_face, deg, face) < 0.2

    params = np.stack([np.exp(rng.uniform(0, 3, 20)), rng.uniform(0, 2, 20), rng.uniform(0, 25, 20),
                       rng.integers(5, 50, 20)], axis=1)[deg]
    linear = np.concatenate([np.log(params[:, :1]), rng.standard_normal((100, 7))], axis=1)
    assert calculate_probe_r2(linear, deg, params, target='log_r', alpha=1e-3) > 0.99
    assert calculate_probe_r2(rng.standard_normal((100, 8)), deg, params, target='log_r') < 0.3
    with pytest.raises(ValueError, match='test_fraction'):
        calculate_probe_r2(linear, deg, params, test_fraction=0.01)


def test_validation_logs_metrics_and_saves_best(model):
    from basicsr.data import build_dataloader, build_dataset
    loader = build_dataloader(build_dataset(dict(val_opt(), type='UDRLValDataset', phase='val')),
                              {'phase': 'val', 'batch_size_per_gpu': 4, 'num_worker_per_gpu': 0}, num_gpu=0, dist=False)
    model.validation(loader, 5, None)
    assert set(model.metric_results) == {'deg_top1', 'id_top1', 'r2_log_r', 'deg_top1_head'}
    assert 0 <= model.metric_results['deg_top1'] <= 1
    assert model.best_metric_results['udrl_val']['deg_top1']['iter'] == 5
    assert os.path.isfile(os.path.join(model.opt['path']['models'], 'net_dre_best.pth'))
    assert model.get_bare_model(model.net_g).training  # back in training mode
