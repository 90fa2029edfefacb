"""make_lmdb, generate_test_set, generate_theta_set: layout, resume, reproducibility, folder == LMDB."""
import csv
import filecmp
import os
import runpy
import sys

import cv2
import lmdb
import numpy as np
import pytest
import torch

import panini_arch  # noqa: F401  (first: makes basicsr importable)
from basicsr.utils.lmdb_util import make_lmdb_from_imgs
from helpers import FACES, REPO
from panini_arch.data.degradation import degrade_uint8
from panini_arch.data.lmdb_builder import make_lmdb
from panini_arch.data.panini_degradation_dataset import PaniniDegradationDataset
from panini_arch.data.synthetic_faces import draw_face, make_face_folder
from panini_arch.data.eval_sets import generate_test_set, generate_theta_set
from panini_arch.data.udrl_pair_dataset import UDRLPairDataset


def _tree_equal(a, b):
    cmp = filecmp.dircmp(a, b)
    files = [os.path.relpath(os.path.join(d, f), a) for d, _, fs in os.walk(a) for f in fs]
    same = all(filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False) for f in files)
    return same and not cmp.left_only and not cmp.right_only


def test_make_lmdb_layout_and_folder_equals_lmdb(tmp_path):
    db = str(tmp_path / 'tiny.lmdb')
    result = make_lmdb(FACES, db, progress=False)
    assert result == {'written': 16, 'kept': 0, 'bad': []}
    assert os.path.isfile(os.path.join(db, 'data.mdb'))
    with open(os.path.join(db, 'meta_info.txt')) as f:
        lines = f.read().splitlines()
    assert lines[0] == '0000.png (128,128,3)' and len(lines) == 16
    common = {'gt_size': 128, 'in_size': 64, 'deterministic': True, 'seed': 4, 'use_hflip': True}
    from_db = PaniniDegradationDataset({'dataroot_gt': db, 'io_backend': {'type': 'lmdb'}, **common})
    from_disk = PaniniDegradationDataset({'dataroot_gt': FACES, 'meta_info': os.path.join(db, 'meta_info.txt'),
                                          'io_backend': {'type': 'disk'}, **common})
    for i in range(16):
        a, b = from_db[i], from_disk[i]
        assert torch.equal(a['lq'], b['lq']) and torch.equal(a['gt'], b['gt'])
        assert torch.equal(a['deg_params'], b['deg_params'])
    pair_db = UDRLPairDataset({'dataroot_gt': db, 'io_backend': {'type': 'lmdb'}, **common})[2]
    pair_disk = UDRLPairDataset({'dataroot_gt': FACES, 'io_backend': {'type': 'disk'}, **common})[2]
    assert torch.equal(pair_db['key'], pair_disk['key'])


def test_reads_an_lmdb_made_by_basicsr(tmp_path):
    names = sorted(f for f in os.listdir(FACES) if f.endswith('.png'))[:4]
    db = str(tmp_path / 'basicsr.lmdb')
    make_lmdb_from_imgs(FACES, db, names, [os.path.splitext(n)[0] for n in names])
    common = {'gt_size': 128, 'in_size': 64, 'deterministic': True}
    from_db = PaniniDegradationDataset({'dataroot_gt': db, 'io_backend': {'type': 'lmdb'}, **common})
    from_disk = PaniniDegradationDataset({'dataroot_gt': FACES, 'meta_info': os.path.join(db, 'meta_info.txt'),
                                          **common})
    assert len(from_db) == 4
    assert all(torch.equal(from_db[i]['lq'], from_disk[i]['lq']) for i in range(4))


def test_make_lmdb_resumes_and_skips_bad_files(tmp_path):
    src = tmp_path / 'src'
    make_face_folder(src, 5, 32)
    (src / 'broken.png').write_bytes(b'not an image')
    db = str(tmp_path / 'x.lmdb')
    assert make_lmdb(str(src), db, commit_every=2, progress=False)['bad'] == ['broken.png']
    make_face_folder(src, 7, 32)
    result = make_lmdb(str(src), db, commit_every=2, progress=False)
    assert (result['written'], result['kept']) == (2, 5)
    with open(os.path.join(db, 'meta_info.txt')) as f:
        assert [line.split()[0] for line in f] == [f'{i:04d}.png' for i in range(7)]
    env = lmdb.open(db, readonly=True, lock=False)
    with env.begin() as txn:
        data = txn.get(b'0006')
    env.close()
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), draw_face(32, 6))


def test_make_lmdb_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='.lmdb'):
        make_lmdb(FACES, str(tmp_path / 'out'))
    with pytest.raises(FileNotFoundError, match='input folder'):
        make_lmdb(str(tmp_path / 'nope'), str(tmp_path / 'o.lmdb'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images'):
        make_lmdb(str(tmp_path / 'empty'), str(tmp_path / 'o.lmdb'))
    make_face_folder(tmp_path / 'dup', 1, 32)
    cv2.imwrite(str(tmp_path / 'dup' / '0000.jpg'), draw_face(32, 0))
    with pytest.raises(ValueError, match='same key'):
        make_lmdb(str(tmp_path / 'dup'), str(tmp_path / 'o.lmdb'))


def test_generate_test_set_layout_params_and_reproducible(tmp_path):
    n = generate_test_set(FACES, str(tmp_path / 'a'), seed=2, gt_size=128, in_size=64, limit=6)
    generate_test_set(FACES, str(tmp_path / 'b'), seed=2, gt_size=128, in_size=64, limit=6)
    generate_test_set(FACES, str(tmp_path / 'c'), seed=3, gt_size=128, in_size=64, limit=6)
    assert n == 6 and _tree_equal(str(tmp_path / 'a'), str(tmp_path / 'b'))
    assert not filecmp.cmp(tmp_path / 'a' / 'params.csv', tmp_path / 'c' / 'params.csv', shallow=False)
    with open(tmp_path / 'a' / 'params.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['name'] for r in rows] == [f'{i:04d}.png' for i in range(6)]
    assert all(10 <= float(r['r']) <= 200 and 5 <= int(r['q']) <= 50 for r in rows)
    lq = cv2.imread(str(tmp_path / 'a' / 'LQ' / '0004.png'))
    assert lq.shape == (64, 64, 3)
    ds = PaniniDegradationDataset({'dataroot_gt': FACES, 'gt_size': 128, 'in_size': 64, 'deterministic': True,
                                   'seed': 2})
    np.testing.assert_array_equal(lq, ds.degrade(4)[1])
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'a' / 'GT' / '0004.png')), cv2.imread(ds.degrade(4)[3]))


def test_generate_sr16_test_set(tmp_path):
    make_face_folder(tmp_path / 'hq', 2, 256)
    generate_test_set(str(tmp_path / 'hq'), str(tmp_path / 'sr'), gt_size=256, scale=16)
    assert cv2.imread(str(tmp_path / 'sr' / 'LQ' / '0001.png')).shape == (16, 16, 3)
    with open(tmp_path / 'sr' / 'params.csv') as f:
        assert f.read().splitlines()[1] == '0000.png,16.0,0.0,0.0,100'


def test_generate_theta_set_fixed_params_and_r_sweep(tmp_path):
    generate_theta_set(FACES, str(tmp_path / 't'), seed=1, gt_size=128, in_size=64, rs=(2, 4, 8), fixed={'q': 60},
                       limit=2)
    with open(tmp_path / 't' / 'params.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['name'] for r in rows[:3]] == ['r002/0000.png', 'r004/0000.png', 'r008/0000.png']
    assert len({(r['sigma'], r['delta'], r['q']) for r in rows[:3]}) == 1 and rows[0]['q'] == '60'
    assert rows[0]['sigma'] != rows[3]['sigma']
    gt = cv2.imread(str(tmp_path / 't' / 'GT' / '0000.png'))
    params = {'r': 4.0, 'sigma': float(rows[1]['sigma']), 'delta': float(rows[1]['delta']), 'q': 60}
    ref = degrade_uint8(gt, params, 64, 41, np.random.default_rng([1, 0, 4000]))
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 't' / 'LQ' / 'r004' / '0000.png')), ref)
    errors = [(psnr_gap(gt, tmp_path / 't' / 'LQ' / f'r{r:03d}' / '0000.png')) for r in (2, 4, 8)]
    assert errors[0] < errors[1] < errors[2]
    with pytest.raises(ValueError, match='sigma, delta, q'):
        generate_theta_set(FACES, str(tmp_path / 'u'), gt_size=128, fixed={'r': 3})
    with pytest.raises(ValueError, match='rs'):
        generate_theta_set(FACES, str(tmp_path / 'u'), gt_size=128, rs=(16, 16))


def psnr_gap(gt, lq_path):
    """Mean squared error of the LQ upsampled to the GT size."""
    lq = cv2.resize(cv2.imread(str(lq_path)), gt.shape[:2][::-1], interpolation=cv2.INTER_LINEAR)
    return float(np.mean((lq.astype(np.float64) - gt)**2))


def run_script(name, *args, monkeypatch):
    """Run ``scripts/<name>`` as ``__main__`` in this process (a subprocess would re-import torch)."""
    monkeypatch.setattr(sys, 'argv', [name, *map(str, args)])
    runpy.run_path(os.path.join(REPO, 'scripts', name), run_name='__main__')


def test_scripts_command_line_byte_identical_reruns(tmp_path, monkeypatch, capsys):
    for out in ('x', 'y'):
        run_script('generate_test_set.py', FACES, tmp_path / out, '--gt-size', 128, '--in-size', 64, '--limit', 4,
                   '--noise-range', 'off', '--jpeg-range', '30,30', monkeypatch=monkeypatch)
    assert _tree_equal(str(tmp_path / 'x'), str(tmp_path / 'y'))
    with open(tmp_path / 'x' / 'params.csv') as f:
        assert all(row['delta'] == '0.0' and row['q'] == '30' for row in csv.DictReader(f))
    run_script('generate_theta_set.py', FACES, tmp_path / 'th', '--gt-size', 128, '--in-size', 32, '--limit', 1,
               '--sigma', 2, '--delta', 5, '--q', 30, monkeypatch=monkeypatch)
    assert sorted(os.listdir(tmp_path / 'th' / 'LQ')) == ['r016', 'r032', 'r064', 'r128']
    run_script('make_lmdb.py', FACES, tmp_path / 'f.lmdb', '--no-progress', monkeypatch=monkeypatch)
    assert '16 written' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_script('generate_test_set.py', FACES, tmp_path / 'z', '--noise-range', '1-2', monkeypatch=monkeypatch)
    assert "expected 'low,high' or 'off'" in capsys.readouterr().err


def test_list_images_sorted_by_extension_recursive_and_required(tmp_path):
    from panini_arch.utils.image_io import list_images
    for name in ('b.PNG', 'a.jpg', 'notes.txt', 'sub/c.png'):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b'')
    assert list_images(tmp_path) == [str(tmp_path / 'a.jpg'), str(tmp_path / 'b.PNG')]
    assert list_images(tmp_path, recursive=True)[-1] == str(tmp_path / 'sub' / 'c.png')
    assert list_images(tmp_path, extensions=('.txt',)) == [str(tmp_path / 'notes.txt')]
    assert list_images(tmp_path, extensions=('.gif',)) == []
    with pytest.raises(FileNotFoundError, match='No images in'):
        list_images(tmp_path, extensions=('.gif',), required=True)
    with pytest.raises(FileNotFoundError, match='Folder not found'):
        list_images(tmp_path / 'missing')
