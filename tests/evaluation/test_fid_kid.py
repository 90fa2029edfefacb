"""FID against precomputed statistics (both published layouts) and KID, against independent computations."""
import io
import zipfile

import numpy as np
import pytest
import torch
from basicsr.metrics.fid import calculate_fid

import panini_arch  # noqa: F401  (registers the metrics)
from helpers import tiny_extractor
from panini_arch.metrics.fid_metric import FID, KID, NUMPY_GLOBALS, read_fid_stats
from panini_arch.metrics.metric_common import MetricWeightsError


def face(seed, size=64):
    from panini_arch.data.synthetic_faces import draw_face
    return draw_face(size, seed)


def features_of(extractor, imgs):
    """The extractor's features, computed here image by image (BGR uint8 -> RGB [0, 1])."""
    return np.concatenate([extractor(torch.from_numpy(img[..., ::-1].astype(np.float32).transpose(2, 0, 1) / 255)[None])
                           .double().numpy() for img in imgs])


def as_numpy1_pickle(path):
    """Rewrite a torch.save file as numpy 1 pickles it (``numpy.core.multiarray``), like GFPGAN's 2021 file."""
    source = zipfile.ZipFile(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith('data.pkl'):
                assert b'numpy._core.multiarray' in data
                data = data.replace(b'numpy._core.multiarray', b'numpy.core.multiarray')
            target.writestr(info, data)
    path.write_bytes(buffer.getvalue())


def write_stats(tmp_path, layout, mean, cov):
    if layout == 'npz':  # clean-fid
        path = tmp_path / 'stats.npz'
        np.savez(path, mu=mean, sigma=cov)
    else:  # BasicSR/GFPGAN inception_FFHQ_512.pth: numpy arrays in torch.save
        path = tmp_path / 'inception_FFHQ_512.pth'
        torch.save({'mean': mean, 'cov': cov}, path)
        if layout == 'pth_numpy1':
            as_numpy1_pickle(path)
    return path


@pytest.mark.parametrize('layout', ['pth', 'pth_numpy1', 'npz'])
def test_fid_with_stats_equals_basicsr_calculate_fid(tmp_path, layout):
    extractor = tiny_extractor()
    reference = features_of(extractor, [face(i) for i in range(20, 32)])
    mean, cov = reference.mean(0), np.cov(reference, rowvar=False)
    path = write_stats(tmp_path, layout, mean, cov)
    restored = [face(i) for i in range(8)]
    fid = FID(reference_stats=str(path), extractor=extractor)
    for img in restored:
        fid.update(img, None)  # no GT needed
    features = features_of(extractor, restored)
    expected = calculate_fid(features.mean(0), np.cov(features, rowvar=False), mean, cov)
    assert fid.compute() == pytest.approx(expected, rel=1e-6)
    assert fid.details == {'num_images': 8, 'small_sample': True}
    assert expected > 1e-3


class Payload:
    """Runs a command when unpickled by a loader that executes code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (print, (f'CODE RAN {self.marker}',))


def bad_stats(tmp_path, kind):
    mean, cov = np.zeros(6), np.eye(6)
    if kind == 'missing':
        return tmp_path / 'absent.pth', 'does not exist'
    if kind == 'truncated':
        path = write_stats(tmp_path, 'pth', mean, cov)
        path.write_bytes(path.read_bytes()[:300])
        return path, 'cannot be used'
    if kind == 'truncated_npz':
        path = write_stats(tmp_path, 'npz', mean, cov)
        path.write_bytes(path.read_bytes()[:200])
        return path, 'cannot be used'
    if kind == 'misshaped':
        return write_stats(tmp_path, 'pth', mean, np.eye(5)), r'must be \(D,\)'
    if kind == 'wrong_keys':
        path = tmp_path / 'stats.npz'
        np.savez(path, mean=mean, cov=cov)
        return path, "expected entries \\('mu', 'sigma'\\)"
    if kind == 'nonfinite':
        return write_stats(tmp_path, 'npz', mean * np.nan, cov), 'non-finite'
    if kind == 'code_pth':
        path = tmp_path / 'stats.pth'
        torch.save({'mean': Payload(path), 'cov': cov}, path)
        return path, 'cannot be used'
    if kind == 'code_npz':
        path = tmp_path / 'stats.npz'
        np.savez(path, mu=np.array([Payload(path)], dtype=object), sigma=cov)
        return path, 'cannot be used'
    raise ValueError(kind)


@pytest.mark.parametrize('kind', ['missing', 'truncated', 'truncated_npz', 'misshaped', 'wrong_keys', 'nonfinite',
                                  'code_pth', 'code_npz'])
def test_bad_stats_file_is_a_named_error(tmp_path, capsys, kind):
    path, message = bad_stats(tmp_path, kind)
    with pytest.raises(MetricWeightsError, match=f'reference_stats.*{message}'):
        read_fid_stats(str(path))
    assert 'CODE RAN' not in capsys.readouterr().out


def test_stats_dimension_must_match_the_features(tmp_path):
    path = write_stats(tmp_path, 'npz', np.zeros(4), np.eye(4))
    fid = FID(reference_stats=str(path), extractor=tiny_extractor())
    fid.update(face(0), None)
    fid.update(face(1), None)
    with pytest.raises(Exception, match='4-d statistics.*6-d features'):
        fid.compute()


def mmd2_loops(x, y):
    """Unbiased squared MMD, kernel (x.y / d + 1)^3, written term by term."""
    def k(a, b):
        return (float(np.dot(a, b)) / len(a) + 1) ** 3
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_equals_formula_on_a_small_set():
    extractor = tiny_extractor()
    restored = [face(i) for i in range(5)]
    gt = [255 - face(i) for i in range(5)]
    kid = KID(extractor=extractor)
    for img, img2 in zip(restored, gt):
        kid.update(img, img2)
    expected = mmd2_loops(features_of(extractor, restored), features_of(extractor, gt))
    assert kid.compute() == pytest.approx(expected, rel=1e-9)
    assert kid.details == {'num_images': 5, 'subsets': 1, 'subset_size': 5, 'std': 0.0}
    assert expected > 0


def test_kid_over_seeded_subsets_when_larger_than_subset_size():
    extractor = tiny_extractor()
    restored = [face(i) for i in range(7)]
    gt = [face(i + 30) for i in range(7)]
    kid = KID(extractor=extractor, subset_size=4, subsets=3, seed=11)
    kid.update_batch(restored, gt)
    x, y = features_of(extractor, restored), features_of(extractor, gt)
    rng = np.random.RandomState(11)  # torch-fidelity: one RandomState, a subset of each set per round
    values = [mmd2_loops(x[rng.choice(7, 4, replace=False)], y[rng.choice(7, 4, replace=False)]) for _ in range(3)]
    assert kid.compute() == pytest.approx(np.mean(values), rel=1e-9)
    assert kid.details['subsets'] == 3 and kid.details['std'] == pytest.approx(np.std(values), rel=1e-6)


def test_make_fid_stats_writes_stats_the_fid_metric_reads(tmp_path, monkeypatch, capsys):
    import cv2
    import make_fid_stats
    extractor = tiny_extractor()
    monkeypatch.setattr(make_fid_stats, 'build_fid_inception', lambda path, device='auto': extractor)
    folder = tmp_path / 'faces'
    folder.mkdir()
    imgs = [face(i, 48) for i in range(5)]
    for index, img in enumerate(imgs):
        cv2.imwrite(str(folder / f'{index}.png'), img)
    (folder / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n')
    for out in ('stats.pth', 'stats.npz'):
        assert make_fid_stats.main([str(folder), str(tmp_path / out), '--size', '0', '--batch_size', '2']) == 1
        mean, cov = read_fid_stats(str(tmp_path / out))
        features = features_of(extractor, imgs)
        np.testing.assert_allclose(mean, features.mean(0), rtol=1e-6)
        np.testing.assert_allclose(cov, np.cov(features, rowvar=False), rtol=1e-5, atol=1e-12)
    assert 'broken.png' in capsys.readouterr().err
    with torch.serialization.safe_globals(NUMPY_GLOBALS):  # BasicSR's layout: numpy arrays
        stats = torch.load(tmp_path / 'stats.pth', weights_only=True)
    assert set(stats) == {'mean', 'cov'} and isinstance(stats['mean'], np.ndarray) and stats['cov'].dtype == np.float64


@pytest.mark.parametrize('kind', ['truncated', 'code_pth', 'misshaped'])
def test_bad_stats_file_through_the_runner_leaves_the_other_metrics(tmp_path, kind):
    from basicsr.metrics import calculate_psnr
    from panini_arch.metrics.metric_runner import MetricRunner
    path, _ = bad_stats(tmp_path, kind)
    runner = MetricRunner({'psnr': {'type': 'calculate_psnr', 'crop_border': 0},
                           'fid_ffhq': {'type': 'FID', 'inception_path': 'absent.pth', 'reference_stats': str(path)}})
    runner.update(face(0), face(1), 'a')
    runner.update(face(2), None, 'b')
    results = runner.results()
    assert 'reference_stats' in results['fid_ffhq']['not_computed'] and str(path) in results['fid_ffhq']['not_computed']
    assert results['psnr'] == {'value': pytest.approx(calculate_psnr(face(0), face(1), 0)), 'without_gt': 1}


def test_make_fid_stats_without_inception_weights_names_the_option(tmp_path):
    import cv2
    import make_fid_stats
    cv2.imwrite(str(tmp_path / 'a.png'), face(0))
    with pytest.raises(SystemExit, match='inception_path.*does not exist.*pytorch-fid'):
        make_fid_stats.main([str(tmp_path), str(tmp_path / 'out.pth'), '--inception_path', str(tmp_path / 'no.pth')])
    assert not (tmp_path / 'out.pth').exists()
