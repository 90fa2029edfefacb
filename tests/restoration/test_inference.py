"""Restoring real photos with ``panini_arch.inference`` on a tiny, untrained Panini-Net.

The whole-photo tests use scikit-image's astronaut (a real face shipped with
the package) and OpenCV's Haar cascade, which is always installed; the optional
MTCNN detector is tested for detection when facenet-pytorch is installed and for
its install-command error when it is not.
"""
import importlib
import importlib.util

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from helpers import TINY_NET_ARGS
from panini_arch.inference import main
from panini_arch.archs.presets import build_panini
from panini_arch.restoration.face_detect import FaceDetector
from panini_arch.restoration.face_restorer import match_color, prior_weight_to_bias
from panini_arch.utils import optional
from panini_arch.utils.image_io import read_photo

TINY = [*TINY_NET_ARGS, '--detector', 'haar']
FOLDERS = ('cropped_faces', 'restored_faces', 'cmp', 'restored_imgs')


def restore(tmp_path, name, img, *extra):
    """Write ``img`` to an input folder, run the CLI on it, return the output folder."""
    src = tmp_path / 'in'
    src.mkdir(exist_ok=True)
    cv2.imwrite(str(src / name), img)
    out = tmp_path / 'out'
    with pytest.warns(UserWarning, match='RANDOM WEIGHTS'):
        assert main(['-i', str(src / name), '-o', str(out)] + TINY + list(extra)) == 0
    return out


def test_aligned_face_is_restored_at_output_size(tmp_path, astronaut):
    out = restore(tmp_path, 'face.png', cv2.resize(astronaut[60:190, 160:290], (100, 100)), '--aligned')
    assert cv2.imread(str(out / 'cropped_faces' / 'face_00.png')).shape == (64, 64, 3)
    assert cv2.imread(str(out / 'restored_faces' / 'face_00.png')).shape == (128, 128, 3)
    assert cv2.imread(str(out / 'cmp' / 'face_00.png')).shape == (128, 256, 3)
    assert cv2.imread(str(out / 'restored_imgs' / 'face.png')).shape == (128, 128, 3)


def test_whole_photo_face_is_detected_restored_and_pasted_back(tmp_path, astronaut):
    out = restore(tmp_path, 'astronaut.png', astronaut, '--suffix', 'v1')
    for folder in FOLDERS:
        assert any((out / folder).iterdir()), folder
    assert cv2.imread(str(out / 'restored_faces' / 'astronaut_00_v1.png')).shape == (128, 128, 3)
    result = cv2.imread(str(out / 'restored_imgs' / 'astronaut_v1.png'))
    assert result.shape == (1024, 1024, 3)
    background = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_LANCZOS4)
    changed = np.abs(result.astype(int) - background).max(axis=2) > 30
    box = FaceDetector('haar').detect(astronaut)[0].box * 2
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 5000, 'the restored face was not pasted'
    size = box[2] - box[0]
    assert xs.min() > box[0] - size and xs.max() < box[2] + size
    assert ys.min() > box[1] - size and ys.max() < box[3] + size
    assert not changed[:, :200].any() and not changed[800:].any()


def test_photo_without_face_is_passed_through_and_reported(tmp_path, capsys):
    img = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    out = restore(tmp_path, 'wall.png', img, '--upscale', '1')
    assert 'No face found' in capsys.readouterr().out
    np.testing.assert_array_equal(cv2.imread(str(out / 'restored_imgs' / 'wall.png')), img)
    assert not any((out / 'restored_faces').iterdir())


def test_rgba_photo_keeps_its_alpha(tmp_path, astronaut):
    alpha = np.tile(np.linspace(0, 255, 512).astype(np.uint8), (512, 1))
    out = restore(tmp_path, 'cutout.png', np.dstack([astronaut, alpha]), '--ext', 'jpg')
    result = cv2.imread(str(out / 'restored_imgs' / 'cutout.png'), cv2.IMREAD_UNCHANGED)
    assert result.shape == (1024, 1024, 4)
    expected = cv2.resize(alpha, (1024, 1024), interpolation=cv2.INTER_LANCZOS4)
    assert np.abs(result[:, :, 3].astype(int) - expected).max() <= 2
    assert any((out / 'restored_faces').iterdir())


def test_video_frames_are_restored(tmp_path, astronaut):
    src = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*'MJPG'), 5, (256, 256))
    for shift in range(3):
        writer.write(cv2.resize(np.roll(astronaut, 4 * shift, axis=1), (256, 256)))
    writer.release()
    out = tmp_path / 'out'
    with pytest.warns(UserWarning, match='RANDOM WEIGHTS'):
        main(['-i', str(src), '-o', str(out)] + TINY)
    capture = cv2.VideoCapture(str(out / 'restored_imgs' / 'clip_restored.mp4'))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 3 and frames[0].shape == (512, 512, 3)


def test_read_photo_applies_exif_orientation_and_expands_gray(tmp_path):
    img = np.zeros((40, 60), np.uint8)
    img[:10, :20] = 255  # a bright block top-left
    path = tmp_path / 'rotated.jpg'
    exif = Image.Exif()
    exif[0x0112] = 6  # stored pixels must be turned 90 degrees clockwise
    Image.fromarray(img).save(path, exif=exif, quality=100)
    bgr, alpha = read_photo(path)
    assert bgr.shape == (60, 40, 3) and alpha is None
    assert bgr[:20, -10:].mean() > 200 and bgr[-20:, :10].mean() < 50


def test_prior_weight_maps_to_logit_bias_and_moves_the_masks():
    assert prior_weight_to_bias(None) is None
    assert prior_weight_to_bias(0.5) == 0
    assert prior_weight_to_bias(0.0) < -13 and prior_weight_to_bias(1.0) > 13
    with pytest.raises(ValueError):
        prior_weight_to_bias(1.5)
    net = build_panini('tiny').eval()
    lq = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        _, prior = net(lq, return_masks=True, mask_bias=prior_weight_to_bias(1.0))
        _, fidelity = net(lq, return_masks=True, mask_bias=prior_weight_to_bias(0.0))
    assert prior.min() > 0.99 and fidelity.max() < 0.01


def test_checkpoint_is_loaded_and_missing_one_is_a_clear_error(tmp_path, astronaut, capsys):
    net = build_panini('tiny')
    torch.save({'params': net.state_dict()}, tmp_path / 'net.pth')
    face = cv2.resize(astronaut[60:190, 160:290], (64, 64))
    cv2.imwrite(str(tmp_path / 'face.png'), face)
    main(['-i', str(tmp_path / 'face.png'), '-o', str(tmp_path / 'out'), '--arch', 'tiny', '--aligned',
          '--model_path', str(tmp_path / 'net.pth'), '--device', 'cpu'])
    lq = torch.from_numpy(face[:, :, ::-1].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        expected = ((net.eval()(lq)[0].clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 0).numpy()[:, :, ::-1]
    written = cv2.imread(str(tmp_path / 'out' / 'restored_faces' / 'face_00.png')).astype(int)
    assert np.abs(written - expected).max() <= 1
    args = ['-i', str(tmp_path / 'face.png'), '-o', str(tmp_path / 'o2'), '--arch', 'tiny', '--device', 'cpu']
    assert main(args) == 2
    assert 'No --model_path' in capsys.readouterr().err
    assert main(['-i', str(tmp_path / 'face.png'), '-o', str(tmp_path / 'o2'), '--arch', 'tiny',
                 '--model_path', str(tmp_path / 'missing.pth'), '--device', 'cpu']) == 2
    assert 'missing.pth' in capsys.readouterr().err


def test_retinaface_without_weights_names_the_option(tmp_path):
    with pytest.raises(FileNotFoundError, match='--detector_path'):
        FaceDetector('retinaface', weights_path=str(tmp_path / 'nothing.pth'))


def test_match_color_takes_the_reference_colour_and_keeps_detail():
    rng = np.random.default_rng(0)
    reference = np.full((32, 32, 3), (60, 120, 200), np.uint8)
    restored = np.clip(rng.normal(128, 30, (64, 64, 3)), 0, 255).astype(np.uint8)
    matched = match_color(restored, reference)
    lab = cv2.cvtColor(matched, cv2.COLOR_BGR2Lab).astype(float)
    lab_ref = cv2.cvtColor(reference, cv2.COLOR_BGR2Lab).astype(float)
    assert np.abs(lab[:, :, 1:].mean((0, 1)) - lab_ref[0, 0, 1:]).max() < 4
    lightness = cv2.cvtColor(restored, cv2.COLOR_BGR2Lab)[:, :, 0].astype(float)
    assert np.corrcoef(lab[:, :, 0].ravel(), lightness.ravel())[0, 1] > 0.9


def test_mtcnn_detects_the_face_or_names_its_install_command(astronaut, monkeypatch):
    """facenet-pytorch is optional (pip cannot resolve it with current torch): both states are tested."""
    if importlib.util.find_spec('facenet_pytorch') is not None:
        faces = FaceDetector('mtcnn').detect(astronaut)
        assert len(faces) == 1 and faces[0].landmarks.shape == (5, 2)
        haar = FaceDetector('haar').detect(astronaut)[0]
        assert np.abs(faces[0].landmarks - haar.landmarks).max() < 0.2 * (haar.box[2] - haar.box[0])
        real_import = importlib.import_module

        def no_facenet(name, *args):
            if name.startswith('facenet_pytorch'):
                raise ImportError(f'No module named {name!r}')
            return real_import(name, *args)

        monkeypatch.setattr(optional.importlib, 'import_module', no_facenet)
    hint = r'--detector mtcnn needs.*pip install --no-deps facenet-pytorch==2\.6\.0.*--detector haar'
    with pytest.raises(ImportError, match=hint):
        FaceDetector('mtcnn')
