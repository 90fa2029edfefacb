"""Images declaring more pixels than MAX_IMAGE_PIXELS are refused by name from their header, on every path."""
import importlib.util
import io
import json
import os
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

import panini_arch  # noqa: F401  (first: makes basicsr importable)
from helpers import REPO, harness_options, png_chunk, write_pairs
from panini_arch import test as test_entry
from panini_arch.data.panini_degradation_dataset import PaniniDegradationDataset
from panini_arch.data.synthetic_faces import make_face_folder
from panini_arch.evaluation.analysis import load_batch
from panini_arch.inference import main as restore_main
from panini_arch.trainer import patches
from panini_arch.utils import image_io
from panini_arch.utils.image_io import ImageTooLargeError, decode_image

SMALL = np.full((8, 8, 3), 120, np.uint8)


def png_bomb(side=60000):
    """A PNG of under 100 bytes whose header declares side x side RGB pixels."""
    header = struct.pack('>IIBBBBB', side, side, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', header) + png_chunk(b'IDAT', zlib.compress(b'\x00' * 32, 9))
            + png_chunk(b'IEND', b''))


def encoded(fmt, **kwargs):
    buffer = io.BytesIO()
    Image.fromarray(SMALL).save(buffer, format=fmt, **kwargs)
    return bytearray(buffer.getvalue())


def jpeg_bomb():
    data = encoded('JPEG')
    sof = data.index(b'\xff\xc0')
    struct.pack_into('>HH', data, sof + 5, 60000, 60000)
    return bytes(data)


def webp_bomb():
    data = encoded('WEBP', lossless=True)
    chunk = data.index(b'VP8L')
    struct.pack_into('<I', data, chunk + 9, 0x3FFF | 0x3FFF << 14)  # 16384 x 16384
    return bytes(data)


def tiff_bomb():
    data = encoded('TIFF')
    offset = struct.unpack_from('<I', data, 4)[0]
    for i in range(struct.unpack_from('<H', data, offset)[0]):
        tag, kind = struct.unpack_from('<HH', data, offset + 2 + 12 * i)
        if tag in (256, 257):
            struct.pack_into('<H' if kind == 3 else '<I', data, offset + 10 + 12 * i, 60000)
    return bytes(data)


def bmp_bomb(width, height):
    data = encoded('BMP')
    struct.pack_into('<ii', data, 18, width, height)
    return bytes(data)


@pytest.mark.parametrize('name, data', [('bomb.png', png_bomb()), ('bomb.jpg', jpeg_bomb()), ('bomb.webp', webp_bomb()),
                                        ('bomb.tif', tiff_bomb()), ('big.bmp', bmp_bomb(13000, 12000)),
                                        ('huge.bmp', bmp_bomb(60000, 60000))])
def test_every_format_is_refused_from_its_header(name, data):
    with pytest.raises(ImageTooLargeError, match=f'{name}: .*over the limit of 150,000,000 pixels'):
        decode_image(data, name)


def test_the_limit_is_read_when_checking_and_a_74_byte_png_is_refused(monkeypatch):
    data = png_bomb()
    assert len(data) < 100
    message = r'x.png: 60000x60000 pixels \(3,600,000,000\) is over the limit of 150,000,000'
    with pytest.raises(ImageTooLargeError, match=message):
        decode_image(data, 'x.png')
    ok = cv2.imencode('.png', SMALL)[1].tobytes()
    assert decode_image(ok, 'ok.png')[0].shape == (8, 8, 3)
    monkeypatch.setattr(image_io, 'MAX_IMAGE_PIXELS', 63)
    with pytest.raises(ImageTooLargeError, match='ok.png: 8x8'):
        decode_image(ok, 'ok.png')


def test_training_dataset_skips_and_reports_it(tmp_path):
    make_face_folder(tmp_path, 3, 32)
    (tmp_path / '0001.png').write_bytes(png_bomb())
    ds = PaniniDegradationDataset({'dataroot_gt': str(tmp_path), 'io_backend': {'type': 'disk'}, 'gt_size': 32,
                                   'in_size': 16, 'deterministic': True})
    items = [ds[i] for i in range(len(ds))]
    assert all(item['gt'].shape == (3, 32, 32) for item in items)
    assert list(ds.source.bad) == [1] and '0001.png' in ds.source.bad[1] and 'over the limit' in ds.source.bad[1]
    assert all(not item['gt_path'].endswith('0001.png') for item in items)


def test_harness_analyses_and_inference_refuse_it_by_name(tmp_path, capsys):
    with pytest.raises(ImageTooLargeError, match='over the limit'):
        patches.imfrombytes(png_bomb(), float32=True)  # BasicSR's PairedImageDataset under the trainer
    (tmp_path / 'in').mkdir()
    (tmp_path / 'in' / 'bomb.png').write_bytes(png_bomb())
    cv2.imwrite(str(tmp_path / 'in' / 'face.png'), cv2.resize(SMALL, (64, 64)))
    with pytest.raises(ImageTooLargeError, match='bomb.png: 60000x60000'):
        load_batch([str(tmp_path / 'in' / 'bomb.png')])
    with pytest.warns(UserWarning, match='RANDOM WEIGHTS'):
        code = restore_main(['-i', str(tmp_path / 'in'), '-o', str(tmp_path / 'out'), '--aligned', '--arch', 'tiny',
                             '--random_weights', '--device', 'cpu', '--detector', 'haar'])
    text = capsys.readouterr().out
    assert code == 1 and os.listdir(tmp_path / 'out' / 'restored_imgs') == ['face.png']
    assert any('bomb.png' in line and 'over the limit' in line for line in text.splitlines()), text


def test_evaluate_outputs_lists_it_as_failed_and_exits_1(tmp_path, capsys):
    for folder in ('restored', 'gt'):
        make_face_folder(tmp_path / folder, 3, 32)
    (tmp_path / 'restored' / '0001.png').write_bytes(png_bomb())
    path = os.path.join(REPO, 'scripts', 'evaluate_outputs.py')
    spec = importlib.util.spec_from_file_location('evaluate_outputs', path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with pytest.raises(SystemExit) as exit_info:
        script.main(['--restored', str(tmp_path / 'restored'), '--gt', str(tmp_path / 'gt'), '--name', 'bomb',
                     '--results_root', str(tmp_path / 'results')])
    assert exit_info.value.code == 1 and '0001.png: 60000x60000' in capsys.readouterr().err
    summary = (tmp_path / 'results' / 'bomb' / 'metrics_gt.json').read_text()
    assert '"image": "0001"' in summary and '"num_images": 2' in summary


def test_a_video_whose_frames_exceed_the_limit_is_refused_before_reading_them(tmp_path, capsys, monkeypatch):
    (tmp_path / 'in').mkdir()
    writer = cv2.VideoWriter(str(tmp_path / 'in' / 'clip.avi'), cv2.VideoWriter_fourcc(*'MJPG'), 5, (64, 48))
    for _ in range(2):
        writer.write(np.full((48, 64, 3), 100, np.uint8))
    writer.release()
    monkeypatch.setattr(image_io, 'MAX_IMAGE_PIXELS', 64 * 48 - 1)
    with pytest.warns(UserWarning, match='RANDOM WEIGHTS'):
        code = restore_main(['-i', str(tmp_path / 'in'), '-o', str(tmp_path / 'out'), '--arch', 'tiny',
                             '--random_weights', '--device', 'cpu', '--detector', 'haar'])
    assert code == 1 and 'clip.avi: 64x48 pixels' in capsys.readouterr().out


def test_harness_lists_it_as_failed_and_scores_the_others(tmp_path, run_entry, capsys):
    """scripts/test.py (BasicSR's PairedImageDataset under the trainer's reader): that pair failed, exit 1."""
    write_pairs(tmp_path, ['a.png', 'b.png'])
    (tmp_path / 'LQ' / 'b.png').write_bytes(png_bomb())
    metrics = {'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False}}
    assert run_entry(test_entry.main, harness_options(tmp_path, metrics)) == 1
    summary = json.loads((tmp_path / 'results' / 'bad_neighbours' / 'metrics_CelebA-HQ-MFR.json').read_text())
    assert summary['num_images'] == 1 and len(summary['failed']) == 1
    assert 'b.png' in summary['failed'][0]['image'] and 'over the limit' in summary['failed'][0]['reason']
    assert 'FAILED' in capsys.readouterr().err
