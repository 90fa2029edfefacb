"""The package's layers: what ``import panini_arch`` loads and changes, which way imports point, the installed package."""
import ast
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from setuptools import find_packages

from helpers import REPO


PROBE = r'''
import json, sys
import panini_arch
import basicsr.data.data_sampler as sampler
import basicsr.models.base_model as base_model
import basicsr.utils.dist_util as dist_util
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY


def trainer_state():
    return {
        'save_network': base_model.BaseModel.save_network.__module__,
        'model_to_device': base_model.BaseModel.model_to_device.__module__,
        'training_state': hasattr(base_model.BaseModel, 'training_state'),
        'sampler': sampler.EnlargedSampler.__module__,
        'init_dist': dist_util.init_dist.__module__,
        'load_resume_state': sys.modules['basicsr.train'].load_resume_state.__module__,
    }


heavy = sorted({name.split('.')[0] for name in sys.modules
                if name.split('.')[0] in ('gfpgan', 'lpips', 'facexlib', 'facenet_pytorch')}
               | {name for name in sys.modules if name == 'basicsr.archs.inception'})
registered = [name in registry for name, registry in (('PaniniNet', ARCH_REGISTRY), ('GFPGANv1Clean', ARCH_REGISTRY),
              ('GPEN', ARCH_REGISTRY), ('UDRLPairDataset', DATASET_REGISTRY), ('UDRLModel', MODEL_REGISTRY),
              ('FID', METRIC_REGISTRY))]
before = trainer_state()
import panini_arch.trainer
after = trainer_state()
import gfpgan
gfpgan_class = ARCH_REGISTRY.get('GFPGANv1Clean').__module__
print(json.dumps({'heavy': heavy, 'registered': registered, 'before': before, 'after': after, 'gfpgan': gfpgan_class}))
'''


def test_import_panini_arch_registers_without_heavy_imports_or_trainer_changes():
    """In a fresh interpreter; then ``panini_arch.trainer`` applies the fixes, and ``import gfpgan`` made later
    replaces the ``GFPGANv1Clean`` stand-in with gfpgan's class."""
    result = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['heavy'] == []
    assert all(report['registered'])
    assert report['before'] == {
        'save_network': 'basicsr.models.base_model', 'model_to_device': 'basicsr.models.base_model',
        'training_state': False, 'sampler': 'basicsr.data.data_sampler', 'init_dist': 'basicsr.utils.dist_util',
        'load_resume_state': 'basicsr.train'}
    assert report['after'] == {
        'save_network': 'panini_arch.trainer.checkpoint', 'model_to_device': 'panini_arch.trainer.patches',
        'training_state': True, 'sampler': 'panini_arch.trainer.checkpoint', 'init_dist': 'panini_arch.trainer.patches',
        'load_resume_state': 'panini_arch.trainer.checkpoint'}
    assert report['gfpgan'] == 'gfpgan.archs.gfpganv1_clean_arch'


LAYERS = {'ops': 0, 'utils': 0, 'version': 0, 'archs': 1, 'data': 1, 'losses': 1, 'metrics': 1, 'models': 1,
          '__init__': 1.5, 'evaluation': 2, 'restoration': 2, 'trainer': 2, 'inference': 3, 'export': 3, 'convert': 3, 'train': 3,
          'test': 3}


def panini_imports(path, module):
    """The first-level ``panini_arch`` parts (``archs``, ``trainer``, ...) that a source file imports."""
    package = module.rsplit('.', 1)[0] if not path.endswith('__init__.py') else module
    parts = set()
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1] + ([base] if base else []))
            names = [base] if node.module else [f'{base}.{alias.name}' for alias in node.names]
        for name in names:
            pieces = name.split('.')
            if pieces[0] == 'panini_arch' and len(pieces) > 1:
                parts.add(pieces[1])
    return parts


def test_imports_only_point_down_the_layers():
    root = os.path.join(REPO, 'panini_arch')
    wrong = []
    for folder, _, files in os.walk(root):
        for name in sorted(f for f in files if f.endswith('.py')):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, REPO)[:-3].split(os.sep)
            own = relative[1] if len(relative) > 1 else '__init__'
            own = '__init__' if relative == ['panini_arch', '__init__'] else own
            module = '.'.join(relative[:-1] if name == '__init__.py' else relative)
            for part in panini_imports(path, module):
                if part != own and not (LAYERS[part] < LAYERS[own] or LAYERS[part] == LAYERS[own] == 1):
                    wrong.append(f'{os.path.relpath(path, REPO)} imports panini_arch.{part}')
    assert wrong == []


@pytest.mark.slow
def test_installed_package_restores_from_another_folder(tmp_path):
    """The packages setup.py ships, alone on the path, run ``panini-restore``: nothing reaches into the checkout."""
    site = tmp_path / 'site'
    for package in find_packages(REPO, include=['panini_arch', 'panini_arch.*']):
        folder = package.replace('.', os.sep)
        os.makedirs(site / folder)
        for name in os.listdir(os.path.join(REPO, folder)):
            if name.endswith('.py'):
                shutil.copy(os.path.join(REPO, folder, name), site / folder / name)
    work = tmp_path / 'elsewhere'
    work.mkdir()
    cv2.imwrite(str(work / 'face.png'), np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    code = ('import sys, panini_arch; from panini_arch.inference import main\n'
            "print(panini_arch.__file__)\n"
            "main(['-i', 'face.png', '-o', 'out', '--arch', 'tiny', '--random_weights', '--aligned', '--device', 'cpu'])")
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-c', code], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[0] == str(site / 'panini_arch' / '__init__.py')
    assert cv2.imread(str(work / 'out' / 'restored_imgs' / 'face.png')).shape == (128, 128, 3)
