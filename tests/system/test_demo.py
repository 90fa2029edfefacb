"""The offline demo (``scripts/demo*.py``): its face set, curves, report wording and a ``--quick`` end-to-end run."""
import os
import re

import cv2
import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from demo import main
from demo_faces import build_face_set, lfw_faces, tint, user_face_set
from demo_report import theta_reading
from demo_training import panini_options, read_curves


def pngs(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith('.png'))


def test_face_set_holds_out_test_faces(tmp_path):
    train, test = build_face_set(str(tmp_path), size=64, copies=1, test_lfw=3)
    assert pngs(test) == ['grace_hopper.png', 'lfw097.png', 'lfw098.png', 'lfw099.png']
    train_sources = {name.split('_')[0] for name in pngs(train)}
    assert 'astronaut' in train_sources and 'grace' not in train_sources
    assert not {'lfw097', 'lfw098', 'lfw099'} & train_sources
    with open(os.path.join(train, 'meta_info.txt'), encoding='utf-8') as f:
        assert len(f.read().splitlines()) == len(pngs(train))
    face = cv2.imread(os.path.join(test, 'grace_hopper.png'))
    assert face.shape == (64, 64, 3) and face.std() > 20


def test_tint_colours_a_grey_face_and_keeps_its_lightness():
    grey = lfw_faces(64)[0]
    tinted = tint(grey, np.random.default_rng(0))
    assert tinted.shape == grey.shape and tinted.dtype == np.uint8
    lab_grey, lab_tinted = (cv2.cvtColor(x, cv2.COLOR_BGR2LAB).astype(float) for x in (grey, tinted))
    assert np.abs(lab_grey[..., 1:] - 128).max() <= 1  # grey in: no chroma
    assert (lab_tinted[..., 1:] - 128).mean() > 4  # out: warm, skin-like chroma
    assert np.abs(lab_tinted[..., 0] - lab_grey[..., 0]).mean() < 6


def test_lfw_training_copies_are_grey_then_tinted(tmp_path):
    train, _ = build_face_set(str(tmp_path), size=64, copies=4, test_lfw=3)
    first, second = (cv2.imread(os.path.join(train, f'lfw000_{k}.png')).astype(int) for k in (0, 1))
    assert np.abs(first - first[..., :1]).max() <= 1  # B = G = R
    assert np.abs(second - second[..., :1]).mean() > 3


def test_user_faces_are_split_and_resized(tmp_path):
    hq = tmp_path / 'hq'
    hq.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        cv2.imwrite(str(hq / f'p{i}.jpg'), rng.integers(0, 255, (200, 200, 3), dtype=np.uint8))
    train, test = user_face_set(str(hq), str(tmp_path / 'out'), size=64, test_fraction=0.2, copies=2)
    test_names = {name[:-4] for name in pngs(test)}
    assert len(test_names) == 2 and len(pngs(train)) == 16
    assert not test_names & {name.rsplit('_', 1)[0] for name in pngs(train)}
    assert cv2.imread(os.path.join(train, pngs(train)[0])).shape == (64, 64, 3)


def test_curves_come_from_the_tensorboard_events_basicsr_writes(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    for it in (1, 2):
        writer.add_scalar('losses/l_infonce', 1.0 / it, it)  # what BasicSR's MessageLogger writes
        writer.add_scalar('acc_top1', 0.5 * it, it)
    writer.add_scalar('metrics/faces/psnr', 21.5, 2)
    writer.close()
    curves = read_curves(tmp_path)
    assert curves['train'] == [(1, {'l_infonce': 1.0, 'acc_top1': 0.5}), (2, {'l_infonce': 0.5, 'acc_top1': 1.0})]
    assert curves['val'] == [(2, {'psnr': 21.5})]


def test_theta_reading_states_what_the_numbers_show():
    def rows(means, std):
        return [{'r_paper': r, 'theta_mean': m, 'theta_std': std} for r, m in zip((16, 32, 64, 128), means)]

    assert 'flat' in theta_reading(rows([0.337] * 4, 0.001))
    assert 'no trend' in theta_reading(rows([0.30, 0.31, 0.32, 0.33], 0.05))
    assert 'rises with r' in theta_reading(rows([0.30, 0.40, 0.50, 0.60], 0.05))
    assert 'falls with r' in theta_reading(rows([0.60, 0.50, 0.40, 0.30], 0.05))


def test_demo_panini_options_carry_ranges_dre_size_and_ife_width(tmp_path):
    train, test = build_face_set(str(tmp_path), size=64, copies=1, test_lfw=3)
    panini = panini_options(train, test, 10, 'dre.pth', 16, 2e-3, 2, ranges={'downsample_range': [1.25, 8]})
    for phase in ('train', 'val'):
        dataset = panini['datasets'][phase]
        assert dataset['downsample_range'] == [1.25, 8] and dataset['noise_range'] == [0, 25]
        assert dataset['dataroot_gt'] == (train if phase == 'train' else test)
    assert panini['network_g']['rrdb_channels'] == 16 and panini['network_g']['dre_pool_size'] == 16
    template = panini_options(train, test, 10, 'dre.pth', 16, 2e-3, 2)  # no ranges: the template's
    assert template['datasets']['train']['downsample_range'] == [1.25, 25]


@pytest.mark.slow
def test_quick_demo_writes_a_report_whose_images_exist(tmp_path, capsys):
    report = main(['--quick', '-o', str(tmp_path / 'demo')])
    assert report == str(tmp_path / 'demo' / 'index.html')
    assert f'Report: {report}' in capsys.readouterr().out
    with open(report, encoding='utf-8') as f:
        page = f.read()
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) >= 4 * 4 + 4 * 2 + 2
    for src in sources:
        assert not src.startswith(('http:', 'https:', '/')), src
        assert os.path.isfile(tmp_path / 'demo' / src), src
    scores = r'<td>\d+\.\d\d</td><td>\d+\.\d\d</td><td>-?[01]\.\d{3}</td><td>-?[01]\.\d{3}</td></tr>'
    assert len(re.findall(scores, page)) == 4
    assert len(re.findall(r'<tr><td>\d+</td><td>[\d.]+</td><td>[\d.]+ &plusmn;', page)) == 4
    for name in ('grace_hopper', 'lfw097', 'lfw098', 'lfw099'):
        assert name in page
    assert 'Paper (Table 4): theta rises with degradation' in page and 'This net: theta' in page
    assert 'rises with degradation</h2>' not in page
