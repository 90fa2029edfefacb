"""Image files: list a folder's images, read photos the way users expect (EXIF orientation, any channels)."""
import os

import cv2
import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v')

# EXIF orientation tag value -> how to turn the stored pixels upright.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}
EXIF_ORIENTATION_TAG = 0x0112


def list_images(folder, recursive=False, extensions=IMAGE_EXTENSIONS, required=False):
    """Sorted paths (``folder`` joined with each name) of the files in ``folder`` ending with ``extensions``.

    Args:
        folder (str | Path): the folder; a missing one raises FileNotFoundError.
        recursive (bool): also the files in sub-folders (paths keep the sub-folder).
        extensions (tuple[str]): lower-case suffixes; matched case-insensitively.
        required (bool): raise FileNotFoundError naming the folder when nothing matches.

    Returns:
        list[str]
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'Folder not found: {folder}')
    if recursive:
        names = (os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder) for f in files)
    else:
        names = (n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)))
    paths = sorted(os.path.join(folder, n) for n in names if n.lower().endswith(tuple(extensions)))
    if required and not paths:
        raise FileNotFoundError(f'No images in {folder} (extensions {", ".join(extensions)})')
    return paths


def read_photo(path):
    """Read an image file as an upright 8-bit BGR photo plus its alpha channel.

    Grayscale becomes 3-channel BGR; 16-bit images are scaled to 8 bits; the
    EXIF orientation tag is applied.

    Returns:
        tuple: bgr (H, W, 3) uint8, alpha (H, W) uint8 or None.

    Raises:
        ValueError: the file cannot be decoded as an image.
    """
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'Cannot read image {path}')
    if img.dtype == np.uint16:
        img = (img / 257.0 + 0.5).astype(np.uint8)
    img = np.ascontiguousarray(_ORIENT.get(exif_orientation(path), lambda a: a)(img))
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), None
    if img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3]), np.ascontiguousarray(img[:, :, 3])
    if img.shape[2] == 2:
        return cv2.cvtColor(np.ascontiguousarray(img[:, :, 0]), cv2.COLOR_GRAY2BGR), np.ascontiguousarray(img[:, :, 1])
    return img, None


def exif_orientation(path):
    """The EXIF orientation tag (1..8) of an image file, 1 when absent or unreadable."""
    try:
        with Image.open(path) as image:
            return int(image.getexif().get(EXIF_ORIENTATION_TAG, 1))
    except (OSError, ValueError):
        return 1
