"""End-to-end: scripts/test.py on tiny random Panini, GPEN and GFPGAN, the comparison report, and the
paper analyses (Table 4 theta, Fig. 7 fusion, mask-bias editing) on a tiny random Panini."""
import csv
import json
import os
import shutil
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml

import panini_arch  # noqa: F401
from basicsr.metrics import calculate_psnr
from cli import net_from_args
from helpers import REPO, load_script, read_options
from panini_arch.archs.presets import PRESETS
from panini_arch.data.eval_sets import generate_test_set, generate_theta_set
from panini_arch.data.synthetic_faces import make_face_folder
from panini_arch.evaluation.analysis import image_thetas, load_batch
from panini_arch.evaluation.external import evaluate_outputs
from panini_arch.metrics.resize_policy import restore, to_net_input
from panini_arch.models.face_test_model import EvaluationFailures
from panini_arch.utils.image_io import list_images

TINY_NETS = {
    'test_panini_fr': dict(type='PaniniNet', **PRESETS['tiny']),
    'test_gpen_bfr_512': dict(type='GPEN', size=64, narrow=1 / 16, style_dim=32, n_mlp=2),
    'test_gfpgan_v1.3': dict(type='GFPGANv1Clean', out_size=64, num_style_feat=32, channel_multiplier=2,
                             narrow=1 / 16, decoder_load_path=None, fix_decoder=False, num_mlp=8,
                             input_is_latent=True, different_w=True, sft_half=True),
}
TINY_ARGS = ['--arch', 'tiny', '--random_weights']
# scripts/test.py flags per method: the Panini run also goes through --precision / --channels_last
TEST_FLAGS = {'test_panini_fr': ['--precision', 'bf16', '--channels_last', 'on']}


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
    """4 synthetic faces: an MFR test set (LQ 64, GT 128) and a theta set (r = 16..128)."""
    root = tmp_path_factory.mktemp('eval')
    make_face_folder(str(root / 'hq'), 4, 128)
    generate_test_set(str(root / 'hq'), str(root / 'mfr'), seed=0, gt_size=128, in_size=64)
    generate_theta_set(str(root / 'hq'), str(root / 'theta'), seed=0, gt_size=128, in_size=64,
                       fixed={'sigma': 2.0, 'delta': 5.0, 'q': 40})
    return root


def tiny_options(name, workdir):
    """The shipped options file with a tiny random net, the 4-face set and no NIQE (images are too small)."""
    opt = read_options(name)
    opt['network_g'] = TINY_NETS[name]
    opt['path'] = {'pretrain_network_g': None}
    opt['random_weights'] = True
    opt['num_gpu'] = 0
    opt['datasets']['test'].update(dataroot_lq=str(workdir / 'mfr' / 'LQ'), dataroot_gt=str(workdir / 'mfr' / 'GT'))
    opt['val'].update(input_size=64, num_workers=0)
    del opt['val']['metrics']['niqe']
    path = workdir / f'{name}.yml'
    path.write_text(yaml.dump(dict(opt)), encoding='utf-8')
    return path


@pytest.fixture(scope='module')
def test_runs(workdir):
    """Run scripts/test.py for the three tiny methods; results under workdir/results/<name>."""
    test_script = load_script('test')
    cwd, argv = os.getcwd(), sys.argv
    try:
        os.chdir(workdir)
        for name in TINY_NETS:
            sys.argv = ['scripts/test.py', '-opt', str(tiny_options(name, workdir))] + TEST_FLAGS.get(name, [])
            test_script.main()
    finally:
        os.chdir(cwd)
        sys.argv = argv
    return {name: workdir / 'results' / name for name in TINY_NETS}


def test_test_script_writes_images_at_gt_size_and_metrics(test_runs, workdir):
    gt_folder = workdir / 'mfr' / 'GT'
    for name, run_dir in test_runs.items():
        summary = json.loads((run_dir / 'metrics_CelebA-HQ-MFR.json').read_text())
        assert summary['num_images'] == 4 and summary['random_weights'] is True
        assert summary['images_per_second'] > 0
        flags = TEST_FLAGS.get(name)
        assert (summary['precision'], summary['channels_last']) == (('bf16', True) if flags else ('fp32', False))
        psnrs = []
        for gt_path in sorted(gt_folder.iterdir()):
            restored = cv2.imread(str(run_dir / 'visualization' / 'CelebA-HQ-MFR' / gt_path.name))
            gt = cv2.imread(str(gt_path))
            assert restored.shape == gt.shape == (128, 128, 3), name  # outputs resized to the GT size
            psnrs.append(calculate_psnr(restored, gt, 0))
        assert summary['metrics']['psnr']['value'] == pytest.approx(np.mean(psnrs), rel=1e-6)
        assert 0 < summary['metrics']['ssim']['value'] < 1
        for metric, option in (('lpips', 'backbone_path'), ('fid', 'inception_path'), ('identity', 'arcface_path')):
            assert summary['metrics'][metric]['value'] is None
            assert option in summary['metrics'][metric]['not_computed']


def test_compare_writes_table_with_paper_numbers_and_grid(test_runs, workdir):
    out = workdir / 'comparison'
    load_script('compare').main([str(p) for p in test_runs.values()] + ['--out', str(out), '--cell', '64'])
    markdown = (out / 'comparison.md').read_text()
    for method in ('Panini-Net (FR)', 'GPEN-BFR-512', 'GFPGAN v1.3'):
        assert method in markdown
    assert '18.01' in markdown and '17.91' in markdown and '17.22' in markdown  # Table 1 PSNR
    with open(out / 'comparison.csv', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    assert [row['lpips'] for row in rows] == ['not computed'] * 3
    assert rows[0]['psnr (paper)'] == '18.01' and rows[0]['notes'].startswith('RANDOM WEIGHTS')
    grid = cv2.imread(str(out / 'grid.png'))
    assert grid.shape == (4 * (64 + 24), (1 + 3 + 1) * 64, 3)  # 4 faces x (LQ | 3 methods | GT)


def test_evaluate_outputs_scores_a_folder_like_the_harness_and_compare_tables_it(test_runs, workdir, capsys):
    harness = json.loads((test_runs['test_panini_fr'] / 'metrics_CelebA-HQ-MFR.json').read_text())
    restored = workdir / 'elsewhere'
    restored.mkdir()
    for index, path in enumerate(sorted((test_runs['test_panini_fr'] / 'visualization' / 'CelebA-HQ-MFR').iterdir())):
        img = cv2.imread(str(path))
        if index == 0:  # made at another size (resized to the GT size, as the policy says) and as JPEG-free PNG
            img = cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(restored / path.name), img)
    cv2.imwrite(str(restored / 'stray.png'), img)
    opt = tiny_options('test_panini_fr', workdir)
    load_script('evaluate_outputs').main(['--restored', str(restored), '--gt', str(workdir / 'mfr' / 'GT'),
                                          '--name', 'codeformer', '--opt', str(opt),
                                          '--results_root', str(workdir / 'results')])
    assert 'without a GT image (not scored): stray' in capsys.readouterr().out
    summary = json.loads((workdir / 'results' / 'codeformer' / 'metrics_CelebA-HQ-MFR.json').read_text())
    assert summary['num_images'] == 4 and summary['unmatched'] == {'restored': ['stray'], 'gt': []}
    assert set(summary['metrics']) == set(harness['metrics'])
    assert summary['metrics']['psnr']['value'] != harness['metrics']['psnr']['value']  # the resized face
    out = workdir / 'comparison_external'
    load_script('compare').main([str(test_runs['test_panini_fr']), str(workdir / 'results' / 'codeformer'),
                                 '--out', str(out), '--cell', '64'])
    markdown = (out / 'comparison.md').read_text()
    assert '| codeformer | CelebA-HQ-MFR | 4 |' in markdown and 'n/a' in markdown
    (restored / sorted(os.listdir(restored))[0]).unlink()
    (restored / 'stray.png').unlink()
    load_script('evaluate_outputs').main(['--restored', str(restored), '--gt', str(workdir / 'mfr' / 'GT'),
                                          '--name', 'same', '--opt', str(opt), '--results_root', str(workdir / 'results')])
    same = json.loads((workdir / 'results' / 'same' / 'metrics_CelebA-HQ-MFR.json').read_text())
    assert same['unmatched']['gt'] == ['0000'] and same['num_images'] == 3


def test_evaluate_outputs_scores_equal_files_exactly_as_the_harness(test_runs, workdir):
    harness = json.loads((test_runs['test_gpen_bfr_512'] / 'metrics_CelebA-HQ-MFR.json').read_text())
    summary = evaluate_outputs(str(test_runs['test_gpen_bfr_512'] / 'visualization' / 'CelebA-HQ-MFR'),
                               str(workdir / 'mfr' / 'GT'), 'gpen_again', str(workdir / 'results'),
                               dataset='CelebA-HQ-MFR', echo=lambda line: None)
    for metric in ('psnr', 'ssim'):
        assert summary['metrics'][metric]['value'] == pytest.approx(harness['metrics'][metric]['value'], rel=1e-9)
    with pytest.raises(ValueError, match='No image of'):
        evaluate_outputs(str(workdir / 'mfr' / 'LQ' / '..' / 'GT'), str(workdir / 'theta'), 'none',
                         str(workdir / 'results'), echo=lambda line: None)


def test_evaluate_outputs_skips_and_reports_an_unreadable_image(test_runs, workdir, capsys):
    restored = workdir / 'with_a_bad_file'
    shutil.copytree(test_runs['test_gpen_bfr_512'] / 'visualization' / 'CelebA-HQ-MFR', restored)
    first = sorted(restored.iterdir())[0]
    first.write_bytes(first.read_bytes()[:100])  # truncated PNG
    with pytest.raises(EvaluationFailures, match=rf'1 failed to be read.*\n  {first.stem}: .*{first.name}'):
        evaluate_outputs(str(restored), str(workdir / 'mfr' / 'GT'), 'bad', str(workdir / 'results'),
                         dataset='CelebA-HQ-MFR', echo=lambda line: None)
    summary = json.loads((workdir / 'results' / 'bad' / 'metrics_CelebA-HQ-MFR.json').read_text())
    assert summary['num_images'] == 3 and first.stem not in summary['images']
    assert summary['failed'][0]['image'] == first.stem and first.name in summary['failed'][0]['reason']
    with pytest.raises(SystemExit) as exit_info:
        load_script('evaluate_outputs').main(['--restored', str(restored), '--gt', str(workdir / 'mfr' / 'GT'),
                                              '--name', 'bad', '--results_root', str(workdir / 'results')])
    assert exit_info.value.code == 1 and first.name in capsys.readouterr().err


def test_restore_applies_the_resize_policy_and_takes_the_first_output():
    lq = torch.rand(2, 3, 32, 32)
    out = restore(lambda x: (x.flip(-1), None), lq, 64, (96, 96))
    assert out.shape == (2, 3, 96, 96) and 0 <= out.min() and out.max() <= 1
    expected = torch.nn.functional.interpolate(
        (to_net_input(lq, 64).flip(-1) + 1) / 2, size=(96, 96), mode='bicubic', align_corners=False, antialias=True)
    assert torch.allclose(out, expected.clamp(0, 1), atol=1e-6)


@pytest.fixture(scope='module')
def tiny_panini():
    torch.manual_seed(0)
    return net_from_args(type('Args', (), dict(opt=None, arch='tiny', arch_opt=[], model_path=None,
                                              param_key='params_ema', random_weights=True)))


def test_theta_is_eq11_of_the_forward_masks(tiny_panini, workdir):
    paths = list_images(str(workdir / 'theta' / 'LQ' / 'r016'))
    with torch.no_grad():
        _, masks = tiny_panini(to_net_input(load_batch(paths), 64), return_masks=True)
    eq11 = masks[:, 4].sum(dim=1) / masks.shape[2]  # theta = (1/C) sum_c mask_5,c
    assert image_thetas(tiny_panini, paths, batch_size=3) == pytest.approx(eq11.tolist(), abs=1e-6)


def test_analyze_theta_writes_table4_csv_and_plot(workdir):
    out = workdir / 'theta_out'
    load_script('analyze_theta').main(['--theta_root', str(workdir / 'theta'), '--out', str(out)] + TINY_ARGS)
    with open(out / 'theta.csv', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    assert [int(row['r']) for row in rows] == [16, 32, 64, 128]
    assert [float(row['theta_paper']) for row in rows] == [0.43, 0.54, 0.65, 0.73]
    with open(out / 'theta_per_image.csv', encoding='utf-8') as f:
        per_image = list(csv.DictReader(f))
    assert len(per_image) == 16
    for row in rows:
        values = [float(p['theta']) for p in per_image if p['r'] == row['r']]
        assert float(row['theta_mean']) == pytest.approx(np.mean(values))
        assert float(row['theta_std']) == pytest.approx(np.std(values))
        assert 0 < float(row['theta_mean']) < 1
    assert cv2.imread(str(out / 'theta.png')) is not None


def test_visualize_fusion_grid_and_dropped_terms_change_the_output(workdir):
    out = workdir / 'fusion_out'
    load_script('visualize_fusion').main(['--theta_root', str(workdir / 'theta'), '--faces', '0001', '--out',
                                          str(out), '--cell', '48'] + TINY_ARGS)
    grid = cv2.imread(str(out / 'fusion.png')).astype(float)
    assert grid.shape == (4 * (48 + 24), 5 * 48, 3)  # r = 16..128 x (LQ | Y | Y_IFE | Y_GPB | GT)
    y, y_ife, y_gpb = (grid[24:72, 48 * col:48 * (col + 1)] for col in (1, 2, 3))
    assert np.abs(y - y_ife).mean() > 0.5 and np.abs(y - y_gpb).mean() > 0.5 and np.abs(y_ife - y_gpb).mean() > 0.5


def test_mask_bias_sweep_moves_theta_from_input_to_prior(workdir):
    out = workdir / 'bias_out'
    load_script('edit_mask_bias').main(['--input', str(workdir / 'mfr' / 'LQ'), '--num_faces', '2', '--biases',
                                        '6', '-6', '0', '--out', str(out), '--cell', '48'] + TINY_ARGS)
    with open(out / 'mask_bias_theta.csv', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    thetas = [float(row['theta']) for row in rows if row['image'] == '0000']
    assert [float(row['mask_bias']) for row in rows[:3]] == [-6, 0, 6]
    assert thetas[0] < 0.05 < thetas[1] < 0.95 < thetas[2]
    low, high = (cv2.imread(str(out / f'0000_bias{b}.png')).astype(float) for b in ('-6', '6'))
    assert np.abs(low - high).mean() > 0.5
    assert cv2.imread(str(out / 'mask_bias_sweep.png')).shape == (2 * (48 + 24), 4 * 48, 3)


@pytest.mark.parametrize('name', sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(REPO, 'options'))
                                        if f.startswith('test_') and f.endswith('.yml')))
def test_shipped_test_options_are_consistent(name):
    from basicsr.utils.registry import ARCH_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY
    from panini_arch.evaluation.published import published
    opt = read_options(name)
    assert opt['model_type'] in MODEL_REGISTRY and opt['network_g']['type'] in ARCH_REGISTRY
    assert all(m['type'] in METRIC_REGISTRY for m in opt['val']['metrics'].values())
    net = opt['network_g']
    native_input = net.get('in_size', net.get('size', net.get('out_size')))
    with_gt = all('dataroot_gt' in dataset for dataset in opt['datasets'].values())
    celeba_test = any(dataset['name'] == 'CelebA-Test' for dataset in opt['datasets'].values())  # GFP-GAN's, 512 px
    if with_gt:
        lq_size = (512 if celeba_test else 1024) // opt['scale']
    else:
        lq_size = opt['val']['output_size']  # real-world sets: 512 px LQ faces
    assert opt['val']['input_size'] == native_input == lq_size  # the set's LQ is already the input size
    if opt['paper']:
        assert published(opt['paper'], 'psnr') is not None


def test_build_generator_loads_a_checkpoint_and_refuses_missing_weights(tmp_path):
    from panini_arch.archs.presets import build_generator
    net_opt = TINY_NETS['test_gpen_bfr_512']
    torch.manual_seed(3)
    reference = build_generator(net_opt, random_weights=True)
    torch.save({'params_ema': reference.state_dict()}, tmp_path / 'net.pth')
    loaded = build_generator(net_opt, str(tmp_path / 'net.pth'), 'params_ema')
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), reference(x))
    with pytest.raises(ValueError, match='pretrain_network_g'):
        build_generator(net_opt)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        build_generator(net_opt, str(tmp_path / 'missing.pth'))


def test_compare_warns_on_different_image_sets_and_runs_from_another_folder(test_runs, workdir, tmp_path,
                                                                            monkeypatch, capsys):
    first, second = list(test_runs.values())[:2]
    summary = json.loads((second / 'metrics_CelebA-HQ-MFR.json').read_text())
    assert os.path.isabs(summary['gt_folder']) and len(summary['images']) == 4
    summary['images'] = summary['images'][1:]
    summary['num_images'] = 3
    partial = tmp_path / 'partial.json'
    partial.write_text(json.dumps(summary))
    monkeypatch.chdir(tmp_path)  # not the folder scripts/test.py ran in
    load_script('compare').main([str(first), str(partial), '--out', 'cmp', '--cell', '32'])
    err = capsys.readouterr().err
    assert 'WARNING' in err and '3 vs 4 images' in err and summary['method'] in err
    assert '**Warning**' in (tmp_path / 'cmp' / 'comparison.md').read_text()
    assert (tmp_path / 'cmp' / 'grid.png').is_file()
