"""Every bad-input case of docs/data.md shows its documented behaviour (convert, skip + count, or fail)."""
import logging
import os
import shutil

import cv2
import numpy as np
import pytest
import torch

import panini_arch  # noqa: F401  (first: makes basicsr importable)
from panini_arch.data.face_source import BadImageError
from panini_arch.data.lmdb_builder import make_lmdb
from panini_arch.data.panini_degradation_dataset import PaniniDegradationDataset
from panini_arch.data.synthetic_faces import draw_face, make_face_folder
from panini_arch.data.udrl_pair_dataset import UDRLPairDataset

SIZE = 64


def dataset(root, cls=PaniniDegradationDataset, **opt):
    base = {'dataroot_gt': str(root), 'io_backend': {'type': 'disk'}, 'gt_size': SIZE, 'in_size': 32,
            'deterministic': True, 'mean': [0, 0, 0], 'std': [1, 1, 1]}
    base.update(opt)
    return cls(base)


def gt_uint8(item):
    return np.rint(item['gt'].permute(1, 2, 0).numpy() * 255).astype(np.uint8)[..., ::-1]


@pytest.fixture
def folder(tmp_path):
    make_face_folder(tmp_path, 3, SIZE)
    return tmp_path


@pytest.fixture
def caplog_basicsr(caplog):
    logging.getLogger('basicsr').addHandler(caplog.handler)
    yield caplog
    logging.getLogger('basicsr').removeHandler(caplog.handler)


def _truncated_png():
    data = cv2.imencode('.png', draw_face(SIZE, 9))[1].tobytes()
    return data[:len(data) - 30]


def _truncated_jpeg():
    data = cv2.imencode('.jpg', draw_face(SIZE, 9))[1].tobytes()
    return data[:len(data) * 3 // 4]


@pytest.mark.parametrize('name,data', [('0001.png', b'\x00garbage'), ('0001.png', b''),
                                       ('0001.png', _truncated_png()), ('0001.jpg', _truncated_jpeg())],
                         ids=['unreadable', 'empty', 'truncated_png', 'truncated_jpeg'])
def test_bad_file_is_skipped_with_warning_and_count_or_fails_in_strict(folder, caplog_basicsr, name, data):
    os.remove(folder / '0001.png')
    (folder / name).write_bytes(data)
    ds = dataset(folder)
    names = [os.path.basename(p) for p in ds.source.paths]
    bad = names.index(name)
    item = ds[bad]
    assert item['gt'].shape == (3, SIZE, SIZE) and item['lq'].shape == (3, 32, 32)
    assert item['gt_path'] == ds.source.paths[(bad + 1) % 3]
    assert ds.source.num_skipped == 1
    assert name in caplog_basicsr.text and 'Skipped bad image' in caplog_basicsr.text
    with pytest.raises(BadImageError, match=name):
        dataset(folder, strict=True)[bad]


def test_grayscale_is_replicated_to_three_channels(folder):
    gray = cv2.cvtColor(draw_face(SIZE, 1), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(folder / '0001.png'), gray)
    img = gt_uint8(dataset(folder)[1])
    np.testing.assert_array_equal(img, np.repeat(gray[:, :, None], 3, axis=2))


def test_rgba_alpha_is_dropped(folder):
    bgr = draw_face(SIZE, 1)
    alpha = np.zeros((SIZE, SIZE, 1), np.uint8)
    cv2.imwrite(str(folder / '0001.png'), np.concatenate([bgr, alpha], axis=2))
    np.testing.assert_array_equal(gt_uint8(dataset(folder)[1]), bgr)


def test_16bit_is_scaled_to_8bit(folder):
    img16 = draw_face(SIZE, 1).astype(np.uint16) * 257 + 100
    cv2.imwrite(str(folder / '0001.png'), img16)
    np.testing.assert_array_equal(gt_uint8(dataset(folder)[1]), (img16 / 257 + 0.5).astype(np.uint8))


def test_wrong_size_square_is_resized_and_counted(folder, caplog_basicsr):
    cv2.imwrite(str(folder / '0001.png'), draw_face(SIZE * 2, 1))
    cv2.imwrite(str(folder / '0002.png'), draw_face(SIZE // 2, 2))
    ds = dataset(folder)
    assert ds[1]['gt'].shape == (3, SIZE, SIZE) and ds[2]['gt'].shape == (3, SIZE, SIZE)
    assert ds.source.num_resized == 2 and 'resized to gt_size' in caplog_basicsr.text
    expected = cv2.resize(draw_face(SIZE * 2, 1), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(gt_uint8(ds[1]), expected)


def test_non_square_is_skipped_or_fails_in_strict(folder):
    cv2.imwrite(str(folder / '0001.png'), draw_face(SIZE, 1)[:, :SIZE // 2])
    ds = dataset(folder)
    assert ds[1]['gt_path'].endswith('0002.png') and ds.source.num_skipped == 1
    with pytest.raises(BadImageError, match='not square'):
        dataset(folder, strict=True)[1]


def test_all_bad_raises_instead_of_looping(tmp_path):
    for i in range(2):
        (tmp_path / f'{i}.png').write_bytes(b'bad')
    with pytest.raises(BadImageError, match='No usable image'):
        dataset(tmp_path)[0]


def test_udrl_key_never_equals_query_even_around_bad_files(folder):
    (folder / '0002.png').write_bytes(b'bad')
    ds = dataset(folder, cls=UDRLPairDataset)
    for i in range(2):
        item = ds[i]
        assert item['query_path'] != item['key_path']


def test_empty_folder_and_missing_root_fail_at_construction(tmp_path):
    (tmp_path / 'notes.txt').write_text('no images here')
    with pytest.raises(ValueError, match='No images in dataroot_gt'):
        dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match='dataroot_gt is not a folder'):
        dataset(tmp_path / 'missing')
    with pytest.raises(ValueError, match='dataroot_gt is required'):
        PaniniDegradationDataset({'io_backend': {'type': 'disk'}})


def test_meta_info_line_to_missing_file_is_dropped_or_fails_in_strict(folder, caplog_basicsr):
    meta = folder / 'meta.txt'
    meta.write_text('0000.png (64,64,3)\nghost.png (64,64,3)\n\n0002.png (64,64,3)\n')
    ds = dataset(folder, meta_info=str(meta))
    assert len(ds) == 2 and ds.source.num_missing == 1 and 'ghost.png' in caplog_basicsr.text
    with pytest.raises(FileNotFoundError, match='ghost.png'):
        dataset(folder, meta_info=str(meta), strict=True)
    with pytest.raises(FileNotFoundError, match='meta_info file not found'):
        dataset(folder, meta_info=str(folder / 'nope.txt'))


def test_lmdb_missing_key_is_dropped_or_fails_in_strict(folder, tmp_path_factory):
    db = tmp_path_factory.mktemp('db') / 'faces.lmdb'
    make_lmdb(str(folder), str(db), progress=False)
    with open(db / 'meta_info.txt', 'a') as f:
        f.write('ghost.png (64,64,3)\n')
    ds = dataset(db, io_backend={'type': 'lmdb'})
    assert len(ds) == 3 and ds.source.num_missing == 1
    assert ds[2]['gt'].shape == (3, SIZE, SIZE)
    with pytest.raises(FileNotFoundError, match='LMDB key'):
        dataset(db, io_backend={'type': 'lmdb'}, strict=True)
    with pytest.raises(FileNotFoundError, match='no data.mdb'):
        dataset(folder, io_backend={'type': 'lmdb'})


def test_file_vanishing_after_construction_is_skipped(folder):
    ds = dataset(folder)
    os.remove(folder / '0000.png')
    assert ds[0]['gt_path'].endswith('0001.png') and ds.source.num_skipped == 1


def test_lmdb_key_vanishing_after_construction_is_skipped(folder, tmp_path_factory):
    db = tmp_path_factory.mktemp('db') / 'faces.lmdb'
    make_lmdb(str(folder), str(db), progress=False)
    ds = dataset(db, io_backend={'type': 'lmdb'})
    ds.source.names[0] = 'renamed'
    assert ds[0]['gt_path'] == '0001' and ds.source.num_skipped == 1


@pytest.mark.parametrize('opt,match', [
    ({'io_backend': {'type': 'memcached'}}, 'io_backend.type'),
    ({'gt_size': 0}, 'gt_size'),
    ({'in_size': 12.5}, 'in_size'),
    ({'mean': [0.5, 0.5]}, 'mean'),
    ({'std': [0.5, 0, 0.5]}, 'std'),
    ({'std': [0.5, -0.5, 0.5]}, 'std'),
    ({'seed': -1}, 'seed'),
    ({'blur_kernel_size': 40}, 'blur_kernel_size'),
    ({'jpeg_range': [5, 500]}, 'jpeg_range'),
    ({'downsample_range': 'big'}, 'downsample_range'),
])
def test_bad_options_name_the_option(folder, opt, match):
    with pytest.raises(ValueError, match=match):
        dataset(folder, **opt)


def test_udrl_needs_two_faces(tmp_path):
    make_face_folder(tmp_path, 1, SIZE)
    with pytest.raises(ValueError, match='at least 2 faces'):
        dataset(tmp_path, cls=UDRLPairDataset)


def test_outputs_never_wrong_size_over_a_mixed_folder(folder):
    cv2.imwrite(str(folder / '0001.png'), draw_face(SIZE * 3, 1))
    shutil.copy(folder / '0000.png', folder / 'copy.png')
    (folder / 'z.png').write_bytes(b'bad')
    loader = torch.utils.data.DataLoader(dataset(folder), batch_size=5)
    batch = next(iter(loader))
    assert batch['gt'].shape == (5, 3, SIZE, SIZE) and batch['lq'].shape == (5, 3, 32, 32)


def test_many_bad_files_give_one_warning_each(tmp_path, caplog_basicsr):
    """40 unreadable files of 64, read over and over: one warning per bad file, not one per skip."""
    make_face_folder(tmp_path, 64, 16)
    for i in range(0, 64, 8):
        for j in range(5):
            (tmp_path / f'{i + j:04d}.png').write_bytes(b'')
    ds = dataset(tmp_path, gt_size=16, in_size=8)
    for _ in range(4):
        for index in range(len(ds)):
            ds[index]
    warnings = [r for r in caplog_basicsr.records if 'Skipped bad image' in r.getMessage()]
    assert len(warnings) == len(ds.source.bad) == 40
    assert ds.source.num_skipped > 40
