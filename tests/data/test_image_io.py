"""The one image reader: every accepted extension, every colour mode and sample type, read as it is or refused."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from panini_arch.utils.image_io import IMAGE_EXTENSIONS, AnimatedImageError, BadImageError, decode_image, read_photo

RGB = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
RGB[:, :, 0] = np.linspace(0, 255, 32).astype(np.uint8)  # smooth enough for lossy formats
RGB[:, :, 1] = 128
RGB[:, :, 2] = np.linspace(255, 0, 24).astype(np.uint8)[:, None]
BGR = np.ascontiguousarray(RGB[:, :, ::-1])
LOSSY = {'.jpg': 12, '.jpeg': 12, '.webp': 12, '.gif': 40}


@pytest.mark.parametrize('ext', IMAGE_EXTENSIONS)
def test_every_accepted_extension_reads_its_pixels(tmp_path, ext):
    path = tmp_path / f'img{ext}'
    Image.fromarray(RGB).save(path)
    bgr, alpha = read_photo(path)
    assert bgr.shape == BGR.shape and bgr.dtype == np.uint8 and alpha is None
    assert np.abs(bgr.astype(int) - BGR).mean() <= LOSSY.get(ext, 0)


@pytest.mark.parametrize('scale', [1.0, 255.0])
def test_float_tiff_is_scaled_not_black(tmp_path, scale):
    path = tmp_path / 'float.tif'
    assert cv2.imwrite(str(path), BGR.astype(np.float32) / 255 * scale)
    bgr, _ = read_photo(path)
    assert np.abs(bgr.astype(int) - BGR).max() <= 1


def test_float_gray_and_16bit_images(tmp_path):
    cv2.imwrite(str(tmp_path / 'gray.tif'), BGR[:, :, 0].astype(np.float32) / 255)
    assert np.abs(read_photo(tmp_path / 'gray.tif')[0][:, :, 2].astype(int) - BGR[:, :, 0]).max() <= 1
    for ext in ('.png', '.tif'):
        cv2.imwrite(str(tmp_path / f'deep{ext}'), BGR.astype(np.uint16) * 257)
        np.testing.assert_array_equal(read_photo(tmp_path / f'deep{ext}')[0], BGR)


@pytest.mark.parametrize('values, match', [(np.nan, 'NaN'), (300.0, 'values in'), (-2.0, 'values in')])
def test_float_image_out_of_range_is_refused(tmp_path, values, match):
    img = BGR.astype(np.float32) / 255
    img[0, 0] = values
    cv2.imwrite(str(tmp_path / 'bad.tif'), img)
    with pytest.raises(BadImageError, match=f'bad.tif.*{match}'):
        read_photo(tmp_path / 'bad.tif')


@pytest.mark.parametrize('mode, ext', [('P', '.png'), ('CMYK', '.jpg'), ('CMYK', '.tif'), ('1', '.png'),
                                       ('L', '.png'), ('YCbCr', '.jpg')])
def test_colour_modes_are_converted_to_bgr(tmp_path, mode, ext):
    path = tmp_path / f'{mode}{ext}'
    image = Image.fromarray(RGB).convert(mode)
    image.save(path)
    expected = np.asarray(Image.open(path).convert('RGB'))[:, :, ::-1]
    bgr, alpha = read_photo(path)
    assert alpha is None and np.abs(bgr.astype(int) - expected).max() <= 2


@pytest.mark.parametrize('mode', ['RGBA', 'LA', 'PA'])
def test_alpha_is_kept(tmp_path, mode):
    alpha = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (24, 1))
    rgba = Image.fromarray(np.dstack([RGB, alpha]))
    path = tmp_path / 'alpha.png'
    (rgba.convert('P', palette=Image.ADAPTIVE) if mode == 'PA' else rgba.convert(mode)).save(
        path, **({'transparency': 0} if mode == 'PA' else {}))
    _, got = read_photo(path)
    assert got is not None and got.shape == alpha.shape
    if mode != 'PA':
        np.testing.assert_array_equal(got, alpha)


def test_animated_gif_is_refused_single_frame_read(tmp_path):
    frames = [Image.fromarray(RGB), Image.fromarray(RGB[::-1])]
    frames[0].save(tmp_path / 'anim.gif', save_all=True, append_images=frames[1:])
    with pytest.raises(AnimatedImageError, match=r'anim.gif.*2 frames.*ffmpeg'):
        read_photo(tmp_path / 'anim.gif')
    frames[0].save(tmp_path / 'still.gif')
    assert read_photo(tmp_path / 'still.gif')[0].shape == BGR.shape


@pytest.mark.parametrize('ext, match', [('.jpg', 'truncated JPEG'), ('.png', 'truncated PNG'), ('.webp', 'truncated'),
                                        ('.tif', 'truncated'), ('.bmp', 'truncated'), ('.gif', 'truncated')])
def test_truncated_files_are_reported(ext, match):
    buffer = io.BytesIO()
    Image.fromarray(np.repeat(np.repeat(RGB, 4, 0), 4, 1)).save(buffer, format=Image.registered_extensions()[ext])
    data = buffer.getvalue()
    with pytest.raises(BadImageError, match=f'cut{ext}: .*{match}'):
        decode_image(data[:len(data) * 2 // 3], f'cut{ext}')


def test_empty_and_garbage_files_are_reported(tmp_path):
    (tmp_path / 'empty.png').write_bytes(b'')
    (tmp_path / 'text.jpg').write_bytes(b'not an image at all')
    with pytest.raises(BadImageError, match='empty.png: empty'):
        read_photo(tmp_path / 'empty.png')
    with pytest.raises(BadImageError, match='text.jpg'):
        read_photo(tmp_path / 'text.jpg')
    with pytest.raises(BadImageError, match='missing.png'):
        read_photo(tmp_path / 'missing.png')
