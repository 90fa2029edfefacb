"""Procedurally drawn faces for tests, demos and benchmarks (no real data can be downloaded here).

Each face has a patterned background, hair with strands, skin with pores, eyes (white, iris,
pupil, highlight), brows, nose, lips and a collar. Shape, colours and texture vary with the seed.
The thin strands and pores give the fine detail that blur, downsampling, noise and JPEG destroy.
"""
import os

import cv2
import numpy as np

_SKIN = np.array([[60, 90, 140], [90, 140, 200], [120, 170, 225], [150, 195, 240], [40, 70, 110]])
_HAIR = np.array([[20, 20, 25], [30, 50, 90], [60, 110, 170], [120, 150, 190], [50, 50, 60], [35, 35, 120]])
_IRIS = np.array([[90, 60, 30], [40, 90, 60], [30, 50, 90], [140, 110, 60]])


def _jitter(rng, color, amount=15):
    return tuple(int(v) for v in np.clip(color + rng.integers(-amount, amount + 1, 3), 0, 255))


def draw_face(size, seed):
    """Draw one face.

    Args:
        size (int): side of the square image, >= 16.
        seed (int): same seed, same image.

    Returns:
        np.ndarray: uint8, (size, size, 3), BGR.
    """
    if size < 16:
        raise ValueError(f'draw_face: size must be >= 16, got {size}')
    rng = np.random.default_rng(seed)
    s = size / 256.0
    aa = cv2.LINE_AA

    def p(x, y):
        return int(round(x * s)), int(round(y * s))

    def ln(v):
        return max(1, int(round(v * s)))

    img = np.empty((size, size, 3), np.uint8)
    bg_a, bg_b = rng.integers(40, 220, 3), rng.integers(40, 220, 3)
    ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    img[:] = (bg_a * (1 - ramp) + bg_b * ramp).astype(np.uint8)
    period = ln(rng.integers(6, 14))
    for x in range(0, size, period):
        cv2.line(img, (x, 0), (x, size - 1), _jitter(rng, bg_b, 25), 1, aa)

    cx, cy = 128 + rng.uniform(-6, 6), 132 + rng.uniform(-6, 6)
    fw, fh = rng.uniform(58, 72), rng.uniform(76, 90)
    skin = _SKIN[rng.integers(len(_SKIN))]
    hair = _HAIR[rng.integers(len(_HAIR))]
    cv2.rectangle(img, p(cx - 95, 235), p(cx + 95, 256), _jitter(rng, rng.integers(30, 220, 3)), -1, aa)
    cv2.ellipse(img, p(cx, cy - 12), p(fw + 22, fh + 22), 0, 180, 360, _jitter(rng, hair), -1, aa)
    cv2.rectangle(img, p(cx - fw - 22, cy - 14), p(cx + fw + 22, cy + fh * rng.uniform(0.2, 0.8)),
                  _jitter(rng, hair), -1, aa)
    cv2.rectangle(img, p(cx - 22, cy + fh - 20), p(cx + 22, 240), _jitter(rng, skin - 15, 5), -1, aa)
    cv2.ellipse(img, p(cx, cy), p(fw, fh), 0, 0, 360, _jitter(rng, skin, 8), -1, aa)
    for _ in range(int(rng.integers(20, 40))):
        x0 = cx + rng.uniform(-fw - 20, fw + 20)
        cv2.line(img, p(x0, cy - fh - 30 + rng.uniform(0, 15)), p(x0 + rng.uniform(-25, 25), cy - fh * 0.45),
                 _jitter(rng, hair, 40), 1, aa)

    pore_y = rng.uniform(cy - fh * 0.6, cy + fh * 0.8, int(rng.integers(60, 120)))
    pore_x = cx + rng.uniform(-0.8, 0.8, pore_y.size) * fw * np.sqrt(np.clip(1 - ((pore_y - cy) / fh)**2, 0, 1))
    for x, y in zip(pore_x, pore_y):
        cv2.circle(img, p(x, y), max(1, int(s)), _jitter(rng, skin - 25, 10), -1, aa)

    eye_dx, eye_y = rng.uniform(22, 30), cy - rng.uniform(8, 18)
    iris = _IRIS[rng.integers(len(_IRIS))]
    brow_lift = rng.uniform(9, 16)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        cv2.ellipse(img, p(ex, eye_y), p(13, rng.uniform(5, 7.5)), 0, 0, 360, (235, 240, 245), -1, aa)
        cv2.circle(img, p(ex, eye_y), ln(5), _jitter(rng, iris, 20), -1, aa)
        cv2.circle(img, p(ex, eye_y), ln(2.4), (15, 15, 15), -1, aa)
        cv2.circle(img, p(ex + 1.5, eye_y - 1.5), max(1, ln(1)), (250, 250, 250), -1, aa)
        cv2.ellipse(img, p(ex, eye_y), p(13, 7), 0, 180, 360, (30, 30, 40), ln(1.2), aa)
        for k in range(7):
            bx = ex - 14 + 4.5 * k
            by = eye_y - brow_lift - 3 * np.sin(np.pi * k / 6) * side * side
            cv2.line(img, p(bx, by + 2), p(bx + 4, by - 2), _jitter(rng, hair, 10), ln(1.5), aa)

    nose_len = rng.uniform(16, 26)
    cv2.line(img, p(cx - 1, eye_y + 4), p(cx - 4, eye_y + nose_len), _jitter(rng, skin - 50, 5), ln(1.3), aa)
    cv2.ellipse(img, p(cx, eye_y + nose_len + 2), p(8, 3.5), 0, 0, 180, _jitter(rng, skin - 60, 5), ln(1.3), aa)

    mouth_y, mouth_w = eye_y + nose_len + rng.uniform(16, 24), rng.uniform(14, 22)
    lip = _jitter(rng, np.array([70, 70, 170]), 25)
    cv2.ellipse(img, p(cx, mouth_y), p(mouth_w, rng.uniform(3, 7)), 0, 0, 180, lip, -1, aa)
    cv2.ellipse(img, p(cx, mouth_y), p(mouth_w, 2.5), 0, 180, 360, lip, -1, aa)
    cv2.line(img, p(cx - mouth_w, mouth_y), p(cx + mouth_w, mouth_y), (40, 30, 60), ln(1), aa)
    return img


def make_face_folder(folder, num, size, seed=0):
    """Write ``num`` faces as ``0000.png``, ``0001.png``, ... into ``folder`` (created if missing).

    Face ``i`` is ``draw_face(size, seed + i)``.

    Returns:
        list[str]: the written paths, in order.
    """
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(num):
        path = os.path.join(folder, f'{i:04d}.png')
        if not cv2.imwrite(path, draw_face(size, seed + i)):
            raise OSError(f'make_face_folder: could not write {path}')
        paths.append(path)
    return paths
