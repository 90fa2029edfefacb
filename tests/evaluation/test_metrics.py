"""Metrics: reference values, symmetry, weight loading and the "not computed" path."""
import cv2
import lpips
import numpy as np
import pytest
import torch
import torchvision

import panini_arch  # noqa: F401  (registers the metrics)
from basicsr.metrics import calculate_niqe, calculate_psnr, calculate_ssim
from basicsr.utils.registry import METRIC_REGISTRY
from helpers import tiny_extractor
from panini_arch.metrics.metric_runner import MetricRunner
from panini_arch.metrics.arcface_iresnet import IResNet
from panini_arch.metrics.fid_metric import FID, frechet_distance
from panini_arch.metrics.identity_metric import build_arcface, calculate_identity, identity_similarity
from panini_arch.metrics.lpips_metric import build_lpips, calculate_lpips, lpips_distance
from panini_arch.metrics.metric_common import MetricNotComputed, MetricWeightsError


def face(seed, size=64):
    from panini_arch.data.synthetic_faces import draw_face
    return draw_face(size, seed)


@pytest.fixture(scope='module')
def random_lpips():
    torch.manual_seed(0)
    return lpips.LPIPS(net='alex', pretrained=True, pnet_rand=True, verbose=False).eval()


@pytest.fixture(scope='module')
def random_arcface():
    torch.manual_seed(0)
    return IResNet('iresnet18').eval()


def test_psnr_ssim_through_runner_match_basicsr():
    img, img2 = face(0), cv2.GaussianBlur(face(0), (0, 0), 1.5)
    runner = MetricRunner({'psnr': {'type': 'calculate_psnr', 'crop_border': 0},
                           'ssim': {'type': 'calculate_ssim', 'crop_border': 0}})
    runner.update(img, img2)
    runner.update(img2, img2 // 2)
    result = runner.results()
    assert result['psnr']['value'] == pytest.approx(
        (calculate_psnr(img, img2, 0) + calculate_psnr(img2, img2 // 2, 0)) / 2)
    assert result['ssim']['value'] == pytest.approx(
        (calculate_ssim(img, img2, 0) + calculate_ssim(img2, img2 // 2, 0)) / 2)


def test_niqe_through_runner_is_basicsr_niqe():
    img = face(3, 256)
    runner = MetricRunner({'niqe': {'type': 'calculate_niqe', 'crop_border': 0}})
    runner.update(img, img)
    assert runner.results()['niqe']['value'] == pytest.approx(calculate_niqe(img, 0))


def test_lpips_zero_on_identical_symmetric_and_positive(random_lpips):
    img, img2 = face(0), face(1)
    assert lpips_distance(random_lpips, img, img) == pytest.approx(0, abs=1e-7)
    distance = lpips_distance(random_lpips, img, img2)
    assert distance > 1e-3
    assert lpips_distance(random_lpips, img2, img) == pytest.approx(distance, rel=1e-5)


def test_lpips_backbone_loaded_from_local_torchvision_file(tmp_path):
    torch.manual_seed(1)
    alexnet = torchvision.models.alexnet()
    path = tmp_path / 'alexnet.pth'
    torch.save(alexnet.state_dict(), path)
    model = build_lpips('alex', str(path))
    assert torch.equal(model.net.slice1[0].weight.cpu(), alexnet.features[0].weight)
    assert torch.equal(getattr(model.net.slice5, '10').bias.cpu(), alexnet.features[10].bias)
    # the package's linear heads are the published ones, not random
    heads = torch.load(lpips.__path__[0] + '/weights/v0.1/alex.pth', map_location='cpu', weights_only=True)
    assert torch.equal(model.lin0.model[1].weight.cpu(), heads['lin0.model.1.weight'])
    assert calculate_lpips(face(0), face(0), backbone_path=str(path)) == pytest.approx(0, abs=1e-7)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    images = [face(i) for i in range(12)]
    same = FID(extractor=tiny_extractor(), small_sample=True)
    shifted = FID(extractor=tiny_extractor(), small_sample=True)
    for img in images:
        same.update(img, img)
        shifted.update(img, np.clip(img.astype(int) + 80, 0, 255).astype(np.uint8))
    assert same.compute() == pytest.approx(0, abs=1e-6)
    assert shifted.compute() > 1e-3
    assert same.details == {'num_images': 12, 'small_sample': True}


def test_frechet_distance_of_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(4000, 2))
    # N(0, I) vs N(m, 4I): |m|^2 + tr(I + 4I - 2*2I) = |m|^2 + 2
    distance = frechet_distance(features, features * 2 + np.array([1.0, 2.0]))
    assert distance == pytest.approx(5 + 2, rel=0.05)


def test_fid_inception_built_from_local_file_without_download(tmp_path, monkeypatch):
    import basicsr.archs.inception as basicsr_inception
    from panini_arch.metrics.fid_metric import build_fid_inception
    with monkeypatch.context() as patch:  # a random FID Inception, saved like pt_inception-...pth
        patch.setattr(basicsr_inception, 'load_url', lambda *args, **kwargs: None)
        patch.setattr(torchvision.models.Inception3, 'load_state_dict', lambda self, state_dict: None)
        state_dict = basicsr_inception.fid_inception_v3().state_dict()
    path = tmp_path / 'pt_inception.pth'
    torch.save(state_dict, path)

    def no_download(*args, **kwargs):
        raise AssertionError('FID weights must never be downloaded')

    monkeypatch.setattr(basicsr_inception, 'load_url', no_download)
    extractor = build_fid_inception(str(path))
    assert extractor(torch.rand(2, 3, 64, 64)).shape == (2, 2048)
    assert basicsr_inception.LOCAL_FID_WEIGHTS.startswith('experiments/')  # BasicSR's constant is restored


def test_fid_small_set_refused_without_small_sample():
    fid = FID(extractor=tiny_extractor(), min_samples=1000)
    for i in range(3):
        fid.update(face(i), face(i))
    with pytest.raises(MetricNotComputed, match='small_sample'):
        fid.compute()


def test_identity_self_is_one_and_symmetric(random_arcface):
    img, img2 = face(0, 112), face(5, 112)
    assert identity_similarity(random_arcface, img, img) == pytest.approx(1, abs=1e-5)
    similarity = identity_similarity(random_arcface, img, img2)
    assert similarity < 0.9999
    assert identity_similarity(random_arcface, img2, img) == pytest.approx(similarity, abs=1e-6)


def test_arcface_loads_arcface_torch_layout(tmp_path, random_arcface):
    path = tmp_path / 'backbone.pth'
    torch.save(random_arcface.state_dict(), path)
    net = build_arcface(str(path), 'iresnet18')
    assert torch.equal(net.layer4[1].conv2.weight.cpu(), random_arcface.layer4[1].conv2.weight)
    assert calculate_identity(face(0), face(0), arcface_path=str(path), arch='iresnet18') == pytest.approx(1, abs=1e-5)
    with pytest.raises(MetricWeightsError, match='do not fit'):  # reported as not computed, like a missing file
        build_arcface(str(path), 'iresnet34')


@pytest.mark.parametrize('metric_opt, option', [
    ({'type': 'calculate_lpips', 'backbone_path': 'missing/alexnet.pth'}, 'backbone_path'),
    ({'type': 'calculate_identity', 'arcface_path': 'missing/backbone.pth'}, 'arcface_path'),
    ({'type': 'FID', 'inception_path': 'missing/pt_inception.pth'}, 'inception_path'),
])
def test_missing_weights_raise_clear_error_and_are_not_computed(metric_opt, option):
    metric = METRIC_REGISTRY.get(metric_opt['type'])
    kwargs = {k: v for k, v in metric_opt.items() if k != 'type'}
    with pytest.raises(MetricWeightsError, match=f'{option}.*does not exist'):
        if isinstance(metric, type):
            metric(**kwargs)
        else:
            metric(face(0), face(0), **kwargs)
    runner = MetricRunner({'psnr': {'type': 'calculate_psnr', 'crop_border': 0}, 'x': metric_opt})
    runner.update(face(0), face(1))
    results = runner.results()
    assert results['x']['value'] is None and option in results['x']['not_computed']
    assert results['psnr']['value'] == pytest.approx(calculate_psnr(face(0), face(1), 0))
