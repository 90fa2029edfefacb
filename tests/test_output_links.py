"""Outputs never resolve into the inputs, through links included.

Each writer is given an output tree where a sub-folder (or file) is a symbolic link into the input:
``panini-restore -o out --overwrite`` with ``out/restored_imgs`` -> the photo folder, a test set whose
``GT/`` is a link to the HQ faces, an evaluation summary whose results folder links into the GT.
Each refuses with the resolved path, and the inputs keep their bytes.
"""
import hashlib
import os

import cv2
import numpy as np
import pytest

from panini_arch.data.eval_sets import generate_test_set, generate_theta_set
from panini_arch.evaluation.external import evaluate_outputs
from panini_arch.inference import main
from panini_arch.utils.output_paths import OutputGuard, OutputIntoInputError

TINY = ['--arch', 'tiny', '--random_weights', '--device', 'cpu', '--aligned']


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
