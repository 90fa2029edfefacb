"""Sets without ground truth (real-world sets): no-reference metrics computed, full-reference ones listed as
needing GT, through the metric runner, scripts/test.py (SingleImageDataset) and panini-eval without --gt."""
import glob
import json
import os
import sys

import cv2
import numpy as np
import pytest
import yaml

import panini_arch  # noqa: F401
from basicsr.metrics import calculate_psnr
from basicsr.metrics.niqe import calculate_niqe
from helpers import REPO, load_script, read_options
from panini_arch.archs.presets import PRESETS
from panini_arch.data.synthetic_faces import make_face_folder
from panini_arch.evaluation.evaluate_command import options_dataset
from panini_arch.metrics.metric_runner import MetricRunner
from panini_arch.models.option_checks import OptionError, check_options
from panini_arch.utils.safe_load import load_options

REAL_WORLD_OPTIONS = sorted(glob.glob(os.path.join(REPO, 'options', 'test_realworld_*.yml')))
METRICS = {
    'psnr': dict(type='calculate_psnr', crop_border=0, test_y_channel=False),
    'niqe': dict(type='calculate_niqe', crop_border=0),
    'ssim': dict(type='calculate_ssim', crop_border=0, test_y_channel=False),
}
SIZE = 192  # NIQE needs more than 128 px


def faces(seed, count=2, size=SIZE):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


def test_runner_without_gt_computes_niqe_and_marks_full_reference_metrics():
    imgs = faces(0)
    runner = MetricRunner(dict(METRICS, fid=dict(type='FID', extractor=lambda x: x.flatten(1)[:, :4])))
    runner.update_batch(imgs, None, ['a', 'b'])
    results = runner.results()
    assert list(results) == ['psnr', 'niqe', 'ssim', 'fid']
    for name in ('psnr', 'ssim', 'fid'):  # FID without reference_stats compares with the GT set
        assert results[name] == {'value': None, 'needs_gt': True}
    assert results['niqe']['value'] == pytest.approx(np.mean([calculate_niqe(img, 0) for img in imgs]))
    assert not runner.failures and not runner.skipped


def test_update_batch_equals_per_image_updates():
    imgs, gts = faces(1), faces(2)
    batched, single = MetricRunner(METRICS), MetricRunner(METRICS)
    batched.update_batch(imgs, gts, ['a', 'b'])
    for img, gt, name in zip(imgs, gts, 'ab'):
        single.update(img, gt, name)
    assert batched.results() == single.results()
    assert batched.results()['psnr']['value'] == pytest.approx(np.mean([calculate_psnr(i, g, 0)
                                                                         for i, g in zip(imgs, gts)]))


@pytest.mark.parametrize('path', REAL_WORLD_OPTIONS, ids=os.path.basename)
def test_shipped_real_world_options_pass_the_option_checks(path, tmp_path):
    opt = load_options(path)
    names = [dataset['name'] for dataset in opt['datasets'].values()]
    assert names == ['LFW-Test', 'CelebChild-Test', 'WebPhoto-Test', 'WIDER-Test']
    assert set(opt['val']['metrics']) == {'fid', 'niqe'} and opt['val']['metrics']['fid']['reference_stats']
    for dataset in opt['datasets'].values():
        assert dataset['type'] == 'SingleImageDataset' and 'dataroot_gt' not in dataset
        dataset['dataroot_lq'] = str(tmp_path)
    check_options(opt, path)
    opt['datasets']['test_1']['dataroot_lq'] = str(tmp_path / 'missing')
    with pytest.raises(OptionError, match='test_1.dataroot_lq'):
        check_options(opt, path)


def test_paired_dataset_without_gt_points_to_single_image_dataset(tmp_path):
    opt = read_options('test_panini_fr')
    opt['datasets']['test'].pop('dataroot_gt')
    opt['datasets']['test']['dataroot_lq'] = str(tmp_path)
    with pytest.raises(OptionError, match='SingleImageDataset'):
        check_options(opt)


def test_test_script_scores_a_set_without_gt(tmp_path, monkeypatch):
    make_face_folder(str(tmp_path / 'lq'), 2, 64)
    opt = read_options('test_realworld_panini_fr_official')
    opt.update(name='realworld_tiny', network_g=dict(type='PaniniNet', **PRESETS['tiny']), random_weights=True,
               num_gpu=0, path={'pretrain_network_g': None})
    opt['datasets'] = {'test_1': dict(opt['datasets']['test_1'], dataroot_lq=str(tmp_path / 'lq'))}
    opt['val'].update(input_size=64, output_size=SIZE, num_workers=0, metrics=METRICS)
    path = tmp_path / 'realworld.yml'
    path.write_text(yaml.dump(dict(opt)), encoding='utf-8')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'argv', ['scripts/test.py', '-opt', str(path)])
    load_script('test').main()  # no SystemExit: needs-GT metrics are no failures
    summary = json.loads((tmp_path / 'results' / 'realworld_tiny' / 'metrics_LFW-Test.json').read_text())
    assert summary['gt_folder'] is None and summary['num_images'] == 2 and summary['failed'] == []
    assert summary['metrics']['psnr'] == summary['metrics']['ssim'] == {'value': None, 'needs_gt': True}
    saved = sorted((tmp_path / 'results' / 'realworld_tiny' / 'visualization' / 'LFW-Test').iterdir())
    images = [cv2.imread(str(p)) for p in saved]
    assert [img.shape for img in images] == [(SIZE, SIZE, 3)] * 2  # resized to val.output_size
    assert summary['metrics']['niqe']['value'] == pytest.approx(np.mean([calculate_niqe(img, 0) for img in images]))


def test_unreadable_face_in_the_first_set_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    for name in ('a', 'b'):
        make_face_folder(str(tmp_path / name), 2, 64)
    (tmp_path / 'a' / '0001.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    opt = read_options('test_realworld_panini_fr_official')
    opt.update(name='two_sets', network_g=dict(type='PaniniNet', **PRESETS['tiny']), random_weights=True,
               num_gpu=0, path={'pretrain_network_g': None})
    opt['datasets'] = {f'test_{i}': dict(opt['datasets'][f'test_{i}'], dataroot_lq=str(tmp_path / name))
                       for i, name in ((1, 'a'), (2, 'b'))}
    opt['val'].update(input_size=64, output_size=64, num_workers=0, save_img=False,
                      metrics={'psnr': METRICS['psnr']})
    path = tmp_path / 'two.yml'
    path.write_text(yaml.dump(dict(opt)), encoding='utf-8')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'argv', ['scripts/test.py', '-opt', str(path)])
    with pytest.raises(SystemExit) as exit_info:
        load_script('test').main()
    assert exit_info.value.code == 1 and '0001.png' in capsys.readouterr().err
    first, second = (json.loads((tmp_path / 'results' / 'two_sets' / f'metrics_{name}.json').read_text())
                     for name in ('LFW-Test', 'CelebChild-Test'))
    assert (first['num_images'], len(first['failed']), second['num_images'], second['failed']) == (1, 1, 2, [])


def test_evaluate_outputs_without_gt_exits_0_with_needs_gt_entries(tmp_path):
    make_face_folder(str(tmp_path / 'WebPhoto-Test'), 3, SIZE)
    opt = tmp_path / 'opt.yml'
    opt.write_text(yaml.dump({'val': {'metrics': METRICS}}), encoding='utf-8')
    load_script('evaluate_outputs').main(['--restored', str(tmp_path / 'WebPhoto-Test'), '--name', 'codeformer',
                                          '--opt', str(opt), '--results_root', str(tmp_path / 'results'),
                                          '--batch_size', '2'])
    summary = json.loads((tmp_path / 'results' / 'codeformer' / 'metrics_WebPhoto-Test.json').read_text())
    assert summary['gt_folder'] is None and summary['images'] == ['0000', '0001', '0002']
    assert summary['metrics']['psnr'] == {'value': None, 'needs_gt': True}
    images = [cv2.imread(str(tmp_path / 'WebPhoto-Test' / f'000{i}.png')) for i in range(3)]
    assert summary['metrics']['niqe']['value'] == pytest.approx(np.mean([calculate_niqe(img, 0) for img in images]))
    load_script('evaluate_outputs').main(['--restored', str(tmp_path / 'WebPhoto-Test'), '--name', 'default',
                                          '--results_root', str(tmp_path / 'results')])
    shipped = os.path.join(REPO, 'options', 'test_realworld_gpen_bfr_512.yml')  # four sets: picked by folder name
    assert options_dataset(load_options(shipped), str(tmp_path / 'WebPhoto-Test')) == 'WebPhoto-Test'
    assert options_dataset(load_options(shipped), str(tmp_path / 'mine')) is None
    summary = json.loads((tmp_path / 'results' / 'default' / 'metrics_WebPhoto-Test.json').read_text())
    assert list(summary['metrics']) == ['niqe'] and summary['metrics']['niqe']['value'] > 0
