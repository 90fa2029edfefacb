"""Batched torch Eq. 10 against the numpy/OpenCV reference."""
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from panini_arch.data import degradation_torch as dt
from panini_arch.data.degradation import axis_operator, degrade_uint8
from panini_arch.data.synthetic_faces import draw_face


def _batch(images):
    """uint8 BGR list -> (B, 3, H, W) RGB float in [0, 1]."""
    return torch.from_numpy(np.stack([im[..., ::-1] for im in images]).copy()).permute(0, 3, 1, 2).float() / 255


def _psnr(a, b):
    return 10 * np.log10(255.0**2 / max(np.mean((a.astype(np.float64) - b)**2), 1e-12))


@pytest.mark.parametrize('n_in,n_out,sigma', [(256, 25, 3.0), (256, 256, 1.2), (100, 7, 0.0), (64, 128, 0.0)])
def test_axis_operators_match_the_numpy_operator(n_in, n_out, sigma):
    mats = dt.axis_operators(torch.tensor([n_in]), torch.tensor([n_out]), torch.tensor([sigma]), 41, n_in + 3,
                             n_out + 2)
    ref = axis_operator(n_in, n_out, sigma, 41).toarray()
    np.testing.assert_allclose(mats[0, :n_out, :n_in].numpy(), ref, atol=1e-6)
    assert mats[0, n_out:].abs().sum() == 0 and mats[0, :, n_in:].abs().sum() == 0


def test_mixed_r_batch_matches_numpy_chain_without_noise_and_jpeg():
    images = [draw_face(256, i) for i in range(4)]
    params = torch.tensor([[10.0, 3.0, 0, 100], [25.3, 0, 0, 100], [1.0, 0, 0, 100], [7.0, 1.5, 0, 100]])
    out = dt.degrade_batch(_batch(images), params, 128, seeds=[0, 1, 2, 3])
    assert out.shape == (4, 3, 128, 128) and out.dtype == torch.float32
    for img, p, o in zip(images, params.tolist(), out):
        ref = degrade_uint8(img, dict(zip(('r', 'sigma', 'delta', 'q'), p)), 128)[..., ::-1]
        got = (o.permute(1, 2, 0).numpy() * 255).round()
        assert np.abs(got - ref).max() <= 2  # OpenCV's uint8 resize uses fixed-point weights


def _noisy_face(height, width, seed):
    """uint8 BGR face of (height, width) with +-20 levels of noise (many non-flat 8x8 blocks)."""
    face = cv2.resize(draw_face(256, seed), (width, height), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(seed).integers(-20, 21, face.shape)
    return np.clip(face.astype(int) + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize('quality', [10, 30, 50])
def test_jpeg_batch_equals_opencv_bit_for_bit(quality):
    """Three sizes (odd, not multiples of 8 or 16, one not square) in one zero-padded canvas, one quality: each
    valid region equals cv2.imdecode(cv2.imencode) of the BGR face exactly; the canvas outside is untouched."""
    faces = [_noisy_face(96, 96, 1), _noisy_face(37, 37, 2), _noisy_face(23, 61, 3)]
    canvas = torch.full((3, 3, 96, 96), 7.0)
    for i, face in enumerate(faces):
        canvas[i, :, :face.shape[0], :face.shape[1]] = _batch([face])[0] * 255
    heights, widths = torch.tensor([f.shape[0] for f in faces]), torch.tensor([f.shape[1] for f in faces])
    out = dt.jpeg_batch(canvas, torch.full((3, ), float(quality)), heights, widths)
    for i, face in enumerate(faces):
        h, w = face.shape[:2]
        ref = cv2.imdecode(cv2.imencode('.jpg', face, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
        got = out[i, :, :h, :w].permute(1, 2, 0).numpy()[..., ::-1]
        assert np.array_equal(got, ref), f'face {i} differs from OpenCV by up to {np.abs(got - ref).max()}'
        assert _psnr(ref, face) < 40, 'JPEG should visibly change the face'
        mask = torch.ones(3, 96, 96, dtype=torch.bool)
        mask[:, :h, :w] = False
        assert torch.all(out[i][mask] == 7)


def test_jpeg_batch_mixed_qualities_equal_each_sample_alone():
    """Grouping by quality keeps every sample to its own quality and size (qualities repeat and differ)."""
    faces = torch.stack([_batch([_noisy_face(48, 48, i)])[0] * 255 for i in range(5)])
    quality = torch.tensor([30.0, 10, 30, 100, 10])
    size = torch.tensor([48, 40, 33, 48, 48])
    out = dt.jpeg_batch(faces, quality, size, size)
    for i in range(5):
        alone = dt.jpeg_batch(faces[i:i + 1], quality[i:i + 1], size[i:i + 1], size[i:i + 1])
        assert torch.equal(out[i], alone[0]), i
    assert torch.equal(out[3], faces[3]) and not torch.equal(out[0], faces[0])


def test_codec_device_keeps_the_cpu_on_cpu():
    assert dt.codec_device(torch.device('cpu')) == torch.device('cpu')


def test_refused_device_codec_warns_and_falls_back_to_the_cpu_codec(monkeypatch):
    """Should nvJPEG refuse a group (a list call), the CPU codec does it, with a warning naming the sizes."""
    crops = [torch.from_numpy(_noisy_face(h, w, h)[..., ::-1].copy()).permute(2, 0, 1).contiguous()
             for h, w in ((5, 7), (40, 40))]
    expected = dt.round_trip(crops, 20, torch.device('cpu'))
    cpu_encode = dt.encode_jpeg

    def refuse_lists(images, quality):
        if isinstance(images, list):
            raise RuntimeError('nvjpeg refused')
        return cpu_encode(images, quality=quality)

    monkeypatch.setattr(dt, 'encode_jpeg', refuse_lists)
    with pytest.warns(RuntimeWarning, match=r'nvJPEG failed on 2 image\(s\) of sizes \[\(5, 7\), \(40, 40\)\]'):
        got = dt.round_trip(crops, 20, SimpleNamespace(type='cuda'))
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_quality_100_means_no_jpeg():
    x = torch.randint(0, 256, (2, 3, 16, 16)).float()
    out = dt.jpeg_batch(x, torch.tensor([100.0, 50.0]), torch.tensor([16, 16]), torch.tensor([16, 16]))
    assert torch.equal(out[0], x[0]) and not torch.equal(out[1], x[1])


def test_noise_seeded_per_sample_and_scaled_by_delta():
    flat = torch.full((2, 3, 200, 200), 0.5)
    params = torch.tensor([[1.0, 0, 20.0, 100], [1.0, 0, 0.0, 100]])
    a = dt.degrade_batch(flat, params, 200, seeds=[1, 2])
    assert torch.equal(a, dt.degrade_batch(flat, params, 200, seeds=[1, 2]))
    assert not torch.equal(a[0], dt.degrade_batch(flat, params, 200, seeds=[3, 2])[0])
    assert abs(float((a[0] * 255).std()) - 20) < 1.0
    assert torch.equal(a[1], flat[1].mul(255).round() / 255)
    np.testing.assert_allclose((a * 255).numpy(), (a * 255).round().numpy(), atol=1e-3)


def test_uint8_input_equals_float_input():
    faces = torch.from_numpy(np.stack([draw_face(64, i)[..., ::-1].transpose(2, 0, 1) for i in range(2)]).copy())
    params = torch.tensor([[3.0, 0.8, 10.0, 30], [1.5, 0.3, 5.0, 60]])
    assert torch.equal(dt.degrade_batch(faces, params, 32, [5, 6]), dt.degrade_batch(faces / 255, params, 32, [5, 6]))


def test_batch_keeps_every_sample_to_its_own_parameters_and_seed():
    """Each sample of a mixed batch (r from 1.3 to 20, with and without blur, noise, JPEG) equals that sample
    degraded alone, and shuffling the batch shuffles the outputs: no parameter, seed, canvas padding or JPEG
    block of one sample reaches another."""
    faces = torch.from_numpy(np.stack([draw_face(128, i)[..., ::-1].transpose(2, 0, 1) for i in range(4)]).copy())
    params = torch.tensor([[1.3, 0.5, 20.0, 10], [20.0, 1.2, 5.0, 40], [4.0, 0.0, 0.0, 100], [8.0, 1.0, 10.0, 25]])
    seeds = torch.tensor([11, 12, 13, 14])
    out = dt.degrade_batch(faces, params, 64, seeds)
    for i in range(4):
        assert torch.equal(out[i], dt.degrade_batch(faces[i:i + 1], params[i:i + 1], 64, seeds[i:i + 1])[0]), i
    perm = torch.tensor([2, 0, 3, 1])
    assert torch.equal(dt.degrade_batch(faces[perm], params[perm], 64, seeds[perm]), out[perm])
    assert len({out[i].sum().item() for i in range(4)}) == 4
