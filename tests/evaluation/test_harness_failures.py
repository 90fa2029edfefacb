"""scripts/test.py: one bad pair or one failing metric costs only itself; the rest is written, the exit status is 1."""
import json
import os

import numpy as np

import panini_arch  # noqa: F401
from helpers import harness_options, write_pairs
from panini_arch import test as test_entry
from panini_arch.metrics.metric_runner import MetricRunner


def test_metric_failing_on_one_image_is_recorded_and_the_others_computed():
    rng = np.random.default_rng(0)
    textured = (rng.random((192, 192, 3)) * 255).astype(np.uint8)
    flat = np.full((192, 192, 3), 128, np.uint8)
    runner = MetricRunner({'niqe': {'type': 'calculate_niqe', 'crop_border': 0},
                           'psnr': {'type': 'calculate_psnr', 'crop_border': 0}})
    runner.update(textured, textured, 'good.png')
    runner.update(flat, textured, 'flat.png')
    results = runner.results()
    assert results['niqe']['value'] > 0 and [f['image'] for f in results['niqe']['failed']] == ['flat.png']
    assert 'LinAlgError' in results['niqe']['failed'][0]['reason']
    assert results['psnr']['value'] is not None and 'failed' not in results['psnr']


def test_bad_pairs_and_failing_metric_leave_every_other_result_written(tmp_path, run_entry, capsys):
    write_pairs(tmp_path, ['a.png', 'b.png', 'c.png', 'd.png', 'e.png'])
    (tmp_path / 'GT' / 'b.png').write_bytes(b'')  # 0-byte GT
    data = (tmp_path / 'LQ' / 'd.png').read_bytes()
    (tmp_path / 'LQ' / 'd.png').write_bytes(data[:len(data) // 2])  # truncated LQ
    metrics = {'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False},
               'niqe': {'type': 'calculate_niqe', 'crop_border': 0}}  # NIQE fails on 128 px images
    assert run_entry(test_entry.main, harness_options(tmp_path, metrics)) == 1
    summary = json.loads((tmp_path / 'results' / 'bad_neighbours' / 'metrics_CelebA-HQ-MFR.json').read_text())
    assert summary['num_images'] == 3 and summary['metrics']['psnr']['value'] > 0
    failed = {os.path.basename(item['image'].split(' / ')[0]): item['reason'] for item in summary['failed']}
    assert set(failed) == {'b.png', 'd.png'}
    assert 'empty' in failed['b.png'] and 'truncated PNG' in failed['d.png']
    assert len(summary['metrics']['niqe']['failed']) == 3
    images = sorted(os.listdir(tmp_path / 'results' / 'bad_neighbours' / 'visualization' / 'CelebA-HQ-MFR'))
    assert images == ['a.png', 'c.png', 'e.png']
    err = capsys.readouterr().err
    assert 'FAILED' in err and '3 image(s) evaluated, 2 failed' in err and 'metric niqe on a.png' in err
