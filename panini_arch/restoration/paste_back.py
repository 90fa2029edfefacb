"""Paste restored faces back into the photo, and resize the photo around them.

Coordinates are (x, y) pixels. Images are numpy (H, W, C) arrays; the paste
works region by region, so memory stays bounded by the output image plus one
face-sized window however large the photo is.
"""
import cv2
import numpy as np


def crop_to_output(affine, crop_size, face_size, upscale):
    """Affine matrix mapping a restored face (face_size px) into the output photo.

    The crop of ``crop_size`` px came from ``affine`` (photo -> crop); the
    output photo is the input resized by ``upscale``.
    """
    inverse = np.vstack([cv2.invertAffineTransform(affine), [0, 0, 1]])
    full = _pixel_scale(upscale) @ inverse @ _pixel_scale(crop_size / face_size)
    return full[:2]


def _pixel_scale(scale):
    """3x3 matrix of a resize by ``scale`` that keeps pixel centres aligned (as cv2.resize)."""
    shift = (scale - 1) / 2
    return np.array([[scale, 0, shift], [0, scale, shift], [0, 0, 1]], np.float64)


def soft_face_mask(size):
    """(size, size) float32 mask: 1 inside, fading to 0 over the outer ~10 % of the crop."""
    mask = np.zeros((size, size), np.float32)
    border = max(size // 20, 1)
    mask[border:-border, border:-border] = 1.0
    blur = 2 * border + 1
    return cv2.GaussianBlur(mask, (blur * 2 + 1, blur * 2 + 1), 0)


def paste_face(canvas, face, affine_to_canvas):
    """Blend ``face`` into ``canvas`` in place through its soft mask.

    Args:
        canvas (ndarray): (H, W, 3) uint8 BGR output photo, modified in place.
        face (ndarray): (S, S, 3) uint8 BGR restored face.
        affine_to_canvas (ndarray): 2x3 matrix face -> canvas pixels.
    """
    size = face.shape[0]
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ affine_to_canvas.T
    height, width = canvas.shape[:2]
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int), 0, [width, height])
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + 1, 0, [width, height])
    if x1 <= x0 or y1 <= y0:
        return
    local = affine_to_canvas.copy()
    local[:, 2] -= (x0, y0)
    window = (int(x1 - x0), int(y1 - y0))
    warped = cv2.warpAffine(face, local, window, flags=cv2.INTER_LINEAR).astype(np.float32)
    mask = cv2.warpAffine(soft_face_mask(size), local, window, flags=cv2.INTER_LINEAR)[..., None]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = np.clip(mask * warped + (1 - mask) * region + 0.5, 0, 255).astype(np.uint8)


def resize_in_strips(img, scale, strip=1024):
    """Resize ``img`` by ``scale`` (Lanczos) strip by strip, bounding temporary memory.

    Returns (round(H*scale), round(W*scale), C) of the input dtype; each strip
    reads a few extra source rows so strip seams do not show.
    """
    height, width = img.shape[:2]
    out_h, out_w = int(round(height * scale)), int(round(width * scale))
    if scale == 1:
        return img.copy()
    out = np.empty((out_h, out_w) + img.shape[2:], img.dtype)
    margin = 8
    for top in range(0, out_h, strip):
        bottom = min(top + strip, out_h)
        src_top = max(int(np.floor(top / scale)) - margin, 0)
        src_bottom = min(int(np.ceil(bottom / scale)) + margin, height)
        matrix = _pixel_scale(scale)[:2]
        matrix[1, 2] += src_top * scale - top
        out[top:bottom] = _warp_rows(img[src_top:src_bottom], matrix, (out_w, bottom - top))
    return out


def _warp_rows(rows, matrix, size):
    """Warp one strip of source rows; keeps a trailing channel axis of 1."""
    warped = cv2.warpAffine(rows, matrix, size, flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE)
    return warped.reshape((size[1], size[0]) + rows.shape[2:])
