"""Eq. 10 helpers: parameter sampling, the fast blur+downsample, JPEG call, determinism."""
import cv2
import numpy as np
import pytest

from panini_arch.data import degradation as deg
from panini_arch.data.synthetic_faces import draw_face, make_face_folder


def _face(size=256, seed=0):
    return draw_face(size, seed).astype(np.float32) / 255.0


def test_sample_degradation_within_default_ranges():
    rng = np.random.default_rng(0)
    draws = [deg.sample_degradation(rng) for _ in range(200)]
    r = np.array([d['r'] for d in draws])
    assert r.min() >= 10 and r.max() <= 200 and r.max() - r.min() > 100
    assert all(0.1 <= d['sigma'] <= 10 and 0 <= d['delta'] <= 25 for d in draws)
    q = [d['q'] for d in draws]
    assert all(isinstance(v, int) and 5 <= v <= 50 for v in q) and min(q) == 5 and max(q) == 50


def test_null_range_gives_neutral_value_and_keeps_others():
    on = deg.sample_degradation(np.random.default_rng(3))
    off = deg.sample_degradation(np.random.default_rng(3), {'noise_range': None, 'jpeg_range': None})
    assert off['delta'] == 0 and off['q'] == 100
    assert (off['r'], off['sigma']) == (on['r'], on['sigma'])
    neutral = deg.sample_degradation(np.random.default_rng(3), dict.fromkeys(deg.DEFAULT_RANGES))
    assert neutral == deg.NEUTRAL_PARAMS


@pytest.mark.parametrize('bad', [{'downsample_range': [0.5, 2]}, {'jpeg_range': [5, 101]}, {'jpeg_range': [5.2, 5.8]},
                                 {'noise_range': [5, 1]}, {'blur_sigma': 3}, {'blur_sigma': ['a', 1]}])
def test_bad_range_names_the_option(bad):
    key = next(iter(bad))
    with pytest.raises(ValueError, match=key):
        deg.sample_degradation(np.random.default_rng(0), bad)


@pytest.mark.parametrize('sigma,r', [(3.0, 10.0), (0.1, 37.3), (10.0, 200.0), (2.5, 1.0), (0.0, 16.0), (1.5, 7.7)])
def test_blur_downsample_equals_cv2_filter2d_then_resize(sigma, r):
    img = np.random.default_rng(1).random((300, 300, 3), dtype=np.float32)
    ref = img
    if sigma > 0:
        g = deg.gaussian_kernel1d(sigma, 41)
        ref = cv2.filter2D(img, -1, np.outer(g, g).astype(np.float32))
    side = max(1, int(300 / r))
    ref = cv2.resize(ref, (side, side), interpolation=cv2.INTER_LINEAR)
    out = deg.blur_downsample(img, sigma, r, 41)
    assert out.shape == (side, side, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=2e-6)


def test_apply_degradation_shape_range_and_grid():
    params = {'r': 12.0, 'sigma': 2.0, 'delta': 10.0, 'q': 30}
    out = deg.apply_degradation(_face(), params, 128, rng=np.random.default_rng(0))
    assert out.shape == (128, 128, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    np.testing.assert_allclose(out * 255, np.rint(out * 255), atol=1e-3)


def test_apply_degradation_deterministic_given_params_and_rng():
    params = {'r': 20.0, 'sigma': 4.0, 'delta': 20.0, 'q': 20}
    a = deg.apply_degradation(_face(), params, 64, rng=np.random.default_rng(5))
    b = deg.apply_degradation(_face(), params, 64, rng=np.random.default_rng(5))
    c = deg.apply_degradation(_face(), params, 64, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0


def test_noise_without_rng_is_an_error():
    with pytest.raises(ValueError, match='rng'):
        deg.apply_degradation(_face(), {'r': 10.0, 'sigma': 1.0, 'delta': 5.0, 'q': 50}, 64)


def test_only_jpeg_equals_cv2_jpeg():
    face = draw_face(128, 2)
    out = deg.apply_degradation(face.astype(np.float32) / 255, {'r': 1.0, 'sigma': 0.0, 'delta': 0.0, 'q': 17}, 128)
    ref = cv2.imdecode(cv2.imencode('.jpg', face, [cv2.IMWRITE_JPEG_QUALITY, 17])[1], cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(np.rint(out * 255).astype(np.uint8), ref)
    assert np.abs(ref.astype(int) - face).max() > 20


def test_jpeg_quality_passed_as_int_like_opencv5_requires(monkeypatch):
    """opencv-python 5 rejects non-int params; emulate that and feed a float quality."""
    real = cv2.imencode

    def strict_imencode(ext, img, params):
        if not all(type(p) is int for p in params):
            raise cv2.error('params must be int')
        return real(ext, img, params)

    monkeypatch.setattr(cv2, 'imencode', strict_imencode)
    out = deg.jpeg_roundtrip(draw_face(64, 1), 23.7)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match='quality'):
        deg.jpeg_roundtrip(draw_face(64, 1), 0)


def test_degradation_strength_monotonic_in_r():
    gt = _face(512, 4)
    psnrs = []
    for r in (10, 25, 60, 150):
        lq = deg.apply_degradation(gt, {'r': float(r), 'sigma': 1.0, 'delta': 0.0, 'q': 100}, 512)
        psnrs.append(10 * np.log10(1 / np.mean((lq - gt)**2)))
    assert all(a > b for a, b in zip(psnrs, psnrs[1:])), psnrs


def test_draw_face_varies_with_seed_and_is_reproducible(tmp_path):
    a, b = draw_face(96, 1), draw_face(96, 2)
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, draw_face(96, 1))
    assert np.abs(a.astype(int) - b).mean() > 5
    paths = make_face_folder(tmp_path / 'faces', 3, 64, seed=7)
    assert [p[-8:] for p in paths] == ['0000.png', '0001.png', '0002.png']
    np.testing.assert_array_equal(cv2.imread(paths[2]), draw_face(64, 9))
    with pytest.raises(ValueError, match='size'):
        draw_face(8, 0)
