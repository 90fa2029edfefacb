"""Dataset -> model hand-over: uint8 images, Eq. 10 on the model's device, drawn faces, the one switch."""
import copy
import os

import numpy as np
import pytest
import torch
import yaml
from torch.utils.data import default_collate

import panini_arch  # noqa: F401  (registers everything with BasicSR)
from basicsr.models import build_model
from basicsr.utils.options import ordered_yaml
from helpers import FACES, REPO
from panini_arch.data.panini_degradation_dataset import PaniniDegradationDataset
from panini_arch.data.synthetic_faces import draw_face
from panini_arch.data.udrl_pair_dataset import UDRLPairDataset
from panini_arch.data.udrl_val_dataset import UDRLValDataset
from panini_arch.models.hand_over import degrade_on_device, model_input
from panini_arch.models.option_checks import OptionError

TINY = dict(dataroot_gt=FACES, gt_size=128, in_size=32, use_hflip=True, deterministic=True, seed=3,
            downsample_range=[1.25, 25], blur_sigma=[0.1, 1.25], noise_range=[0, 25], jpeg_range=[5, 50],
            mean=[0.4, 0.5, 0.6], std=[0.2, 0.5, 0.7])
CPU = torch.device('cpu')


def batch(dataset, n=3):
    return default_collate([dataset[i] for i in range(n)])


@pytest.mark.parametrize('dataset_class, keys', [(PaniniDegradationDataset, ('lq', 'gt')),
                                                 (UDRLPairDataset, ('query', 'key')),
                                                 (UDRLValDataset, ('lq', ))])
def test_uint8_hand_over_gives_the_float_tensors(dataset_class, keys):
    opt = dict(TINY, num_degradations=2, num_faces=2)
    as_float = batch(dataset_class(opt))
    as_uint8 = batch(dataset_class(dict(opt, output_dtype='uint8')))
    for key in keys:
        assert as_float[key].dtype == torch.float32 and as_uint8[key].dtype == torch.uint8
        assert as_uint8[key].shape == as_float[key].shape
        torch.testing.assert_close(model_input(as_uint8, key, CPU), as_float[key], rtol=0, atol=1e-6)
    assert torch.equal(as_uint8['deg_params'], as_float['deg_params'])


def test_bad_output_dtype_is_named():
    with pytest.raises(ValueError, match='output_dtype'):
        PaniniDegradationDataset(dict(TINY, output_dtype='float16'))
    with pytest.raises(ValueError, match='degrade_on_device.*bicubic'):
        PaniniDegradationDataset(dict(TINY, degrade_on_device=True, scale=2, lq_mode='bicubic', in_size=64))


def test_on_device_items_carry_the_hq_face_parameters_and_seed():
    """Same flip and parameters as the CPU path (one generator, same order); no lq; a per-sample seed."""
    cpu_path = batch(PaniniDegradationDataset(TINY), 4)
    device_path = batch(PaniniDegradationDataset(dict(TINY, degrade_on_device=True)), 4)
    assert 'lq' not in device_path and device_path['gt'].dtype == torch.uint8
    assert torch.equal(device_path['deg_params'], cpu_path['deg_params'])
    torch.testing.assert_close(model_input(device_path, 'gt', CPU), cpu_path['gt'], rtol=0, atol=1e-6)
    assert device_path['deg_seed'].shape == (4, 1) and len(set(device_path['deg_seed'][:, 0].tolist())) == 4
    again = batch(PaniniDegradationDataset(dict(TINY, degrade_on_device=True)), 4)
    assert torch.equal(again['deg_seed'], device_path['deg_seed'])

    lq = degrade_on_device(device_path, device_path['gt'], device_path['deg_params'], device_path['deg_seed'][:, 0],
                           CPU)
    assert lq.shape == cpu_path['lq'].shape
    assert torch.equal(lq, degrade_on_device(device_path, device_path['gt'], device_path['deg_params'],
                                             device_path['deg_seed'][:, 0], CPU))
    # on the 8-bit grid and normalised like the CPU path's lq: both span the same value set
    low, high = (0 - 0.4) / 0.2, (1 - 0.4) / 0.2
    assert low - 1e-6 <= float(lq[:, 0].min()) and float(lq[:, 0].max()) <= high + 1e-6
    unit = lq * torch.tensor([0.2, 0.5, 0.7]).view(1, 3, 1, 1) + torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1)
    torch.testing.assert_close(unit * 255, (unit * 255).round(), rtol=0, atol=1e-3)


def test_udrl_on_device_pairs_share_parameters_not_noise():
    data = batch(UDRLPairDataset(dict(TINY, degrade_on_device=True, in_size=16, noise_range=[20, 25])), 2)
    assert data['query_hq'].dtype == torch.uint8 and data['deg_seed'].shape == (2, 2)
    same = copy.copy(data)
    same['key_hq'] = data['query_hq']
    opt = tiny_options('udrl_tiny')
    model = in_process_model(opt)
    model.feed_data(same)
    assert model.query.shape == (2, 3, 16, 16)
    assert not torch.equal(model.query, model.key)  # one face, one degradation, two noise draws
    plain = degrade_on_device(same, same['query_hq'], same['deg_params'], same['deg_seed'][:, 0], CPU)
    assert torch.equal(model.query, plain)


def test_drawn_faces_need_no_files():
    opt = dict(TINY, dataroot_gt=None, io_backend=dict(type='synthetic', num=5, seed=100))
    dataset = PaniniDegradationDataset(dict(opt, output_dtype='uint8'))
    assert len(dataset) == 5 and dataset[1]['gt_path'] == 'synthetic/0101.png'
    face = dataset.source.read(1)
    assert np.array_equal(face, draw_face(128, 101))
    with pytest.raises(ValueError, match='synthetic takes num and seed'):
        PaniniDegradationDataset(dict(opt, io_backend=dict(type='synthetic', num=5, root='x')))
    with pytest.raises(ValueError, match="'num'"):
        PaniniDegradationDataset(dict(opt, io_backend=dict(type='synthetic')))


def tiny_options(name):
    with open(os.path.join(REPO, 'options', f'train_{name}.yml')) as f:
        opt = yaml.load(f, Loader=ordered_yaml()[0])
    opt.pop('plugin')
    return opt


def in_process_model(opt):
    opt = copy.deepcopy(opt)
    opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False)
    opt['path'].update(models='unused', training_states='unused', visualization='unused')
    opt['datasets']['train']['degrade_on_device'] = True
    torch.manual_seed(0)
    return build_model(opt)


@pytest.fixture
def one_thread():
    """Tiny nets gain nothing from more threads; on a shared machine they lose a lot."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_panini_model_degrades_a_batch_of_hq_faces_on_device(one_thread):
    """The batch says what to do: HQ faces with noise seeds are degraded here, a batch with ``lq`` is not."""
    opt = tiny_options('panini_fr_tiny')
    data = batch(PaniniDegradationDataset(dict(TINY, in_size=64, degrade_on_device=True)), 2)
    model = in_process_model(opt)
    model.feed_data(data)
    assert model.lq.shape == (2, 3, 64, 64) and model.gt.dtype == torch.float32
    assert torch.equal(model.lq, degrade_on_device(data, data['gt'], data['deg_params'], data['deg_seed'][:, 0], CPU))
    model.optimize_parameters(1)
    assert np.isfinite(model.log_dict['l_g_pix'])

    plain = batch(PaniniDegradationDataset(dict(TINY, in_size=64)), 2)
    model.feed_data(plain)
    assert torch.equal(model.lq, plain['lq'])


def test_the_old_train_switch_names_its_new_place():
    opt = tiny_options('panini_fr_tiny')
    opt['train']['degrade_on_device'] = True
    with pytest.raises(OptionError, match=r'train\.degrade_on_device: moved to datasets\.train\.degrade_on_device'):
        in_process_model(opt)
