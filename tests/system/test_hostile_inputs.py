"""Damaged stores, hostile options files and misspelt sections: each refused by name, quickly, nothing crashed.

* a truncated LMDB (``data.mdb`` cut short) is a named error before any page is touched, where
  reading it killed the process with SIGBUS; a ``data.mdb`` that is not LMDB at all too;
* an options file over 1 MiB, an alias bomb (1 kB that expands to 10^10 nodes), a recursive alias
  and a nesting bomb are refused by the options loader, quickly and in bounded memory, and so is
  the rest of a file read by an unsafe YAML loader once the plugin line is met;
* an unknown top-level section (``vall:``) gets the did-you-mean error of unknown keys.
"""
import os
import resource
import subprocess
import sys
import time

import pytest
import yaml

import panini_arch.trainer  # noqa: F401  (BasicSR's FileClient back-ends patched)
from basicsr.utils import FileClient
from helpers import REPO
from panini_arch.data.lmdb_builder import make_lmdb
from panini_arch.data.lmdb_store import DamagedStoreError, open_lmdb_checked
from panini_arch.data.synthetic_faces import make_face_folder
from panini_arch.models.option_checks import OptionError, check_options
from panini_arch.trainer.basicsr_options import secure_running_load
from panini_arch.utils.safe_load import MAX_OPTIONS_BYTES, UnsafeOptionsError, load_options, load_options_text


def alias_bomb(levels=10, width=10):
    """About 1 kB of YAML whose aliases expand to ``width ** levels`` scalars."""
    lines = ['a0: &a0 [' + ', '.join(['lol'] * width) + ']']
    lines += [f'a{i}: &a{i} [' + ', '.join([f'*a{i - 1}'] * width) + ']' for i in range(1, levels)]
    return '\n'.join(lines) + '\n'


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    """An LMDB of 6 generated 64 px faces (about 40 kB of pages)."""
    root = tmp_path_factory.mktemp('lmdb')
    make_face_folder(str(root / 'faces'), 6, 64)
    make_lmdb(str(root / 'faces'), str(root / 'faces.lmdb'), progress=False)
    return root / 'faces.lmdb'


def damaged_copy(store, folder, keep=None, data=None):
    """A copy of ``store`` in ``folder`` whose data.mdb keeps ``keep`` bytes, or holds ``data``."""
    os.makedirs(folder)
    for name in os.listdir(store):
        with open(store / name, 'rb') as f:
            content = f.read()
        if name == 'data.mdb':
            content = data if data is not None else content[:keep]
        with open(os.path.join(folder, name), 'wb') as f:
            f.write(content)
    return str(folder)


def test_intact_store_opens_read_only(store):
    env = open_lmdb_checked(str(store))
    assert env.flags()['readonly'] and env.stat()['entries'] == 6
    env.close()


@pytest.mark.parametrize('fraction', [0.5, 0.9])
def test_truncated_lmdb_is_a_named_error_before_any_page_is_read(store, tmp_path, fraction):
    size = os.path.getsize(store / 'data.mdb')
    damaged = damaged_copy(store, tmp_path / 'faces.lmdb', keep=int(size * fraction) // 4096 * 4096 + 100)
    with pytest.raises(DamagedStoreError, match=r'data\.mdb: truncated, \d+ bytes but its pages need \d+'):
        open_lmdb_checked(damaged)
    with pytest.raises(DamagedStoreError, match='truncated'):  # BasicSR's own LMDB back-end, once patched
        FileClient('lmdb', db_paths=[damaged], client_keys=['gt'])


@pytest.mark.parametrize('data', [b'', b'not an lmdb file' * 1000])
def test_data_mdb_that_is_not_lmdb_is_a_named_error(store, tmp_path, data):
    damaged = damaged_copy(store, tmp_path / 'faces.lmdb', data=data)
    with pytest.raises(DamagedStoreError, match='not a readable LMDB store'):
        open_lmdb_checked(damaged)


def test_training_dataset_on_truncated_lmdb_stops_with_the_name_not_sigbus(store, tmp_path):
    size = os.path.getsize(store / 'data.mdb')
    damaged = damaged_copy(store, tmp_path / 'faces.lmdb', keep=size // 2)
    script = ('import panini_arch\nfrom panini_arch.data.panini_degradation_dataset import PaniniDegradationDataset\n'
              f"PaniniDegradationDataset({{'dataroot_gt': {damaged!r}, 'io_backend': {{'type': 'lmdb'}}, "
              "'gt_size': 64, 'in_size': 16, 'phase': 'train'}).__getitem__(0)\n")
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1'))
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])  # -7 is SIGBUS
    assert 'DamagedStoreError' in result.stderr and 'data.mdb: truncated' in result.stderr


def test_options_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / 'big.yml'
    path.write_text('name: big\n' + '# padding\n' * (MAX_OPTIONS_BYTES // 10 + 1))
    with pytest.raises(UnsafeOptionsError, match=rf'big\.yml: refused; \d+ bytes, more than the {MAX_OPTIONS_BYTES}'):
        load_options(path)
    with pytest.raises(UnsafeOptionsError, match='characters, more than'):
        load_options_text(path.read_text(), 'big.yml')


def test_alias_bomb_is_refused_quickly_in_bounded_memory(tmp_path):
    text = alias_bomb()
    assert len(text) < 1100
    path = tmp_path / 'bomb.yml'
    path.write_text(text)
    before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    with pytest.raises(UnsafeOptionsError, match=r'bomb\.yml: refused; its aliases \(\*name\) expand it by \d+ nodes'):
        load_options(path)
    assert time.perf_counter() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB


@pytest.mark.parametrize('text,match', [('a: &a [1, *a]\n', 'recursive alias'), ('[' * 100000, 'nested too deeply')])
def test_recursive_alias_and_nesting_bomb_are_refused(text, match):
    with pytest.raises(UnsafeOptionsError, match=match):
        load_options_text(text, 'hostile.yml')


def test_small_aliases_and_merge_keys_still_load():
    opt = load_options_text('base: &b {lr: 0.1, betas: [0.9, 0.99]}\noptim_g: {<<: *b, lr: 0.2}\nsame: *b\n')
    assert opt['optim_g'] == {'lr': 0.2, 'betas': [0.9, 0.99]} and opt['same'] == opt['base']


class UnsafePluginLoader(yaml.UnsafeLoader):
    """PyYAML's unsafe loader whose ``!plugin`` tag does what importing the plugin does to a running load."""


def _construct_plugin(loader, node):
    secure_running_load()
    return 'panini_arch.trainer'


UnsafePluginLoader.add_constructor('!plugin', _construct_plugin)


@pytest.mark.parametrize('rest,match', [
    ('b: {c: !!python/object/apply:os.system ["touch {marker}"]}\n', 'refused YAML tag'),
    (alias_bomb(), 'expand it by'),
])
def test_unsafe_loader_builds_nothing_hostile_after_the_plugin_line(tmp_path, rest, match):
    marker = tmp_path / 'MARKER'
    with pytest.raises(UnsafeOptionsError, match=match):
        yaml.load('plugin: !plugin x\n' + rest.replace('{marker}', str(marker)), Loader=UnsafePluginLoader)
    assert not marker.exists()


def test_unsafe_loader_reads_plain_values_after_the_plugin_line():
    opt = yaml.load('plugin: !plugin x\nname: n\nval: {val_freq: 2, metrics: [psnr]}\n', Loader=UnsafePluginLoader)
    assert opt == {'plugin': 'panini_arch.trainer', 'name': 'n', 'val': {'val_freq': 2, 'metrics': ['psnr']}}


@pytest.mark.parametrize('model_type', ['PaniniModel', 'UDRLModel', 'FaceTestModel'])
def test_unknown_top_level_section_gets_did_you_mean(model_type):
    opt = {'name': 'x', 'model_type': model_type, 'num_gpu': 0, 'datasets': {}, 'network_g': {}, 'network_d': {},
           'path': {}, 'train': {}, 'vall': {'val_freq': 2}, 'loger': {}, 'zzz_unrelated': 1}
    with pytest.raises(OptionError) as error:
        check_options(opt, 'x.yml')
    message = str(error.value)
    assert "vall: unknown section; did you mean 'val'?" in message
    assert "loger: unknown section; did you mean 'logger'?" in message
    assert 'zzz_unrelated: unknown section; known: ' in message


def test_shipped_options_have_no_unknown_sections():
    for name in sorted(os.listdir(os.path.join(REPO, 'options'))):
        opt = load_options(os.path.join(REPO, 'options', name))
        known_or_other = [key for key in opt if key not in panini_arch.models.option_checks.TOP_KEYS
                          and not key.startswith('network_')]
        assert not known_or_other, (name, known_or_other)


def test_make_lmdb_refuses_to_resume_a_truncated_store_or_write_into_its_input(store, tmp_path):
    faces = store.parent / 'faces'
    size = os.path.getsize(store / 'data.mdb')
    damaged = damaged_copy(store, tmp_path / 'faces.lmdb', keep=size // 2)
    with pytest.raises(DamagedStoreError, match='truncated'):
        make_lmdb(str(faces), damaged, progress=False)
    (tmp_path / 'linked.lmdb').symlink_to(faces, target_is_directory=True)
    with pytest.raises(ValueError, match='is the input'):
        make_lmdb(str(faces), str(tmp_path / 'linked.lmdb'), progress=False)
    assert sorted(os.listdir(faces)) == [f'{i:04d}.png' for i in range(6)]
