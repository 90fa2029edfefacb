"""MetricRunner: sets without GT, batches equal to image-by-image updates, and bad weight files of the new metrics."""
import logging
import re

import cv2
import numpy as np
import pytest
import torch
import torchvision

import panini_arch  # noqa: F401  (registers the metrics)
import panini_arch.metrics.deg_metric as deg_metric
import panini_arch.metrics.fid_metric as fid_metric
from basicsr.metrics import calculate_niqe, calculate_psnr
from panini_arch.metrics.arcface_iresnet import IResNet
from panini_arch.metrics.arcface_resnet import ResNetArcFace
from panini_arch.metrics.metric_runner import MetricRunner


def face(seed, size=128):
    from panini_arch.data.synthetic_faces import draw_face
    return draw_face(size, seed)


@pytest.fixture
def tiny_inception(monkeypatch):
    """The FID Inception replaced by a small random net (6-d features); counts how many images it sees."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 5, 4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten()).eval()
    seen = []

    def extractor(x):
        seen.append(len(x))
        with torch.no_grad():
            return net(x)

    monkeypatch.setattr(fid_metric, 'build_fid_inception', lambda path, device='auto': extractor)
    return seen


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    """Random weight files in the published layouts: torchvision AlexNet, arcface_torch IResNet-18, GFPGAN ArcFace."""
    folder = tmp_path_factory.mktemp('weights')
    torch.manual_seed(0)
    paths = {'alexnet': folder / 'alexnet.pth', 'iresnet': folder / 'backbone.pth', 'arcface': folder / 'arcface.pth'}
    torch.save(torchvision.models.alexnet().state_dict(), paths['alexnet'])
    torch.save(IResNet('iresnet18').state_dict(), paths['iresnet'])
    torch.save(ResNetArcFace().state_dict(), paths['arcface'])
    return {name: str(path) for name, path in paths.items()}


def full_metrics(weights, stats=None):
    metrics = {
        'psnr': {'type': 'calculate_psnr', 'crop_border': 0},
        'ssim': {'type': 'calculate_ssim', 'crop_border': 0},
        'lpips': {'type': 'calculate_lpips', 'backbone_path': weights['alexnet'], 'device': 'cpu'},
        'identity': {'type': 'calculate_identity', 'arcface_path': weights['iresnet'], 'arch': 'iresnet18',
                     'device': 'cpu'},
        'deg': {'type': 'calculate_deg', 'arcface_path': weights['arcface'], 'device': 'cpu'},
        'kid': {'type': 'KID', 'inception_path': 'unused'},
        'fid': {'type': 'FID', 'inception_path': 'unused', 'small_sample': True},
    }
    if stats is not None:
        metrics['fid_ffhq'] = {'type': 'FID', 'inception_path': 'unused', 'reference_stats': stats}
    return metrics


def test_set_without_gt_scores_no_reference_metrics_only(tmp_path, weights, tiny_inception, monkeypatch, caplog):
    stats = tmp_path / 'stats.npz'
    np.savez(stats, mu=np.zeros(6), sigma=np.eye(6))

    def never(*args, **kwargs):
        raise AssertionError('a metric that cannot run must not build its network')

    monkeypatch.setattr(deg_metric, 'ResNetArcFace', never)
    metrics = dict(full_metrics(weights, str(stats)), niqe={'type': 'calculate_niqe', 'crop_border': 0},
                   lmd={'type': 'calculate_lmd', 'fan_path': 'absent/alignment_WFLW_4HG.pth'})
    runner = MetricRunner(metrics)
    imgs = [face(i, 256) for i in range(3)]
    with caplog.at_level(logging.WARNING, logger='basicsr'):
        for index, img in enumerate(imgs):
            runner.update(img, None, image=f'{index}.png')
        results = runner.results()
    for name in ('psnr', 'ssim', 'lpips', 'identity', 'deg', 'lmd', 'kid', 'fid'):
        assert results[name] == {'value': None, 'needs_gt': True}, name
    assert results['niqe']['value'] == pytest.approx(np.mean([calculate_niqe(img, 0) for img in imgs]))
    assert results['fid_ffhq']['value'] > 0 and results['fid_ffhq']['details']['num_images'] == 3
    assert sum(tiny_inception) == 3  # the restored images only, once each
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_batches_give_the_values_of_image_by_image_updates(tmp_path, weights, tiny_inception):
    stats = tmp_path / 'stats.npz'
    np.savez(stats, mu=np.full(6, 0.1), sigma=np.eye(6) * 0.01)
    imgs = [face(i) for i in range(3)] + [face(7, 96)]  # two sizes in one batch
    imgs2 = [cv2.GaussianBlur(img, (0, 0), 1.5) for img in imgs]
    names = [f'{i}.png' for i in range(len(imgs))]
    one_by_one, batched = (MetricRunner(full_metrics(weights, str(stats))) for _ in range(2))
    for img, img2, name in zip(imgs, imgs2, names):
        one_by_one.update(img, img2, name)
    tiny_inception.clear()
    batched.update_batch(imgs, imgs2, names)
    assert tiny_inception == [3, 1, 3, 1]  # restored then GT, by size; FID, KID and FID-vs-stats share them
    expected, results = one_by_one.results(), batched.results()
    assert set(results) == set(expected)
    for name, result in results.items():
        assert result['value'] == pytest.approx(expected[name]['value'], rel=1e-5, abs=1e-9), name
        assert result.get('details') == expected[name].get('details'), name
    assert results['psnr']['value'] == pytest.approx(np.mean([calculate_psnr(a, b, 0) for a, b in zip(imgs, imgs2)]))


def test_mixed_set_scores_pairs_with_gt_and_counts_the_rest():
    runner = MetricRunner({'psnr': {'type': 'calculate_psnr', 'crop_border': 0}})
    img, img2 = face(0), face(1)
    runner.update_batch([img, img2], [img2, None], ['a', 'b'])
    assert runner.results()['psnr'] == {'value': pytest.approx(calculate_psnr(img, img2, 0)), 'without_gt': 1}


def test_failing_image_in_a_batch_is_put_on_that_image():
    runner = MetricRunner({'psnr': {'type': 'calculate_psnr', 'crop_border': 0},
                           'niqe': {'type': 'calculate_niqe', 'crop_border': 0}})
    imgs = [face(0, 256), np.zeros((8, 8, 3), np.uint8), face(1, 256)]  # NIQE cannot score an 8x8 image
    runner.update_batch(imgs, imgs, ['a', 'tiny', 'b'])
    results = runner.results()
    assert [failure['image'] for failure in results['niqe']['failed']] == ['tiny']
    assert results['niqe']['value'] == pytest.approx((calculate_niqe(imgs[0], 0) + calculate_niqe(imgs[2], 0)) / 2)
    assert results['psnr']['value'] == float('inf')


class Payload:
    """Runs code when unpickled by a loader that executes code."""

    def __reduce__(self):
        return (print, ('CODE RAN',))


BAD_FILES = {
    'missing': (None, 'does not exist'),
    'truncated': ('truncated', 'cannot be used'),
    'misshaped': ('misshaped', 'cannot be used|does not fit'),
    'code': ('code', 'cannot be used'),
}
METRICS = {  # type, option, mis-shaped state dict, key holding it
    'deg': ('calculate_deg', 'arcface_path', {'conv1.weight': torch.zeros(64, 3, 3, 3)}, None),
    'lmd': ('calculate_lmd', 'fan_path', {'conv1.conv.weight': torch.zeros(64, 5, 7, 7)}, 'state_dict'),
    'kid': ('KID', 'inception_path', {'Conv2d_1a_3x3.conv.weight': torch.zeros(1)}, None),
}


@pytest.mark.parametrize('kind', list(BAD_FILES))
@pytest.mark.parametrize('metric', list(METRICS))
def test_bad_weight_file_is_not_computed_and_other_metrics_are_written(tmp_path, capsys, metric, kind):
    metric_type, option, misshaped, key = METRICS[metric]
    path = tmp_path / 'weights.pth'
    if kind == 'truncated':
        torch.save({name: torch.rand(64, 64) for name in 'abcd'}, path)
        path.write_bytes(path.read_bytes()[:1000])
    elif kind == 'misshaped':
        torch.save(misshaped if key is None else {key: misshaped}, path)
    elif kind == 'code':
        torch.save(Payload() if key is None else {key: Payload()}, path)
    runner = MetricRunner({'psnr': {'type': 'calculate_psnr', 'crop_border': 0},
                           metric: {'type': metric_type, option: str(path), 'device': 'cpu'}})
    runner.update_batch([face(0), face(1)], [face(1), face(0)], ['a', 'b'])
    results = runner.results()
    reason = results[metric]['not_computed']
    assert results[metric]['value'] is None and option in reason and str(path) in reason
    assert re.search(BAD_FILES[kind][1], reason), reason
    assert results['psnr']['value'] == pytest.approx(calculate_psnr(face(0), face(1), 0))
    assert 'CODE RAN' not in capsys.readouterr().out


def test_lmd_file_without_state_dict_entry_is_named(tmp_path):
    path = tmp_path / 'fan.pth'
    torch.save({'conv1.conv.weight': torch.zeros(1)}, path)
    runner = MetricRunner({'lmd': {'type': 'calculate_lmd', 'fan_path': str(path)}})
    runner.update(face(0), face(1))
    assert "no key 'state_dict'" in runner.results()['lmd']['not_computed']


def test_fid_and_kid_share_one_inception_pass_per_image(weights, tiny_inception):
    runner = MetricRunner({name: opt for name, opt in full_metrics(weights).items() if name in ('fid', 'kid')})
    for seed in range(3):
        runner.update(face(seed), face(seed + 10), f'{seed}')
    assert tiny_inception == [1, 1] * 3  # restored and GT once each, not once per metric
    assert runner.results()['kid']['details']['num_images'] == 3


@pytest.mark.parametrize('device', ['gpu', pytest.param('cuda', marks=pytest.mark.skipif(
    torch.cuda.is_available(), reason='CUDA is available here'))])
def test_unusable_device_option_is_not_computed(weights, device):
    runner = MetricRunner({'psnr': {'type': 'calculate_psnr', 'crop_border': 0},
                           'deg': {'type': 'calculate_deg', 'arcface_path': weights['arcface'], 'device': device},
                           'lpips': {'type': 'calculate_lpips', 'backbone_path': weights['alexnet'], 'device': device}})
    runner.update(face(0), face(1), 'a')
    results = runner.results()
    for name in ('deg', 'lpips'):
        assert 'device' in results[name]['not_computed'] and repr(device) in results[name]['not_computed']
    assert results['psnr']['value'] == pytest.approx(calculate_psnr(face(0), face(1), 0))
