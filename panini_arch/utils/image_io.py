"""The one image reader of the package (datasets, inference, evaluation): files read as they are or refused.

:func:`decode_image` turns the bytes of any accepted file into 8-bit BGR plus its
alpha channel, or raises :class:`BadImageError` naming the file and the reason:

* empty data; a PNG without its IEND chunk or a JPEG without its end-of-image marker
  (truncated: OpenCV would decode the part that is there and say nothing); a WebP or
  TIFF shorter than its header says; any other file PIL finds truncated;
* animated files (GIF, WebP, APNG, multi-page TIFF): more than one frame (a camera JPEG
  whose MPF segment holds previews or a gain map is read as its first, main image);
* images of more than :data:`MAX_IMAGE_PIXELS` pixels (:class:`ImageTooLargeError`), from the
  size the header declares, before any pixel is decoded;
* sample types other than 8/16-bit integers and finite float; float data outside
  [0, 255]; more than 4 channels.

Each file is decoded once: the size and the EXIF orientation come from the file's
metadata (:mod:`panini_arch.utils.image_header` for PNG, JPEG, WebP and TIFF; PIL's
header for the others).

Conversions: 16-bit -> 8-bit (rounded, x / 257); float in [0, 1] -> x 255 (float
with a maximum above 1 is taken as already 0-255); grayscale -> BGR; palette, CMYK,
YCbCr, 1-bit and LA images through PIL to BGR (+ alpha when the file has one); the
EXIF orientation tag applied (TIFF decoders apply it themselves).
"""
import io
import os
import struct
import warnings

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .image_header import ORIENTATION_TAG, read_header

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.gif')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v')
# Largest image read (width x height): 150 megapixels, 450 MB as 8-bit BGR. Read when an image is checked,
# so a program may change it (above about 179 megapixels PIL refuses to open other formats: reported the same).
MAX_IMAGE_PIXELS = 150_000_000

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_PNG_END = b'IEND\xaeB`\x82'
# What PIL raises on damaged files besides OSError (e.g. TypeError 'Missing dimensions' for a TIFF).
_PIL_ERRORS = (OSError, ValueError, TypeError, EOFError, SyntaxError, struct.error)
# PIL modes OpenCV reads wrongly or not at all (CMYK TIFF comes back as 4 raw channels): PIL converts them.
_PIL_MODES = {'CMYK': 'RGB', 'YCbCr': 'RGB', 'LAB': 'RGB', 'HSV': 'RGB', '1': 'RGB', 'P': None, 'PA': 'RGBA',
              'LA': 'RGBA'}

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


class BadImageError(ValueError):
    """An image that cannot be used as it is (the message names the file and why)."""


class AnimatedImageError(BadImageError):
    """An image file holding several frames (animated GIF/WebP/PNG, multi-page TIFF)."""


class ImageTooLargeError(BadImageError):
    """An image declaring more than :data:`MAX_IMAGE_PIXELS` pixels (refused before decoding)."""


def check_pixel_count(width, height, name):
    """:class:`ImageTooLargeError` naming ``name`` when ``width * height`` exceeds :data:`MAX_IMAGE_PIXELS`."""
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(f'{name}: {width}x{height} pixels ({width * height:,}) is over the limit of '
                                 f'{MAX_IMAGE_PIXELS:,} pixels (panini_arch.utils.image_io.MAX_IMAGE_PIXELS); '
                                 'downscale it first')


def _check_complete(data, name):
    if data is None or len(data) == 0:
        raise BadImageError(f'{name}: empty or missing data')
    if data[:8] == _PNG_SIGNATURE and not data.rstrip(b'\x00').endswith(_PNG_END):
        raise BadImageError(f'{name}: truncated PNG (no IEND chunk)')
    if data[:2] == b'\xff\xd8' and not data.rstrip(b'\x00\r\n').endswith(b'\xff\xd9'):
        raise BadImageError(f'{name}: truncated JPEG (no end-of-image marker)')


def _open_pil(data, name):
    """The PIL image (header read only) or None when PIL does not know the format (e.g. float RGB TIFF)."""
    try:
        with warnings.catch_warnings():  # the pixel limit is checked here, PIL's warning below it is noise
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f'{name}: over the limit of {MAX_IMAGE_PIXELS:,} pixels ({error})') from None
    except (UnidentifiedImageError, *_PIL_ERRORS):
        return None
    check_pixel_count(*image.size, name)
    try:
        frames = getattr(image, 'n_frames', 1)
    except _PIL_ERRORS as error:  # counting reads every frame's header
        raise BadImageError(f'{name}: corrupt ({error})') from None
    if frames > 1 and image.format != 'MPO':  # a JPEG with previews or a gain map (MPF) is one photo
        raise AnimatedImageError(f'{name}: animated or multi-page image ({frames} frames); convert it to a video '
                                 '(e.g. ffmpeg -i in.gif out.mp4) or extract the frame you want')
    return image


def _from_pil(image, name):
    mode = _PIL_MODES.get(image.mode)
    if mode is None:  # palette: RGBA only when the palette has transparency
        mode = 'RGBA' if 'transparency' in image.info or image.mode.endswith('A') else 'RGB'
    try:
        rgb = np.asarray(image.convert(mode))
    except _PIL_ERRORS as error:
        raise BadImageError(f'{name}: truncated or corrupt ({error})') from None
    return cv2.cvtColor(rgb, cv2.COLOR_RGBA2BGRA if mode == 'RGBA' else cv2.COLOR_RGB2BGR)


def _to_uint8(img, name):
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return (img / 257.0 + 0.5).astype(np.uint8)
    if img.dtype in (np.float16, np.float32, np.float64):
        if not np.isfinite(img).all():
            raise BadImageError(f'{name}: float image with NaN or infinite values')
        low, high = float(img.min()), float(img.max())
        if low < 0 or high > 255:
            raise BadImageError(f'{name}: float image with values in [{low:.4g}, {high:.4g}]; expected [0, 1] '
                                '(or [0, 255])')
        scale = 255.0 if high <= 1 else 1.0
        return (img.astype(np.float32) * scale + 0.5).astype(np.uint8)
    raise BadImageError(f'{name}: unsupported sample type {img.dtype} (8/16-bit integer or float images only)')


def decode_image(data, name):
    """Decode the bytes of an image file (see the module docstring).

    Args:
        data (bytes): the whole file.
        name (str): file name or key, for messages.

    Returns:
        tuple: bgr (H, W, 3) uint8, alpha (H, W) uint8 or None.

    Raises:
        BadImageError: (or :class:`AnimatedImageError`, :class:`ImageTooLargeError`) the reason, naming
            ``name``.
    """
    _check_complete(data, name)
    header = read_header(data)
    if header is not None and header.length is not None and len(data) < header.length:
        raise BadImageError(f'{name}: truncated {header.format} ({len(data)} bytes, its header says {header.length})')
    if header is not None and header.width is not None:
        check_pixel_count(header.width, header.height, name)
    image = _open_pil(data, name)
    if image is not None and image.mode in _PIL_MODES:
        img = _from_pil(image, name)
    else:
        try:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error as error:  # OpenCV refuses some damaged headers by raising
            raise BadImageError(f'{name}: corrupt ({error.err or error})') from None
        if img is None and image is not None:
            img = _from_pil(image, name)
        if img is None:
            raise BadImageError(f'{name}: not a decodable image (truncated, corrupt or not an image file)')
        if image is not None and not _length_known(header):
            _check_pil_complete(image, name)
    img = _to_uint8(img, name)
    orientation = _orientation_to_apply(header, image)
    img = np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(img))
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), None
    channels = img.shape[2]
    if channels == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR), None
    if channels == 2:
        return cv2.cvtColor(np.ascontiguousarray(img[:, :, 0]), cv2.COLOR_GRAY2BGR), np.ascontiguousarray(img[:, :, 1])
    if channels == 3:
        return img, None
    if channels == 4:
        return np.ascontiguousarray(img[:, :, :3]), np.ascontiguousarray(img[:, :, 3])
    raise BadImageError(f'{name}: {channels} channels (1 to 4 expected)')


def _length_known(header):
    """Whether truncation was checked from the bytes: PNG and JPEG end with a marker, WebP and TIFF headers
    say their length (a TIFF without strip or tile offsets does not)."""
    return header is not None and (header.format in ('PNG', 'JPEG') or header.length is not None)


def _check_pil_complete(image, name):
    """Full decode by PIL, which notices truncation that OpenCV hides, for files whose length is not known
    from the header (BMP, GIF, BigTIFF, ...)."""
    try:
        image.load()
    except _PIL_ERRORS as error:
        raise BadImageError(f'{name}: truncated or corrupt ({error})') from None


def _orientation_to_apply(header, image):
    """The EXIF orientation still to apply once decoded: the header's (PIL's for the formats
    :func:`read_header` does not parse; an unreadable PNG header counts as upright, PIL would decode the
    pixels to look); none for TIFF, which OpenCV's and PIL's decoders already turn upright themselves."""
    if header is not None:
        return 1 if header.format == 'TIFF' else header.orientation
    if image is None or image.format in ('PNG', 'TIFF'):
        return 1
    try:
        return int(image.getexif().get(ORIENTATION_TAG, 1))
    except (OSError, ValueError, TypeError):
        return 1


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


def read_bytes(path):
    """The bytes of ``path``; :class:`BadImageError` naming it when it cannot be read."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as error:
        raise BadImageError(f'{path}: {error.strerror or error}') from None


def read_photo(path):
    """Read an image file as an upright 8-bit BGR photo plus its alpha channel (:func:`decode_image`).

    Returns:
        tuple: bgr (H, W, 3) uint8, alpha (H, W) uint8 or None.
    """
    return decode_image(read_bytes(path), str(path))
