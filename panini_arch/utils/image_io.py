"""Read photos the way users expect: EXIF orientation applied, any channel layout."""
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
