"""setup.py's metadata (requirements, extras, console scripts) and the optional facexlib."""
import importlib
import os
import runpy

import pytest
import setuptools
import torch

from helpers import REPO
from panini_arch.restoration import face_detect
from panini_arch.utils import optional


@pytest.fixture(scope='module')
def metadata():
    """The keyword arguments setup.py passes to ``setuptools.setup``."""
    captured = {}
    real, setuptools.setup = setuptools.setup, captured.update
    cwd = os.getcwd()
    try:
        os.chdir(REPO)
        runpy.run_path(os.path.join(REPO, 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup = real
        os.chdir(cwd)
    return captured


def requirement(metadata, name):
    return next(line for line in metadata['install_requires'] if line.split('>')[0].split('<')[0].split('=')[0] == name)


def test_requirements_leave_torch_open_and_optional_detectors_out(metadata):
    assert requirement(metadata, 'torch').startswith('torch>=') and '<' not in requirement(metadata, 'torch')
    assert requirement(metadata, 'basicsr') == 'basicsr>=1.4.2,<1.5'
    names = {line.split('>')[0].split('<')[0].split('=')[0] for line in metadata['install_requires']}
    assert not names & {'tb-nightly', 'tensorboard', 'facexlib', 'facenet-pytorch'}
    assert 'facexlib' in metadata['extras_require']['retinaface'] and 'facexlib' in metadata['extras_require']['test']
    assert metadata['python_requires'] == '>=3.9,<3.13'


def test_installed_torch_meets_the_floor(metadata):
    floor = tuple(int(part) for part in requirement(metadata, 'torch').split('>=')[1].split('.'))
    assert tuple(int(part) for part in torch.__version__.split('+')[0].split('.')[:len(floor)]) >= floor


def test_every_console_script_names_a_function(metadata):
    scripts = dict(line.split('=') for line in metadata['entry_points']['console_scripts'])
    assert scripts['panini-export'] == 'panini_arch.export:main'
    for name, target in scripts.items():
        module, function = target.split(':')
        assert callable(getattr(importlib.import_module(module), function)), name


def test_retinaface_without_facexlib_names_its_install_command(monkeypatch, tmp_path):
    real = importlib.import_module

    def without_facexlib(name, *args):
        if name.split('.')[0] == 'facexlib':
            raise ImportError("No module named 'facexlib'")
        return real(name, *args)

    monkeypatch.setattr(optional.importlib, 'import_module', without_facexlib)
    message = r'retinaface needs the optional package facexlib: pip install -e "\.\[retinaface\]"'
    weights = tmp_path / 'detection_Resnet50_Final.pth'
    torch.save({'body.conv1.weight': torch.zeros(1)}, weights)  # readable, so the import is what fails
    with pytest.raises(ImportError, match=message):
        face_detect.load_retinaface(str(weights), torch.device('cpu'))
