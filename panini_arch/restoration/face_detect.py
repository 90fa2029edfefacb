"""Face detectors giving boxes and the 5 landmarks the FFHQ template needs.

``mtcnn`` (facenet-pytorch, an optional package installed with
``pip install --no-deps facenet-pytorch==2.6.0``) ships its weights, so it works
offline. ``retinaface`` (facexlib, the optional extra ``retinaface``) and ``yunet``
(OpenCV's ``cv2.FaceDetectorYN``, always installed) need their weight file on a
local path: nothing is ever downloaded. ``haar`` is OpenCV's frontal-face cascade,
installed with opencv-python: boxes only, the 5 landmarks placed at their mean
positions in the box (:data:`HAAR_LANDMARKS`), so alignment is rougher than with the
others. ``auto`` picks one of them (:func:`choose_detector`).
Photos whose shorter side is under :data:`MIN_FACE_SIDE` pixels hold no
detectable face and are not given to a detector.
"""
import importlib.util
import os
import warnings
from collections import namedtuple

import cv2
import numpy as np
import torch

from ..utils.optional import RETINAFACE_INSTALL, import_optional
from ..utils.weights import load_checked, read_weights_file, select_state_dict, strip_module_prefix

Face = namedtuple('Face', ['box', 'score', 'landmarks'])
Face.__doc__ = """One detection: box (4,) x0 y0 x1 y1, score in [0, 1], landmarks (5, 2) x y
(left eye, right eye, nose, left and right mouth corner, as seen in the image)."""

MIN_FACE_SIDE = 20  # MTCNN's min_face_size; the Haar cascade is trained on 24 px faces
MTCNN_INSTALL = 'pip install --no-deps facenet-pytorch==2.6.0'
# Mean positions of the 5 landmarks in a Haar frontal-face box, as fractions of its width and height.
HAAR_LANDMARKS = np.array([[0.32, 0.40], [0.68, 0.40], [0.50, 0.58], [0.36, 0.77], [0.64, 0.77]])
DETECTORS = ('auto', 'mtcnn', 'retinaface', 'yunet', 'haar')
# Default minimum score: YuNet's scores run lower than MTCNN's and RetinaFace's (OpenCV's default is 0.9).
THRESHOLDS = {'yunet': 0.9}

RETINAFACE_FILES = {
    'detection_Resnet50_Final.pth': 'resnet50',
    'detection_mobilenet0.25_Final.pth': 'mobile0.25',
}
RETINAFACE_SOURCE = ', '.join(RETINAFACE_FILES) + ' from https://github.com/xinntao/facexlib/releases'
YUNET_FILE = 'face_detection_yunet_2023mar.onnx'
YUNET_SOURCE = (f'{YUNET_FILE} (about 230 KB) from '
                'https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet')
# --detector_path's extension -> the detector that reads it (auto mode).
DETECTOR_FILES = {'.onnx': 'yunet', '.pth': 'retinaface', '.pt': 'retinaface'}
BETTER_DETECTORS = (f'MTCNN ({MTCNN_INSTALL}), or a weight file as --detector_path: YuNet\'s {YUNET_SOURCE}, '
                    f'or RetinaFace\'s {RETINAFACE_SOURCE} with {RETINAFACE_INSTALL}')
DESCRIPTIONS = {
    'mtcnn': 'MTCNN (facenet-pytorch)',
    'retinaface': 'RetinaFace (facexlib) from {path}',
    'yunet': 'YuNet (OpenCV FaceDetectorYN) from {path}',
    'haar': 'Haar cascade (OpenCV; boxes only, rough landmarks)',
}


def choose_detector(name, weights_path=None):
    """Resolve ``auto`` to a detector name; other names are returned as they are.

    ``auto``: the detector of ``weights_path`` when one is given (``.onnx`` -> ``yunet``,
    ``.pth``/``.pt`` -> ``retinaface``), else ``mtcnn`` when facenet-pytorch imports, else
    ``haar`` with a warning naming the better choices.

    Raises:
        ValueError: ``weights_path`` has an extension no detector reads.
    """
    if name != 'auto':
        return name
    if weights_path:
        ext = os.path.splitext(weights_path)[1].lower()
        if ext not in DETECTOR_FILES:
            raise ValueError(f'--detector_path {weights_path}: cannot tell the detector from the extension {ext!r}. '
                             f'YuNet reads {YUNET_SOURCE}; RetinaFace reads {RETINAFACE_SOURCE}. '
                             'Or name the detector with --detector.')
        return DETECTOR_FILES[ext]
    if importlib.util.find_spec('facenet_pytorch') is not None:
        return 'mtcnn'
    warnings.warn(f'No better face detector is available, so OpenCV\'s Haar cascade runs: it finds frontal faces '
                  f'only and places the landmarks roughly. Better: {BETTER_DETECTORS}.', stacklevel=2)
    return 'haar'


class FaceDetector:
    """Detect faces in BGR uint8 photos.

    Args:
        name (str): 'auto', 'mtcnn', 'retinaface', 'yunet' or 'haar' (see :func:`choose_detector`).
        device (torch.device): where the detector runs (MTCNN, RetinaFace; YuNet and Haar run on the CPU).
        weights_path (str | None): RetinaFace weight file (facexlib's
            ``detection_Resnet50_Final.pth`` or ``detection_mobilenet0.25_Final.pth``) or YuNet's
            ``face_detection_yunet_2023mar.onnx``.
        threshold (float | None): minimum detection score (None: 0.9 for YuNet, else 0.97).
        max_side (int): photos whose longer side exceeds this are shrunk for
            detection only (landmarks are mapped back), bounding memory and time.
    """

    def __init__(self, name='auto', device=torch.device('cpu'), weights_path=None, threshold=None, max_side=1600):
        if name not in DETECTORS:
            raise ValueError(f'Unknown detector {name!r}; choose one of {", ".join(DETECTORS)}.')
        self.name = choose_detector(name, weights_path)
        self.threshold = THRESHOLDS.get(self.name, 0.97) if threshold is None else threshold
        self.max_side = max_side
        self.description = DESCRIPTIONS[self.name].format(path=weights_path)
        if self.name == 'mtcnn':
            self.model = load_mtcnn(device)
        elif self.name == 'retinaface':
            self.model = load_retinaface(weights_path, device)
        elif self.name == 'yunet':
            self.model = load_yunet(weights_path, self.threshold)
        else:
            self.model = load_haar()

    def detect(self, img):
        """Return a list of ``Face`` for a (H, W, 3) uint8 BGR image, best score first (none when it is
        smaller than :data:`MIN_FACE_SIDE`)."""
        if min(img.shape[:2]) < MIN_FACE_SIDE:
            return []
        scale = min(1.0, self.max_side / max(img.shape[:2]))
        small = img if scale == 1 else cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = {'mtcnn': self._detect_mtcnn, 'retinaface': self._detect_retinaface, 'yunet': self._detect_yunet,
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

    def _detect_yunet(self, img):
        self.model.setInputSize((img.shape[1], img.shape[0]))
        return yunet_faces(self.model.detect(img)[1])

    def _detect_haar(self, img):
        gray = cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
        boxes = self.model.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE_SIDE, ) * 2)
        return [
            Face(np.array([x, y, x + w, y + h], float), 1.0, np.array([x, y]) + HAAR_LANDMARKS * np.array([w, h]))
            for x, y, w, h in boxes
        ]


def yunet_faces(rows):
    """``Face`` list from ``cv2.FaceDetectorYN.detect``'s (N, 15) rows (None when nothing was found).

    A row is x, y, w, h of the box, then x, y of the right eye, left eye, nose tip, right and
    left mouth corner (the person's right: the eye on the image's left), then the score; so the
    landmarks are already in :class:`Face`'s order.
    """
    if rows is None:
        return []
    rows = np.asarray(rows, float).reshape(-1, 15)
    return [Face(np.concatenate([r[:2], r[:2] + r[2:4]]), float(r[14]), r[4:14].reshape(5, 2)) for r in rows]


def load_haar():
    """OpenCV's frontal-face Haar cascade, shipped with opencv-python 4.x.

    Raises:
        FileNotFoundError: this OpenCV ships no cascade file (the message names the other detectors).
    """
    folder = getattr(getattr(cv2, 'data', None), 'haarcascades', '')
    path = os.path.join(folder, 'haarcascade_frontalface_default.xml')
    model = cv2.CascadeClassifier(path) if os.path.isfile(path) else None
    if model is None or model.empty():
        raise FileNotFoundError(f'OpenCV\'s Haar cascade is not installed with this OpenCV ({cv2.__version__}; '
                                f'looked for {path!r}). Use {BETTER_DETECTORS}.')
    return model


def load_mtcnn(device):
    """facenet-pytorch's MTCNN; ImportError with the install command when the package is missing."""
    facenet = import_optional('facenet_pytorch', f'{MTCNN_INSTALL} (its metadata pins an old torch, hence '
                              '--no-deps); or use --detector haar (OpenCV, always installed), --detector yunet '
                              'or --detector retinaface', '--detector mtcnn')
    return facenet.MTCNN(keep_all=True, device=device)


def load_retinaface(weights_path, device):
    """facexlib's RetinaFace with weights read from ``weights_path`` (never downloaded).

    The backbone (ResNet-50 or MobileNet-0.25) is chosen from the file name.

    Raises:
        ImportError: facexlib is not installed (the message gives the install command).
        FileNotFoundError: no path given or the file is missing. RuntimeError: the file is unreadable or
            its weights do not fit the network; both name the file, ``--detector_path`` and the source.
    """
    what = 'RetinaFace (--detector_path)'
    if not weights_path:
        raise FileNotFoundError(f'{what}: no weight file given. Pass --detector_path with one of facexlib\'s files '
                                f'({RETINAFACE_SOURCE}), or use --detector mtcnn, which works offline.')
    state = select_state_dict(read_weights_file(weights_path, what, f'Get {RETINAFACE_SOURCE}.'), 'auto',
                              weights_path, what)
    if not isinstance(state, dict):
        raise RuntimeError(f'{weights_path} holds no state dict: {what} takes {RETINAFACE_SOURCE}.')
    state = strip_module_prefix(state)
    retinaface = import_optional('facexlib.detection.retinaface', RETINAFACE_INSTALL, '--detector retinaface')
    network = RETINAFACE_FILES.get(os.path.basename(weights_path), 'resnet50')
    model = retinaface.RetinaFace(network_name=network, half=False, device=device)
    try:
        load_checked(model, state, weights_path, what)
    except RuntimeError as error:
        raise RuntimeError(f'{error}. Get {RETINAFACE_SOURCE}.') from None
    return model.eval().to(device)


def load_yunet(weights_path, threshold):
    """OpenCV's YuNet (``cv2.FaceDetectorYN``) from the ONNX file ``weights_path`` (never downloaded).

    Raises:
        FileNotFoundError: no path given or the file is missing. ValueError: OpenCV cannot read the file or
            run it as YuNet (truncated, not ONNX, another network). Both name the file, ``--detector_path``
            and where users get it.
    """
    if not weights_path or not os.path.isfile(weights_path):
        raise FileNotFoundError(f'YuNet weights not found: {weights_path!r}. Pass --detector_path with '
                                f'{YUNET_SOURCE}.')
    try:
        model = cv2.FaceDetectorYN.create(weights_path, '', (64, 64), threshold)
        model.detect(np.zeros((64, 64, 3), np.uint8))  # another ONNX network fails here, not on the first photo
    except cv2.error as error:
        reason = str(error).strip().splitlines()[-1]
        raise ValueError(f'--detector_path {weights_path} is not a YuNet model OpenCV can run (truncated, not ONNX, '
                         f'or another network): {reason}. Get {YUNET_SOURCE}.') from None
    return model
