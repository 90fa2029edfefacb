"""Deg and LMD: equal to the published definitions computed independently, in every published weights layout."""
import math

import cv2
import numpy as np
import pytest
import torch
from facexlib.alignment.awing_arch import FAN as FacexlibFAN
from gfpgan.archs.arcface_arch import ResNetArcFace as GfpganArcFace

import panini_arch  # noqa: F401  (registers the metrics)
from panini_arch.metrics.lmd_metric import decode_landmarks
from panini_arch.metrics.metric_runner import MetricRunner


def face(seed, size=128):
    from panini_arch.data.synthetic_faces import draw_face
    return draw_face(size, seed)


def randomize_batchnorm(net, seed):
    """Random BatchNorm statistics and affine parameters, so a wrong BN order changes the output."""
    generator = torch.Generator().manual_seed(seed)
    for module in net.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(size, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(size, generator=generator) * 0.1)
    return net


@pytest.fixture(scope='module')
def gfpgan_arcface():
    torch.manual_seed(0)
    return randomize_batchnorm(GfpganArcFace('IRBlock', [2, 2, 2, 2], use_se=False), 1).eval()


def published_deg(net, pairs):
    """GFPGAN's/VQFR's identity angle: gray (cv2 flag 0), 128x128 bilinear, [-1, 1]; pairs under 1 degree left out."""
    angles = []
    for img, img2 in pairs:
        embeddings = []
        for im in (img, img2):
            gray = cv2.resize(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), (128, 128), interpolation=cv2.INTER_LINEAR)
            x = torch.from_numpy((gray.astype(np.float32) - 127.5) / 127.5)[None, None]
            with torch.no_grad():
                embeddings.append(net(x)[0].numpy().astype(np.float64))
        a, b = embeddings
        angles.append(math.degrees(math.acos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))))
    kept = [angle for angle in angles if angle >= 1]
    return sum(kept) / len(kept), len(angles) - len(kept)


@pytest.mark.parametrize('layout', ['bare', 'dataparallel'])
def test_deg_equals_published_formula_in_both_layouts(tmp_path, gfpgan_arcface, layout):
    state = gfpgan_arcface.state_dict()
    if layout == 'dataparallel':  # VQFR's resnet18_110.pth: saved from DataParallel
        state = {f'module.{name}': value for name, value in state.items()}
    path = tmp_path / 'arcface.pth'
    torch.save(state, path)
    # different sizes, a non-square image, and an identical pair (under 1 degree: left out and counted)
    pairs = [(face(0, 128), face(1, 128)), (face(2, 96), cv2.GaussianBlur(face(2, 96), (0, 0), 3)),
             (face(3, 160)[:, 16:144], face(4, 160)[:, 16:144]), (face(5), face(5))]
    runner = MetricRunner({'deg': {'type': 'calculate_deg', 'arcface_path': str(path), 'device': 'cpu'}})
    for index, (img, img2) in enumerate(pairs):
        runner.update(img, img2, f'{index}')
    result = runner.results()['deg']
    expected, identical = published_deg(gfpgan_arcface, pairs)
    assert identical == 1
    assert result['details'] == {'num_images': 4, 'identical_pairs': 1}
    assert result['value'] == pytest.approx(expected, rel=1e-4)
    assert result['value'] > 1


def published_landmarks(heatmaps, width, height):
    """facexlib's calculate_points, landmark by landmark, each neighbour clamped at the heatmap border."""
    points = []
    for heatmap in heatmaps:
        h, w = heatmap.shape
        y, x = divmod(int(heatmap.argmax()), w)

        def value(row, col):
            return heatmap[min(max(row, 0), h - 1), min(max(col, 0), w - 1)]

        dx = 0.25 * np.sign(value(y, x + 1) - value(y, x - 1))
        dy = 0.25 * np.sign(value(y + 1, x) - value(y - 1, x))
        points.append(((x + dx + 0.5) * width / w, (y + dy + 0.5) * height / h))
    return np.array(points)


def test_decode_landmarks_quarter_step_and_border_clamp():
    heatmaps = np.zeros((1, 3, 64, 64), np.float32)
    heatmaps[0, 0, 10, 20], heatmaps[0, 0, 10, 21], heatmaps[0, 0, 9, 20] = 1, 0.5, 0.2  # right, up
    heatmaps[0, 1, 63, 0], heatmaps[0, 1, 62, 0] = 1, 0.5  # corner: a neighbour past the border is the peak itself
    heatmaps[0, 2, 30, 40] = 1  # equal neighbours: no step
    points = decode_landmarks(heatmaps, 128, 256)
    expected = [[(20.25 + 0.5) * 2, (9.75 + 0.5) * 4], [(-0.25 + 0.5) * 2, (63.25 + 0.5) * 4], [40.5 * 2, 30.5 * 4]]
    np.testing.assert_allclose(points[0], expected)
    np.testing.assert_allclose(points[0], published_landmarks(heatmaps[0], 128, 256))


@pytest.mark.slow
def test_lmd_equals_formula_on_facexlib_fan_heatmaps(tmp_path):
    torch.manual_seed(0)
    fan = randomize_batchnorm(FacexlibFAN(num_modules=4, num_landmarks=98, device='cpu'), 2).eval()
    path = tmp_path / 'alignment_WFLW_4HG.pth'
    torch.save({'state_dict': fan.state_dict()}, path)
    pairs = [(face(0, 128), face(1, 128)), (face(2, 200), cv2.GaussianBlur(face(2, 200), (0, 0), 2))]
    runner = MetricRunner({'lmd': {'type': 'calculate_lmd', 'fan_path': str(path), 'device': 'cpu'}})
    runner.update_batch([img for img, _ in pairs], [img2 for _, img2 in pairs], ['a', 'b'])
    distances = []
    for img, img2 in pairs:
        points = []
        for im in (img, img2):  # facexlib's get_landmarks input: BGR resized to 256, RGB, [0, 1]
            inp = cv2.resize(im, (256, 256))[..., ::-1].transpose(2, 0, 1).astype(np.float32) / 255
            with torch.no_grad():
                heatmaps = fan(torch.from_numpy(inp.copy())[None])[0][-1][0, :-1].numpy()
            points.append(published_landmarks(heatmaps, im.shape[1], im.shape[0]))
        distances.append(np.linalg.norm(points[0] - points[1], axis=1).mean())
    result = runner.results()['lmd']
    assert result['value'] == pytest.approx(np.mean(distances), rel=1e-5)
    assert result['value'] > 0 and result['details'] == {'num_images': 2}
