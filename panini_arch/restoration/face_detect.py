"""Face detectors giving boxes and the 5 landmarks the FFHQ template needs.

``mtcnn`` (facenet-pytorch, an optional package installed with
``pip install --no-deps facenet-pytorch==2.6.0``) ships its weights, so it works
offline. ``retinaface`` (facexlib) needs its weight file on a local path: nothing
is ever downloaded. ``haar`` is OpenCV's frontal-face cascade, installed with
opencv-python: boxes only, the 5 landmarks placed at their mean positions in
the box (:data:`HAAR_LANDMARKS`), so alignment is rougher than with the others.
Photos whose shorter side is under :data:`MIN_FACE_SIDE` pixels hold no
detectable face and are not given to a detector.
"""
import os
from collections import namedtuple

import cv2
import numpy as np
import torch

from ..utils.optional import RETINAFACE_INSTALL, import_optional
from ..utils.safe_load import load_torch_file

Face = namedtuple('Face', ['box', 'score', 'landmarks'])
Face.__doc__ = """One detection: box (4,) x0 y0 x1 y1, score in [0, 1], landmarks (5, 2) x y
(left eye, right eye, nose, left and right mouth corner, as seen in the image)."""

MIN_FACE_SIDE = 20  # MTCNN's min_face_size; the Haar cascade is trained on 24 px faces
MTCNN_INSTALL = 'pip install --no-deps facenet-pytorch==2.6.0'
# Mean positions of the 5 landmarks in a Haar frontal-face box, as fractions of its width and height.
HAAR_LANDMARKS = np.array([[0.32, 0.40], [0.68, 0.40], [0.50, 0.58], [0.36, 0.77], [0.64, 0.77]])
DETECTORS = ('mtcnn', 'retinaface', 'haar')

RETINAFACE_FILES = {
    'detection_Resnet50_Final.pth': 'resnet50',
    'detection_mobilenet0.25_Final.pth': 'mobile0.25',
}


class FaceDetector:
    """Detect faces in BGR uint8 photos.

    Args:
        name (str): 'mtcnn', 'retinaface' or 'haar'.
        device (torch.device): where the detector runs.
        weights_path (str | None): RetinaFace weight file (facexlib's
            ``detection_Resnet50_Final.pth`` or ``detection_mobilenet0.25_Final.pth``).
        threshold (float): minimum detection score.
        max_side (int): photos whose longer side exceeds this are shrunk for
            detection only (landmarks are mapped back), bounding memory and time.
    """

    def __init__(self, name='mtcnn', device=torch.device('cpu'), weights_path=None, threshold=0.97, max_side=1600):
        self.name = name
        self.threshold = threshold
        self.max_side = max_side
        if name == 'mtcnn':
            self.model = load_mtcnn(device)
        elif name == 'retinaface':
            self.model = load_retinaface(weights_path, device)
        elif name == 'haar':
            self.model = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades,
                                                            'haarcascade_frontalface_default.xml'))
        else:
            raise ValueError(f'Unknown detector {name!r}; choose one of {", ".join(DETECTORS)}.')

    def detect(self, img):
        """Return a list of ``Face`` for a (H, W, 3) uint8 BGR image, best score first (none when it is
        smaller than :data:`MIN_FACE_SIDE`)."""
        if min(img.shape[:2]) < MIN_FACE_SIDE:
            return []
        scale = min(1.0, self.max_side / max(img.shape[:2]))
        small = img if scale == 1 else cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = {'mtcnn': self._detect_mtcnn, 'retinaface': self._detect_retinaface,
                 'haar': self._detect_haar}[self.name](small)
        faces = [Face(f.box / scale, f.score, f.landmarks / scale) for f in faces if f.score >= self.threshold]
        return sorted(faces, key=lambda f: -f.score)

    def _detect_mtcnn(self, img):
        rgb = np.ascontiguousarray(img[:, :, ::-1])
        boxes, scores, landmarks = self.model.detect(rgb, landmarks=True)
        if boxes is None:
            return []
        return [Face(b.astype(float), float(s), lm.astype(float)) for b, s, lm in zip(boxes, scores, landmarks)]

    def _detect_retinaface(self, img):
        with torch.no_grad():
            rows = self.model.detect_faces(img, self.threshold)
        return [Face(r[:4].astype(float), float(r[4]), r[5:15].astype(float).reshape(5, 2)) for r in rows]


    def _detect_haar(self, img):
        gray = cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
        boxes = self.model.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE_SIDE, ) * 2)
        return [
            Face(np.array([x, y, x + w, y + h], float), 1.0, np.array([x, y]) + HAAR_LANDMARKS * np.array([w, h]))
            for x, y, w, h in boxes
        ]


def load_mtcnn(device):
    """facenet-pytorch's MTCNN; ImportError with the install command when the package is missing."""
    facenet = import_optional('facenet_pytorch', f'{MTCNN_INSTALL} (its metadata pins an old torch, hence '
                              '--no-deps); or use --detector haar (OpenCV, always installed) or --detector retinaface',
                              '--detector mtcnn')
    return facenet.MTCNN(keep_all=True, device=device)


def load_retinaface(weights_path, device):
    """facexlib's RetinaFace with weights read from ``weights_path`` (never downloaded).

    The backbone (ResNet-50 or MobileNet-0.25) is chosen from the file name.

    Raises:
        ImportError: facexlib is not installed (the install command in the message).
        FileNotFoundError: no path given or the file is missing.
    """
    retinaface = import_optional('facexlib.detection.retinaface', RETINAFACE_INSTALL, '--detector retinaface')
    names = ', '.join(RETINAFACE_FILES)
    if not weights_path or not os.path.isfile(weights_path):
        raise FileNotFoundError(
            f'RetinaFace weights not found: {weights_path!r}. Pass --detector_path with one of facexlib\'s files '
            f'({names}, from https://github.com/xinntao/facexlib/releases), or use --detector mtcnn, '
            'which works offline.')
    network = RETINAFACE_FILES.get(os.path.basename(weights_path), 'resnet50')
    model = retinaface.RetinaFace(network_name=network, half=False, device=device)
    state = load_torch_file(weights_path)
    for key in list(state):
        if key.startswith('module.'):
            state[key[len('module.'):]] = state.pop(key)
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)
