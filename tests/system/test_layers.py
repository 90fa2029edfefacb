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
panini_arch.trainer.patches.apply_to_basicsr_models()
applied = trainer_state()
import gfpgan
gfpgan_class = ARCH_REGISTRY.get('GFPGANv1Clean').__module__
print(json.dumps({'heavy': heavy, 'registered': registered, 'before': before, 'after': after, 'applied': applied,
                  'gfpgan': gfpgan_class}))
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
    launch = {'sampler': 'panini_arch.trainer.checkpoint', 'init_dist': 'panini_arch.trainer.patches',
              'load_resume_state': 'panini_arch.trainer.checkpoint'}
    assert report['after'] == {  # BasicSR's BaseModel keeps its methods until apply_to_basicsr_models
        'save_network': 'basicsr.models.base_model', 'model_to_device': 'basicsr.models.base_model',
        'training_state': False, **launch}
    assert report['applied'] == {
        'save_network': 'panini_arch.models.base_model', 'model_to_device': 'panini_arch.models.base_model',
        'training_state': True, **launch}
    assert report['gfpgan'] == 'gfpgan.archs.gfpganv1_clean_arch'


ENTRY_PROBE = r'''
import importlib, inspect, json, sys
import panini_arch


def basicsr_state():
    """Every module-level binding of BasicSR's loaded modules, and every attribute of their classes."""
    state = {}
    for name, module in list(sys.modules.items()):
        if name.split('.')[0] != 'basicsr' or module is None:
            continue
        for key, value in vars(module).items():
            if not inspect.ismodule(value):
                state[f'{name}.{key}'] = value
            if inspect.isclass(value) and value.__module__ == name:
                state.update((f'{name}.{key}.{attr}', item) for attr, item in vars(value).items())
    return state


report = {}
for entry in sys.argv[1:]:
    before = basicsr_state()
    importlib.import_module(entry)
    after = basicsr_state()
    changed = sorted(key for key in before.keys() | after.keys()
                     if key in before and (key not in after or after[key] is not before[key])
                     or key not in before and getattr(after[key], '__module__', '').startswith('panini_arch'))
    report[entry] = {'changed': changed, 'trainer': 'panini_arch.trainer' in sys.modules}
print(json.dumps(report))
'''


def test_entry_modules_other_than_train_and_test_change_nothing_in_basicsr():
    """In a fresh interpreter after ``import panini_arch``: the converter, export and inference modules rebind,
    add or replace nothing in BasicSR's modules and classes, and do not load the trainer fixes; the probe sees
    what ``panini_arch.trainer`` changes."""
    entries = ['panini_arch.convert', 'panini_arch.export', 'panini_arch.inference', 'panini_arch.trainer']
    result = subprocess.run([sys.executable, '-c', ENTRY_PROBE, *entries], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for entry in entries[:-1]:
        assert report[entry] == {'changed': [], 'trainer': False}, entry
    assert report['panini_arch.trainer']['changed'] and report['panini_arch.trainer']['trainer']


LAYERS = {'ops': 0, 'utils': 0, 'version': 0, 'archs': 1, 'data': 1, 'losses': 1, 'metrics': 1, 'models': 1,
          '__init__': 1.5, 'evaluation': 2, 'restoration': 2, 'trainer': 2, 'inference': 3, 'export': 3, 'convert': 3, 'train': 3,
          'test': 3}


def package_modules():
    """``(path, dotted module name)`` of every source file of ``panini_arch``."""
    for folder, _, files in sorted(os.walk(os.path.join(REPO, 'panini_arch'))):
        for name in sorted(f for f in files if f.endswith('.py')):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, REPO)[:-3].split(os.sep)
            yield path, '.'.join(relative[:-1] if name == '__init__.py' else relative)


def is_module(name):
    """Whether the dotted ``name`` is a module or package of this checkout."""
    path = os.path.join(REPO, *name.split('.'))
    return os.path.isfile(path + '.py') or os.path.isfile(os.path.join(path, '__init__.py'))


def panini_modules(path, module):
    """The ``panini_arch`` modules a source file imports, at any depth (inside functions too), relative imports
    resolved; ``from X import y`` counts as ``X.y`` when that is a module, else as ``X``."""
    package = module.rsplit('.', 1)[0] if not path.endswith('__init__.py') else module
    names = set()
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1] + ([base] if base else []))
            names.update(f'{base}.{alias.name}' if is_module(f'{base}.{alias.name}') else base for alias in node.names)
    return {name for name in names if name.split('.')[0] == 'panini_arch'}


def test_imports_only_point_down_the_layers():
    wrong = []
    for path, module in package_modules():
        own = module.split('.')[1] if '.' in module else '__init__'
        for part in {name.split('.')[1] for name in panini_modules(path, module) if '.' in name}:
            if part != own and not (LAYERS[part] < LAYERS[own] or LAYERS[part] == LAYERS[own] == 1):
                wrong.append(f'{os.path.relpath(path, REPO)} imports panini_arch.{part}')
    assert wrong == []


def import_circles(graph):
    """Every circle of ``graph`` (``{module: modules it imports}``) that a depth-first walk meets, as
    ``'a -> b -> a'``."""
    state, circles = {}, []

    def visit(trail):
        state[trail[-1]] = 'open'
        for target in sorted(graph.get(trail[-1], ())):
            if state.get(target) == 'open':
                circles.append(' -> '.join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(trail + [target])
        state[trail[-1]] = 'done'

    for module in sorted(graph):
        if module not in state:
            visit([module])
    return circles


def test_no_import_circle():
    """No module imports, even inside a function, one that leads back to it (the scan finds a planted circle)."""
    graph = {module: panini_modules(path, module) - {module} for path, module in package_modules()}
    assert import_circles(graph) == []
    planted = dict(graph, **{'panini_arch.utils.weights': graph['panini_arch.utils.weights'] | {
        'panini_arch.archs.official_convert'}})
    assert [set(circle.split(' -> ')) for circle in import_circles(planted)] == [
        {'panini_arch.archs.official_convert', 'panini_arch.utils.weights'}]




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
