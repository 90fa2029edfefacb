"""Outputs never resolve into the inputs, through links included.

Each writer is given an output tree where a sub-folder (or file) is a symbolic link into the input:
``panini-restore -o out --overwrite`` with ``out/restored_imgs`` -> the photo folder, a test set whose
``GT/`` is a link to the HQ faces, an evaluation summary whose results folder links into the GT.
Each refuses with the resolved path, and the inputs keep their bytes.
"""
import hashlib
import json
import os

import cv2
import numpy as np
import pytest

from helpers import TINY_NET_ARGS
from panini_arch.data.eval_sets import generate_test_set, generate_theta_set
from panini_arch.evaluation.external import evaluate_outputs
from panini_arch.inference import main
from panini_arch.utils.output_paths import OutputGuard, OutputIntoInputError

TINY = [*TINY_NET_ARGS, '--aligned']


def checksums(folder):
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in sorted(os.listdir(folder))}


@pytest.fixture
def faces(tmp_path):
    """Two 64 px faces in ``tmp_path/in``."""
    folder = tmp_path / 'in'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(folder / f'{i}.png'), cv2.GaussianBlur(rng.integers(0, 256, (64, 64, 3), np.uint8), (5, 5), 0))
    return folder


def test_guard_resolves_links_to_and_into_inputs(faces, tmp_path):
    guard = OutputGuard([faces, *faces.iterdir()])
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'linked').symlink_to(faces, target_is_directory=True)
    (out / 'file.png').symlink_to(faces / '0.png')
    (out / 'chain').symlink_to(out / 'linked', target_is_directory=True)
    assert guard.check(out / 'plain' / '0.png') == out / 'plain' / '0.png'
    assert guard.check_root(out) == out
    for bad, match in ((out / 'linked' / 'new.png', 'lies inside the input'), (out / 'linked' / '0.png', 'is the input'),
                       (out / 'chain' / 'new.png', 'lies inside'), (out / 'file.png', 'is the input'),
                       (out / 'linked', 'is the input'), (out / 'chain' / '..' / 'in' / 'x.png', 'lies inside')):
        with pytest.raises(OutputIntoInputError, match=match) as error:
            guard.check(bad)
        assert str(faces) in str(error.value)
    with pytest.raises(OutputIntoInputError, match='is or contains the input'):
        guard.check_root(tmp_path)
    guard.check(tmp_path)  # a folder holding the input may receive other files


@pytest.mark.parametrize('sub', ['restored_imgs', 'restored_faces', 'cropped_faces', 'cmp'])
def test_restore_with_overwrite_never_writes_through_a_linked_sub_folder(faces, tmp_path, capsys, sub):
    out = tmp_path / 'out'
    out.mkdir()
    (out / sub).symlink_to(faces, target_is_directory=True)
    before = checksums(faces)
    with pytest.warns(UserWarning, match='RANDOM WEIGHTS'):
        assert main(['-i', str(faces), '-o', str(out), '--overwrite', *TINY]) == 2
    assert f'{out / sub}' in capsys.readouterr().err
    assert checksums(faces) == before


def test_restore_refuses_an_output_file_linked_to_an_input(faces, tmp_path, capsys):
    out = tmp_path / 'out'
    (out / 'restored_imgs').mkdir(parents=True)
    (out / 'restored_imgs' / '0.png').symlink_to(faces / '1.png')
    before = checksums(faces)
    with pytest.warns(UserWarning, match='RANDOM WEIGHTS'):
        assert main(['-i', str(faces), '-o', str(out), '--overwrite', *TINY]) == 1
    report = capsys.readouterr()
    assert 'is the input' in report.out + report.err
    assert checksums(faces) == before
    assert (out / 'restored_imgs' / '1.png').is_file()  # the other input is restored


@pytest.mark.parametrize('generate', [generate_test_set, generate_theta_set])
def test_test_set_generators_refuse_a_linked_output_sub_folder(faces, tmp_path, generate):
    out = tmp_path / 'set'
    out.mkdir()
    (out / 'GT').symlink_to(faces, target_is_directory=True)
    before = checksums(faces)
    with pytest.raises(OutputIntoInputError, match='is the input'):
        generate(str(faces), str(out), gt_size=64, in_size=32)
    assert checksums(faces) == before
    with pytest.raises(OutputIntoInputError, match='is the input'):
        generate(str(faces), str(faces), gt_size=64, in_size=32)  # output folder = input folder: GT/ would land in it
    assert checksums(faces) == before


def test_evaluation_summary_never_lands_in_the_gt_folder(faces, tmp_path):
    results = tmp_path / 'results'
    results.mkdir()
    (results / 'run').symlink_to(faces, target_is_directory=True)
    before = checksums(faces)
    with pytest.raises(OutputIntoInputError, match='is the input'):
        evaluate_outputs(str(faces), str(faces), 'run', str(results), echo=lambda *a: None)
    assert checksums(faces) == before


def test_harness_never_saves_restored_images_into_the_gt_folder(faces, tmp_path):
    """``FaceTestModel`` whose ``visualization/<dataset>`` (or one result file) links into the GT folder."""
    from basicsr.data import build_dataset
    from basicsr.models import build_model

    from panini_arch.archs.presets import PRESETS
    from panini_arch.models.face_test_model import EvaluationFailures
    results = tmp_path / 'results'
    (results / 'visualization').mkdir(parents=True)
    (results / 'visualization' / 'faces').symlink_to(faces, target_is_directory=True)
    dataset_opt = {'name': 'faces', 'type': 'PairedImageDataset', 'phase': 'test', 'scale': 1,
                   'dataroot_lq': str(faces), 'dataroot_gt': str(faces), 'io_backend': {'type': 'disk'}}
    opt = {'name': 'linked', 'model_type': 'FaceTestModel', 'num_gpu': 0, 'is_train': False, 'dist': False,
           'network_g': dict(type='PaniniNet', **PRESETS['tiny']), 'random_weights': True, 'datasets': {},
           'path': {'pretrain_network_g': None, 'results_root': str(results),
                    'visualization': str(results / 'visualization')},
           'val': {'input_size': 64, 'num_workers': 0, 'batch_size': 2,
                   'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0}}}}
    before = checksums(faces)
    model = build_model(opt)
    loader = type('Loader', (), {'dataset': build_dataset(dataset_opt)})()
    with pytest.raises(OutputIntoInputError, match='visualization/faces is the input'):
        model.validation(loader, 0, None, save_img=True)
    assert checksums(faces) == before
    (results / 'visualization' / 'faces').unlink()
    (results / 'visualization' / 'faces').mkdir()
    (results / 'visualization' / 'faces' / '0.png').symlink_to(faces / '1.png')  # one result file linked
    with pytest.raises(EvaluationFailures):
        model.validation(loader, 0, None, save_img=True)
    summary = json.loads((results / 'metrics_faces.json').read_text())
    assert [item['image'] for item in summary['failed']] == [str(faces / '0.png')]
    assert 'mix with the inputs' in summary['failed'][0]['reason'] and summary['images'] == ['1']
    assert checksums(faces) == before
