"""Face detectors giving boxes and the 5 landmarks the FFHQ template needs.

``mtcnn`` (facenet-pytorch) ships its weights, so it works offline out of the
box. ``retinaface`` (facexlib) needs its weight file on a local path: nothing
is ever downloaded.
"""
import os
from collections import namedtuple

import cv2
import numpy as np
import torch

Face = namedtuple('Face', ['box', 'score', 'landmarks'])
Face.__doc__ = """One detection: box (4,) x0 y0 x1 y1, score in [0, 1], landmarks (5, 2) x y
(left eye, right eye, nose, left and right mouth corner, as seen in the image)."""

RETINAFACE_FILES = {
    'detection_Resnet50_Final.pth': 'resnet50',
    'detection_mobilenet0.25_Final.pth': 'mobile0.25',
}


class FaceDetector:
    """Detect faces in BGR uint8 photos.

    Args:
        name (str): 'mtcnn' or 'retinaface'.
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
            from facenet_pytorch import MTCNN
            self.model = MTCNN(keep_all=True, device=device)
        elif name == 'retinaface':
            self.model = load_retinaface(weights_path, device)
        else:
            raise ValueError(f'Unknown detector {name!r}; choose mtcnn or retinaface.')

    def detect(self, img):
        """Return a list of ``Face`` for a (H, W, 3) uint8 BGR image, best score first."""
        scale = min(1.0, self.max_side / max(img.shape[:2]))
        small = img if scale == 1 else cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if self.name == 'mtcnn':
            faces = self._detect_mtcnn(small)
        else:
            faces = self._detect_retinaface(small)
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


def load_retinaface(weights_path, device):
    """facexlib's RetinaFace with weights read from ``weights_path`` (never downloaded).

    The backbone (ResNet-50 or MobileNet-0.25) is chosen from the file name.

    Raises:
        FileNotFoundError: no path given or the file is missing.
    """
    from facexlib.detection.retinaface import RetinaFace
    names = ', '.join(RETINAFACE_FILES)
    if not weights_path or not os.path.isfile(weights_path):
        raise FileNotFoundError(
            f'RetinaFace weights not found: {weights_path!r}. Pass --detector_path with one of facexlib\'s files '
            f'({names}, from https://github.com/xinntao/facexlib/releases), or use --detector mtcnn, '
            'which works offline.')
    network = RETINAFACE_FILES.get(os.path.basename(weights_path), 'resnet50')
    model = RetinaFace(network_name=network, half=False, device=device)
    state = torch.load(weights_path, map_location='cpu', weights_only=True)
    for key in list(state):
        if key.startswith('module.'):
            state[key[len('module.'):]] = state.pop(key)
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)
