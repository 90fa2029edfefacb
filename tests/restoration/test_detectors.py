"""Face detector choice (``--detector auto``), YuNet and RetinaFace file errors, YuNet's output rows.

No real YuNet or RetinaFace weights are used: YuNet is replaced by a stub that
returns rows in ``cv2.FaceDetectorYN.detect``'s format, and the file errors are
triggered with missing, truncated and wrong files. facenet-pytorch is hidden or
faked so that both states of the machine are tested wherever the suite runs.
"""
import importlib.util
import sys
import types

import cv2
import numpy as np
import pytest
import torch

from helpers import TINY_NET_ARGS
from panini_arch.inference import main
from panini_arch.restoration import face_detect
from panini_arch.restoration.face_detect import FaceDetector, choose_detector, yunet_faces

# One YuNet row: box x y w h, then right eye, left eye, nose, right and left mouth corner (the person's), score.
ROW = [100, 120, 80, 96, 120, 150, 160, 151, 140, 172, 124, 195, 157, 194, 0.93]


@pytest.fixture
def without_facenet(monkeypatch):
    """A machine without facenet-pytorch, whether or not this one has it."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(face_detect.importlib.util, 'find_spec',
                        lambda name, *args: None if name == 'facenet_pytorch' else real_find_spec(name, *args))


@pytest.fixture
def fake_facenet(monkeypatch):
    """A facenet-pytorch whose MTCNN finds one face at :data:`ROW`'s box and landmarks."""

    class MTCNN:

        def __init__(self, keep_all, device):
            self.device = device

        def detect(self, rgb, landmarks):
            row = np.array(ROW, float)
            box = row[None, [0, 1, 0, 1]] + [[0, 0, row[2], row[3]]]
            return box, np.array([0.99]), row[None, 4:14].reshape(1, 5, 2)

    module = types.ModuleType('facenet_pytorch')
    module.MTCNN = MTCNN
    monkeypatch.setitem(sys.modules, 'facenet_pytorch', module)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(face_detect.importlib.util, 'find_spec',
                        lambda name, *args: object() if name == 'facenet_pytorch' else real_find_spec(name, *args))


class StubYuNet:
    """Stands in for ``cv2.FaceDetectorYN``: returns :data:`ROW` in the coordinates of the image it was given."""

    sizes = []

    @classmethod
    def create(cls, model, config, input_size, score_threshold):
        stub = cls()
        stub.threshold = score_threshold
        return stub

    def setInputSize(self, size):
        self.sizes.append(size)

    def detect(self, img):
        if img.shape[0] < 100:  # the check run on a blank image when the file is loaded
            return 1, None
        return 1, np.array([ROW, ROW[:14] + [0.5]], np.float32)


def test_auto_without_facenet_runs_haar_and_names_the_better_choices(without_facenet):
    with pytest.warns(UserWarning, match=r'Haar cascade.*facenet-pytorch.*face_detection_yunet_2023mar\.onnx.*'
                                         r'detection_Resnet50_Final\.pth'):
        detector = FaceDetector('auto')
    assert detector.name == 'haar' and 'Haar' in detector.description


def test_auto_with_facenet_runs_mtcnn_without_a_warning(fake_facenet, astronaut, recwarn):
    detector = FaceDetector('auto')
    assert detector.name == 'mtcnn' and 'MTCNN' in detector.description
    assert not [w for w in recwarn if 'Haar' in str(w.message)]
    face, = detector.detect(astronaut)
    assert np.allclose(face.box, [100, 120, 180, 216]) and np.allclose(face.landmarks[0], [120, 150])


@pytest.mark.parametrize('path, name', [('face_detection_yunet_2023mar.onnx', 'yunet'), ('x/DET.ONNX', 'yunet'),
                                        ('detection_Resnet50_Final.pth', 'retinaface'), ('det.pt', 'retinaface')])
def test_auto_takes_the_detector_of_the_file(fake_facenet, path, name):
    assert choose_detector('auto', path) == name
    assert choose_detector('haar', path) == 'haar'


def test_auto_refuses_a_file_no_detector_reads():
    with pytest.raises(ValueError, match=r'--detector_path weights\.bin.*YuNet.*RetinaFace'):
        choose_detector('auto', 'weights.bin')
    with pytest.raises(ValueError, match='Unknown detector'):
        FaceDetector('dlib')


@pytest.mark.filterwarnings('ignore:RANDOM WEIGHTS')
def test_plain_install_restores_the_face_of_a_whole_photo(tmp_path, astronaut, without_facenet, capsys):
    """Nothing optional installed, no --detector: the Haar cascade finds the astronaut's face."""
    cv2.imwrite(str(tmp_path / 'astronaut.png'), astronaut)
    with pytest.warns(UserWarning, match='Haar cascade'):
        assert main(['-i', str(tmp_path / 'astronaut.png'), '-o', str(tmp_path / 'out')] + TINY_NET_ARGS) == 0
    text = capsys.readouterr().out
    assert [line for line in text.splitlines() if line.startswith('Face detector:')] == [
        'Face detector: Haar cascade (OpenCV; boxes only, rough landmarks)']
    assert 'Restored 1 face(s) in 1 of 1 file(s)' in text
    assert cv2.imread(str(tmp_path / 'out' / 'restored_faces' / 'astronaut_00.png')).shape == (128, 128, 3)


def test_yunet_rows_become_boxes_and_landmarks_in_face_order():
    face, = yunet_faces(np.array([ROW], np.float32))
    assert np.allclose(face.box, [100, 120, 180, 216]) and face.score == pytest.approx(0.93)
    assert face.landmarks.shape == (5, 2)
    assert np.allclose(face.landmarks, np.array(ROW[4:14]).reshape(5, 2), atol=1e-4)
    left_eye, right_eye, nose, left_mouth, right_mouth = face.landmarks  # as seen in the image
    assert left_eye[0] < nose[0] < right_eye[0] and left_mouth[0] < right_mouth[0]
    assert yunet_faces(None) == [] and yunet_faces(np.zeros((0, 15), np.float32)) == []


def test_yunet_detects_through_opencv_api_and_maps_back_from_the_shrunk_photo(tmp_path, monkeypatch):
    model = tmp_path / 'face_detection_yunet_2023mar.onnx'
    model.write_bytes(b'stub')
    monkeypatch.setattr(cv2, 'FaceDetectorYN', StubYuNet)
    StubYuNet.sizes = []
    detector = FaceDetector('auto', weights_path=str(model), max_side=800)
    assert detector.name == 'yunet' and detector.threshold == 0.9 and detector.model.threshold == 0.9
    assert str(model) in detector.description
    faces = detector.detect(np.zeros((1200, 1600, 3), np.uint8))  # detected at 600 x 800, mapped back x2
    assert StubYuNet.sizes[-1] == (800, 600)
    face, = faces  # the 0.5 row is under the threshold
    assert np.allclose(face.box, [200, 240, 360, 432]) and np.allclose(face.landmarks[4], [314, 388])


def test_yunet_missing_file_names_option_and_source(tmp_path):
    for path in (None, str(tmp_path / 'face_detection_yunet_2023mar.onnx')):
        with pytest.raises(FileNotFoundError, match=r'YuNet.*--detector_path.*face_detection_yunet_2023mar\.onnx.*'
                                                    r'opencv_zoo'):
            FaceDetector('yunet', weights_path=path)


@pytest.mark.parametrize('content', [b'', b'\x08\x07\x12\x07pytorch\x1a\x05', b'not an onnx file at all\n' * 50])
def test_yunet_truncated_or_foreign_file_is_a_named_error(tmp_path, content):
    path = tmp_path / 'face_detection_yunet_2023mar.onnx'
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf'--detector_path {path} is not a YuNet model.*opencv_zoo'):
        FaceDetector('auto', weights_path=str(path))


def test_cli_reports_a_bad_detector_file_and_stops(tmp_path, astronaut, capsys):
    cv2.imwrite(str(tmp_path / 'a.png'), astronaut)
    bad = tmp_path / 'det.onnx'
    bad.write_bytes(b'\x00' * 100)
    with pytest.warns(UserWarning, match='RANDOM WEIGHTS'):
        code = main(['-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '--detector_path', str(bad),
                     *TINY_NET_ARGS])
    assert code == 2 and f'{bad} is not a YuNet model' in capsys.readouterr().err


def test_retinaface_missing_or_truncated_file_names_option_and_source(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'--detector_path.*facexlib/releases'):
        FaceDetector('retinaface')
    with pytest.raises(FileNotFoundError, match=r'RetinaFace \(--detector_path\).*nothing\.pth.*facexlib/releases'):
        FaceDetector('auto', weights_path=str(tmp_path / 'nothing.pth'))
    truncated = tmp_path / 'detection_Resnet50_Final.pth'
    torch.save({'conv.weight': torch.zeros(8, 3, 3, 3)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(RuntimeError, match=rf'RetinaFace \(--detector_path\).*{truncated.name}.*truncated'):
        FaceDetector('retinaface', weights_path=str(truncated))


def test_retinaface_wrong_weights_or_missing_facexlib_is_a_named_error(tmp_path, monkeypatch):
    """facexlib is optional (the ``retinaface`` extra): the weight check runs where it is installed, and its
    absence gives the install command in both cases."""
    wrong = tmp_path / 'detection_mobilenet0.25_Final.pth'
    torch.save({'module.conv.weight': torch.zeros(8, 3, 3, 3)}, wrong)
    if importlib.util.find_spec('facexlib') is not None:
        with pytest.raises(RuntimeError, match=r'do not fit.*conv\.weight.*facexlib/releases'):
            FaceDetector('retinaface', weights_path=str(wrong))
        monkeypatch.setitem(sys.modules, 'facexlib.detection.retinaface', None)  # import now fails
    with pytest.raises(ImportError, match=r'--detector retinaface needs.*facexlib.*\.\[retinaface\]'):
        FaceDetector('retinaface', weights_path=str(wrong))


def test_missing_haar_cascade_names_the_other_detectors(monkeypatch, tmp_path):
    """opencv-python 5 ships no cascade files: the Haar detector says so instead of finding nothing."""
    monkeypatch.setattr(cv2.data, 'haarcascades', str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r'Haar cascade is not installed.*face_detection_yunet_2023mar\.onnx'):
        FaceDetector('haar')
