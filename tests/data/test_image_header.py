"""Orientation and size from the file's metadata: the reader turns images as PIL's EXIF reading says, decoding once."""
import io
from unittest import mock

import cv2
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from helpers import png_chunk
from panini_arch.utils import image_io
from panini_arch.utils.image_header import read_header
from panini_arch.utils.image_io import BadImageError, decode_image

RGB = np.random.default_rng(1).integers(0, 256, (24, 40, 3), dtype=np.uint8)
RGB[:, :, 0] = np.linspace(0, 255, 40).astype(np.uint8)
# PIL's own table (ImageOps.exif_transpose) of how each orientation is turned upright.
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}
SAVE = {'JPEG': {'quality': 90}, 'PNG': {}, 'WEBP': {'lossless': True}, 'TIFF': {}}


def exif_bytes(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def encode(fmt, orientation=None, **extra):
    buffer = io.BytesIO()
    kwargs = dict(SAVE[fmt], **extra)
    if orientation is not None:
        kwargs['exif'] = exif_bytes(orientation)
    Image.fromarray(RGB).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def reference(data):
    """What the reader gave before: OpenCV's pixels turned by the orientation PIL's ``getexif()`` reads."""
    orientation = Image.open(io.BytesIO(data)).getexif().get(0x0112, 1)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    image = Image.fromarray(bgr)
    return orientation, np.asarray(image.transpose(TRANSPOSE[orientation]) if orientation in TRANSPOSE else image)


def check_same_as_before(data, name):
    orientation, expected = reference(data)
    assert read_header(data).orientation == orientation
    bgr, _ = decode_image(data, name)
    np.testing.assert_array_equal(bgr, expected)
    return orientation


def upright(orientation):
    """The test image as it should be seen (BGR), from PIL's transpose table."""
    image = Image.fromarray(np.ascontiguousarray(RGB[:, :, ::-1]))
    return np.asarray(image.transpose(TRANSPOSE[orientation]) if orientation in TRANSPOSE else image)


@pytest.mark.parametrize('orientation', [None, 1, 2, 3, 4, 5, 6, 7, 8])
def test_jpeg_every_orientation_as_pil_reads_it(orientation):
    assert check_same_as_before(encode('JPEG', orientation), 'o.jpg') == (orientation or 1)


@pytest.mark.parametrize('fmt', ['PNG', 'WEBP'])
@pytest.mark.parametrize('orientation', [None, 1, 2, 3, 4, 5, 6, 7, 8])
def test_png_and_webp_orientations_as_before_and_upright(fmt, orientation):
    data = encode(fmt, orientation)
    assert check_same_as_before(data, f'o.{fmt.lower()}') == (orientation or 1)
    np.testing.assert_array_equal(decode_image(data, 'o')[0], upright(orientation))


@pytest.mark.parametrize('orientation', [None, 1, 2, 3, 4, 5, 6, 7, 8])
def test_tiff_is_turned_upright_once(orientation):
    """OpenCV's and PIL's TIFF decoders apply the orientation tag themselves (it was applied a second time)."""
    data = encode('TIFF', orientation)
    assert read_header(data).orientation == (orientation or 1)
    np.testing.assert_array_equal(decode_image(data, 'o.tif')[0], upright(orientation))
    cmyk = io.BytesIO()  # decoded by PIL, not OpenCV
    Image.fromarray(RGB).convert('CMYK').save(cmyk, format='TIFF', exif=exif_bytes(orientation or 1))
    assert decode_image(cmyk.getvalue(), 'cmyk.tif')[0].shape == upright(orientation).shape


def test_png_exif_after_the_pixels_raw_profile_and_xmp_are_found():
    plain = encode('PNG')
    end = plain.rindex(b'IEND') - 4
    late = plain[:end] + png_chunk(b'eXIf', exif_bytes(6)) + plain[end:]  # allowed after IDAT; PIL finds it
    assert check_same_as_before(late, 'late.png') == 6
    hexed = exif_bytes(3).hex()
    info = PngImagePlugin.PngInfo()
    info.add_text('Raw profile type exif', f'\nexif\n{len(hexed) // 2:8d}\n{hexed}\n', zip=True)
    assert check_same_as_before(encode('PNG', pnginfo=info), 'raw.png') == 3
    info = PngImagePlugin.PngInfo()
    info.add_itxt('XML:com.adobe.xmp', '<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>', zip=True)
    assert check_same_as_before(encode('PNG', pnginfo=info), 'xmp.png') == 8


def test_jpeg_xmp_orientation_counts_only_without_exif_orientation():
    xmp = b'<x:xmpmeta><rdf:Description tiff:Orientation="7"/></x:xmpmeta>'
    assert check_same_as_before(encode('JPEG', xmp=xmp), 'xmp.jpg') == 7
    assert check_same_as_before(encode('JPEG', 2, xmp=xmp), 'both.jpg') == 2


@pytest.mark.parametrize('fmt, kwargs', [('PNG', {}), ('JPEG', {}), ('WEBP', {'lossless': True}),
                                         ('WEBP', {'quality': 80}), ('TIFF', {}),
                                         ('TIFF', {'compression': 'tiff_lzw'})])
def test_header_size_is_the_image_size(fmt, kwargs):
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, format=fmt, **kwargs)
    header = read_header(buffer.getvalue())
    assert (header.format, header.width, header.height) == (fmt, 40, 24)
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, format='WEBP', exif=exif_bytes(5))  # extended (VP8X) layout
    assert read_header(buffer.getvalue())[1:4] == (40, 24, 5)


def test_other_formats_and_damaged_headers_give_no_header():
    assert read_header(b'BM' + bytes(60)) is None
    assert read_header(b'\x89PNG\r\n\x1a\n\x00\x00') is None
    assert read_header(encode('JPEG')[:2] + b'garbage') is None


@pytest.mark.parametrize('fmt', ['PNG', 'JPEG', 'WEBP', 'TIFF'])
def test_each_file_is_decoded_once(fmt):
    """PIL's decoder is never run for files OpenCV decodes (PIL's getexif() decoded every PNG)."""
    data = encode(fmt, 6)  # turned: 40 x 24
    with mock.patch.object(Image.Image, 'load', side_effect=AssertionError('PIL decoded the pixels')), \
            mock.patch.object(image_io, '_check_pil_complete', side_effect=AssertionError('decoded twice')):
        assert decode_image(data, 'x')[0].shape == (40, 24, 3)
    decodes = mock.Mock(wraps=cv2.imdecode)
    with mock.patch.object(image_io.cv2, 'imdecode', decodes):
        decode_image(data, 'x')
    assert decodes.call_count == 1


@pytest.mark.filterwarnings('ignore:.*:UserWarning')  # PIL's notes on the damaged TIFF tags
@pytest.mark.parametrize('fmt, variants', [('PNG', 100), ('JPEG', 400), ('WEBP', 400), ('TIFF', 400)])
def test_damaged_files_are_refused_by_name_never_with_a_raw_error(fmt, variants):
    """Cut files with overwritten header bytes (seeded): BadImageError naming the file, or an image (among them
    TIFFs whose frames PIL cannot count: a raw TypeError before)."""
    rng = np.random.default_rng(0)
    base = encode(fmt, 6)
    for variant in range(variants):
        data = bytearray(base[:rng.integers(1, len(base))] if variant % 2 else base)
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(0, min(len(data), 300))] = rng.integers(0, 256)
        read_header(bytes(data))
        try:
            decode_image(bytes(data), 'damaged.file')
        except BadImageError as error:
            assert str(error).startswith('damaged.file: ')


def test_camera_jpeg_with_mpf_previews_is_its_main_image_not_an_animation():
    """Cameras and phones append previews or an HDR gain map (MPF); PIL counts them as frames."""
    buffer = io.BytesIO()
    main = Image.fromarray(RGB)
    main.save(buffer, format='MPO', save_all=True, append_images=[main.resize((20, 12))], quality=90)
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).n_frames == 2
    expected = cv2.imdecode(np.frombuffer(encode('JPEG'), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decode_image(data, 'camera.jpg')[0], expected)
