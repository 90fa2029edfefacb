"""PaniniDegradationDataset and UDRLPairDataset: shapes, ranges, switches, determinism, SR, pairs."""
import os

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import panini_arch  # noqa: F401  (first: makes basicsr importable, registers the datasets)
from basicsr.utils.registry import DATASET_REGISTRY
from helpers import FACES
from panini_arch.data.synthetic_faces import make_face_folder


def build(name, **opt):
    base = {'dataroot_gt': FACES, 'io_backend': {'type': 'disk'}, 'gt_size': 128, 'in_size': 64}
    base.update(opt)
    return DATASET_REGISTRY.get(name)(base)


def to_uint8(t):
    return np.rint((t.permute(1, 2, 0).numpy() * 0.5 + 0.5) * 255).astype(np.uint8)[..., ::-1]


def test_fixture_folder_and_meta_info():
    names = sorted(f for f in os.listdir(FACES) if f.endswith('.png'))
    assert len(names) == 16
    with open(os.path.join(FACES, 'meta_info.txt')) as f:
        assert [line.split()[0] for line in f] == names
    assert all(cv2.imread(os.path.join(FACES, n)).shape == (128, 128, 3) for n in names)


def test_shapes_ranges_and_params_over_200_samples():
    opt = {'downsample_range': [2, 8], 'blur_sigma': [0.5, 3], 'noise_range': [1, 9], 'jpeg_range': [30, 60]}
    ds = build('PaniniDegradationDataset', use_hflip=True, **opt)
    params = []
    for i in range(200):
        item = ds[i % len(ds)]
        assert item['lq'].shape == (3, 64, 64) and item['gt'].shape == (3, 128, 128)
        assert item['lq'].dtype == torch.float32 and item['gt'].dtype == torch.float32
        assert -1 <= item['lq'].min() and item['lq'].max() <= 1 and -1 <= item['gt'].min() and item['gt'].max() <= 1
        assert item['gt_path'] == item['lq_path'] and os.path.isfile(item['gt_path'])
        params.append(item['deg_params'].numpy())
    p = np.stack(params)
    lows, highs = np.array([2, 0.5, 1, 30]), np.array([8, 3, 9, 60])
    assert (p >= lows).all() and (p <= highs).all()
    assert ((p.max(0) - p.min(0)) > 0.8 * (highs - lows)).all()


def test_mean_std_normalisation():
    item = build('PaniniDegradationDataset', mean=[0, 0, 0], std=[1, 1, 1], deterministic=True)[15]
    ref = cv2.imread(item['gt_path'])[..., ::-1].transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(item['gt'].numpy(), ref, atol=1e-6)


def test_only_jpeg_switch_gives_cv2_jpeg_of_resized_gt():
    off = {'downsample_range': None, 'blur_sigma': None, 'noise_range': None}
    item = build('PaniniDegradationDataset', in_size=128, jpeg_range=[20, 20], deterministic=True, **off)[3]
    gt = cv2.imread(item['gt_path'])
    ref = cv2.imdecode(cv2.imencode('.jpg', gt, [cv2.IMWRITE_JPEG_QUALITY, 20])[1], cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(to_uint8(item['lq']), ref)
    assert item['deg_params'].tolist() == [1, 0, 0, 20]


@pytest.mark.parametrize('term', ['downsample_range', 'blur_sigma', 'noise_range', 'jpeg_range'])
def test_each_switch_turns_its_term_off(term):
    """All off -> lq is the resized GT; only ``term`` on -> it is not."""
    off = dict.fromkeys(['downsample_range', 'blur_sigma', 'noise_range', 'jpeg_range'])
    item = build('PaniniDegradationDataset', in_size=128, deterministic=True, **off)[5]
    np.testing.assert_array_equal(item['lq'].numpy(), item['gt'].numpy())
    on = dict(off)
    on.pop(term)
    item = build('PaniniDegradationDataset', in_size=128, deterministic=True, **on)[5]
    assert (item['lq'] - item['gt']).abs().mean() > 0.005


@pytest.mark.slow
def test_deterministic_across_instances_and_worker_counts():
    def collect(workers):
        ds = build('PaniniDegradationDataset', deterministic=True, seed=11, use_hflip=True)
        loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=workers)
        return [b for b in loader]

    a, b = collect(0), collect(2)
    for x, y in zip(a, b):
        assert torch.equal(x['lq'], y['lq']) and torch.equal(x['gt'], y['gt'])
        assert torch.equal(x['deg_params'], y['deg_params'])
    other = build('PaniniDegradationDataset', deterministic=True, seed=12)[0]
    assert not torch.equal(other['deg_params'], a[0]['deg_params'][0])


def test_non_deterministic_mode_varies():
    ds = build('PaniniDegradationDataset')
    assert not torch.equal(ds[0]['deg_params'], ds[0]['deg_params'])


def test_sr16_lq_is_bicubic_down_by_16_without_other_degradation(tmp_path):
    make_face_folder(tmp_path, 2, 256, seed=3)
    ds = build('PaniniDegradationDataset', dataroot_gt=str(tmp_path), gt_size=256, in_size=16, scale=16,
               deterministic=True)
    item = ds[1]
    assert item['lq'].shape == (3, 16, 16) and item['gt'].shape == (3, 256, 256)
    assert item['deg_params'].tolist() == [16, 0, 0, 100]
    ref = np.asarray(Image.fromarray(cv2.imread(item['gt_path'])).resize((16, 16), Image.BICUBIC))
    np.testing.assert_array_equal(to_uint8(item['lq']), ref)


def test_sr_scale_must_divide_gt_size_and_agree_with_in_size():
    with pytest.raises(ValueError, match='scale'):
        build('PaniniDegradationDataset', scale=3)
    with pytest.raises(ValueError, match='in_size'):
        build('PaniniDegradationDataset', scale=16, in_size=64)


def test_scale_next_to_eq10_ranges_needs_explicit_lq_mode():
    """BasicSR copies a top-level ``scale: 2`` into an MFR dataset: never silently switch to bicubic."""
    with pytest.raises(ValueError, match='lq_mode'):
        build('PaniniDegradationDataset', scale=2, noise_range=[0, 25])
    eq10 = build('PaniniDegradationDataset', scale=2, noise_range=[0, 25], lq_mode='eq10', deterministic=True)
    assert eq10.scale is None and eq10[0]['lq'].shape == (3, 64, 64) and eq10[0]['deg_params'][0] >= 10
    bicubic = build('PaniniDegradationDataset', scale=2, in_size=64, noise_range=[0, 25], lq_mode='bicubic')
    assert bicubic[0]['deg_params'].tolist() == [2, 0, 0, 100]
    with pytest.raises(ValueError, match='lq_mode'):
        build('PaniniDegradationDataset', lq_mode='sr')
    with pytest.raises(ValueError, match='needs scale'):
        build('PaniniDegradationDataset', lq_mode='bicubic')


def test_udrl_pairs_share_params_and_differ_in_content():
    ds = build('UDRLPairDataset', in_size=32, deterministic=True)
    for i in range(len(ds)):
        item = ds[i]
        assert item['query'].shape == (3, 32, 32) and item['key'].shape == (3, 32, 32)
        assert item['query_path'] != item['key_path']
        assert item['query_path'].endswith(f'{i:04d}.png')
        assert item['deg_params'].shape == (4, )
    again = ds[3]
    assert torch.equal(again['key'], ds[3]['key']) and torch.equal(again['deg_params'], ds[3]['deg_params'])
    loader = torch.utils.data.DataLoader(ds, batch_size=8)
    batch = next(iter(loader))
    assert batch['query'].shape == (8, 3, 32, 32) and len(set(batch['deg_params'][:, 0].tolist())) == 8


def test_udrl_same_params_same_degradation_on_identical_content(tmp_path):
    """Two copies of one face: query and key differ only by their independent noise."""
    make_face_folder(tmp_path, 1, 128, seed=5)
    os.link(tmp_path / '0000.png', tmp_path / '0001.png')
    ds = build('UDRLPairDataset', dataroot_gt=str(tmp_path), deterministic=True, noise_range=None)
    item = ds[0]
    assert torch.equal(item['query'], item['key'])
    noisy = build('UDRLPairDataset', dataroot_gt=str(tmp_path), deterministic=True, noise_range=[20, 25])[0]
    assert not torch.equal(noisy['query'], noisy['key'])
