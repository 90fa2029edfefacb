"""panini-compare tables: GFP-GAN's CelebA-Test column order with the published row, the real-world table
(FID and NIQE per set), runs made by panini-eval, malformed summaries named; the console scripts resolve."""
import csv
import importlib
import json
import os
import re

import cv2
import pytest

import panini_arch  # noqa: F401
from helpers import REPO
from panini_arch.data.synthetic_faces import make_face_folder
from panini_arch.evaluation.compare_command import main as compare
from panini_arch.evaluation.external import evaluate_outputs
from panini_arch.evaluation.published import DATASET_RESULTS, GFPGAN_PAPER, REAL_WORLD

GFPGAN_ORDER = ['lpips', 'fid', 'niqe', 'deg', 'lmd', 'psnr', 'ssim']


def summary(method, dataset, metrics, gt_folder='/data/gt', **extra):
    """A run summary as scripts/test.py writes it (values are made up)."""
    run = {'name': method.lower(), 'method': method, 'paper': None, 'random_weights': False, 'dataset': dataset,
           'lq_folder': None, 'gt_folder': gt_folder, 'results_folder': None, 'num_images': 3,
           'images_per_second': 1.5, 'device': 'cpu', 'images': ['a', 'b', 'c'],
           'metrics': {name: ({'value': value} if value is not None else {'value': None, 'needs_gt': True})
                       for name, value in metrics.items()}}
    run.update(extra)
    return run


def write(folder, name, run):
    path = folder / name
    path.write_text(json.dumps(run), encoding='utf-8')
    return str(path)


def read_csv(path):
    with open(path, encoding='utf-8') as f:
        return list(csv.DictReader(f))


def test_celeba_test_columns_in_gfpgan_order_beside_the_published_row(tmp_path):
    scrambled = {'identity': 0.5, 'ssim': 0.61, 'psnr': 24.5, 'lmd': 2.7, 'deg': 36.1, 'niqe': 4.3, 'fid': 44.0,
                 'lpips': 0.37}
    runs = [write(tmp_path, 'a.json', summary('Ours', 'CelebA-Test', scrambled)),
            write(tmp_path, 'b.json', summary('GPEN', 'CelebA-Test', dict(reversed(scrambled.items()))))]
    compare(runs + ['--out', str(tmp_path / 'out')])
    rows = read_csv(tmp_path / 'out' / 'comparison.csv')
    assert list(rows[0])[:3 + 8] == ['method', 'dataset', 'images'] + GFPGAN_ORDER + ['identity']
    assert [row['method'] for row in rows] == ['Ours', 'GPEN', GFPGAN_PAPER]
    assert rows[0]['deg'] == '36.10' and rows[0]['ssim'] == '0.6100'
    published = DATASET_RESULTS['CelebA-Test'][GFPGAN_PAPER]
    assert [rows[2][name] for name in GFPGAN_ORDER] == [f'{published[n]:.4f}' if published[n] < 10
                                                        else f'{published[n]:.2f}' for n in GFPGAN_ORDER]
    assert rows[2]['identity'] == '-' and rows[2]['notes'] == 'published'
    assert not (tmp_path / 'out' / 'realworld.csv').exists()


def test_real_world_table_has_fid_and_niqe_per_set_and_the_published_numbers(tmp_path):
    runs = [write(tmp_path, f'{m}_{s}.json', summary(m, s, {'psnr': None, 'fid': fid, 'niqe': niqe}, gt_folder=None))
            for m, s, fid, niqe in (('Ours', 'WIDER-Test', 40.5, 3.9), ('Ours', 'LFW-Test', 50.25, 4.1),
                                    ('GPEN', 'LFW-Test', 51.0, 4.2))]
    compare(runs + ['--out', str(tmp_path / 'out')])
    rows = read_csv(tmp_path / 'out' / 'realworld.csv')
    assert list(rows[0]) == ['method', 'LFW-Test FID', 'LFW-Test NIQE', 'WIDER-Test FID', 'WIDER-Test NIQE']
    assert rows[0] == {'method': 'Ours', 'LFW-Test FID': '50.25', 'LFW-Test NIQE': '4.1000',
                       'WIDER-Test FID': '40.50', 'WIDER-Test NIQE': '3.9000'}
    assert rows[1]['WIDER-Test FID'] == '-'  # GPEN was not run on WIDER-Test
    lfw = REAL_WORLD[GFPGAN_PAPER]['LFW-Test']
    assert rows[2] == {'method': GFPGAN_PAPER, 'LFW-Test FID': f"{lfw['fid']:.2f}",
                       'LFW-Test NIQE': f"{lfw['niqe']:.4f}", 'WIDER-Test FID': '-', 'WIDER-Test NIQE': '-'}
    markdown = (tmp_path / 'out' / 'comparison.md').read_text()
    assert '## Real-world sets' in markdown and 'not computed' not in markdown
    assert not (tmp_path / 'out' / 'comparison.csv').exists()  # no run with GT


def test_runs_made_by_panini_eval_are_tabled_with_a_grid(tmp_path, capsys):
    make_face_folder(str(tmp_path / 'gt'), 2, 32)
    make_face_folder(str(tmp_path / 'restored'), 2, 32, seed=5)
    evaluate_outputs(str(tmp_path / 'restored'), str(tmp_path / 'gt'), 'elsewhere', str(tmp_path / 'results'),
                     dataset='CelebA-Test', echo=lambda *a: None)
    evaluate_outputs(str(tmp_path / 'restored'), None, 'wild', str(tmp_path / 'results'),
                     metric_opts={'psnr': dict(type='calculate_psnr', crop_border=0)}, dataset='LFW-Test',
                     echo=lambda *a: None)
    compare([str(tmp_path / 'results' / 'elsewhere'), str(tmp_path / 'results' / 'wild'),
             '--out', str(tmp_path / 'out'), '--cell', '32'])
    rows = read_csv(tmp_path / 'out' / 'comparison.csv')
    assert rows[0]['method'] == 'elsewhere' and rows[0]['images/s'] == 'n/a' and float(rows[0]['psnr']) > 0
    assert list(rows[0])[3:5] == ['psnr', 'ssim']
    assert read_csv(tmp_path / 'out' / 'realworld.csv')[0] == {'method': 'wild', 'LFW-Test FID': '-',
                                                              'LFW-Test NIQE': '-'}
    grid = cv2.imread(str(tmp_path / 'out' / 'grid.png'))
    assert grid.shape == (2 * (32 + 24), 2 * 32, 3)  # no LQ column (restored elsewhere): method | GT


@pytest.mark.parametrize('content, reason', [('{"method": "x", ', 'malformed JSON'), ('[1, 2]', 'a JSON list'),
                                             ('{"method": "x", "dataset": "d", "metrics": {}}', "'num_images'"),
                                             (b'\xff\xfe\x00', 'malformed JSON')])
def test_malformed_summary_is_named_and_the_rest_still_tabled(tmp_path, capsys, content, reason):
    bad = tmp_path / 'metrics_bad.json'
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    good = write(tmp_path, 'good.json', summary('Ours', 'CelebA-Test', {'psnr': 20.0}))
    with pytest.raises(SystemExit) as exit_info:
        compare([good, str(bad), '--out', str(tmp_path / 'out')])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert str(bad) in err and reason in err
    assert [row['method'] for row in read_csv(tmp_path / 'out' / 'comparison.csv')][0] == 'Ours'


def test_only_malformed_summaries_exit_1_without_tables(tmp_path, capsys):
    (tmp_path / 'metrics_x.json').write_text('nope', encoding='utf-8')
    with pytest.raises(SystemExit) as exit_info:
        compare([str(tmp_path), '--out', str(tmp_path / 'out')])
    assert exit_info.value.code == 1 and 'metrics_x.json' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_console_scripts_resolve_to_package_mains():
    text = open(os.path.join(REPO, 'setup.py'), encoding='utf-8').read()
    entries = dict(re.findall(r"'(panini-[a-z]+)=([\w.]+:\w+)'", text))
    assert entries['panini-eval'] == 'panini_arch.evaluation.evaluate_command:main'
    assert entries['panini-compare'] == 'panini_arch.evaluation.compare_command:main'
    for target in entries.values():
        module, function = target.split(':')
        assert callable(getattr(importlib.import_module(module), function)), target
    for script, module in (('evaluate_outputs', 'evaluate_command'), ('compare', 'compare_command')):
        wrapper = open(os.path.join(REPO, 'scripts', f'{script}.py'), encoding='utf-8').read()
        assert f'from panini_arch.evaluation.{module} import main' in wrapper
