"""BasicSR's own entry points with the plugin: nothing after the plugin line runs code, ``--force_yml`` is literal.

BasicSR's ``train.py`` reads options with a loader that builds any Python object; the plugin line
(first in every shipped file) switches that loader to the safe constructors for the rest of the
file. ``--force_yml`` is BasicSR's ``exec``/``eval`` of its text; with the plugin it carries out
``opt["a"]["b"]=value`` with a literal value only, under both entry points (same functions).
"""
import sys

import pytest

import basicsr.utils.options as basicsr_options
import panini_arch.trainer  # noqa: F401  (applies the fixes in this process)
from helpers import TAGS, basicsr_script, run
from panini_arch.models.option_checks import OptionError
from panini_arch.trainer.basicsr_options import literal_value


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


@pytest.mark.parametrize('name', ['train.py', 'test.py'])
def test_tag_after_the_plugin_line_does_not_run_under_basicsr_scripts(tmp_path, name):
    marker = tmp_path / 'MARKER'
    script, startup = basicsr_script(str(tmp_path), name)
    options = write(tmp_path / 'opt.yml', TAGS + 'name: hostile\nmodel_type: SRModel\ndatasets:\n  train:\n'
                    f'    name: !!python/object/apply:os.system ["touch {marker}"]\n')
    result = run(str(tmp_path), [sys.executable, script, '-opt', options], path=[startup])
    assert result.returncode != 0
    assert 'refused YAML tag !!python/object/apply:os.system' in result.stderr and 'line 5' in result.stderr
    assert not marker.exists()


def test_force_yml_list_is_not_evaluated_under_basicsr_train_script(tmp_path):
    marker = tmp_path / 'MARKER'
    script, startup = basicsr_script(str(tmp_path))
    options = write(tmp_path / 'opt.yml', TAGS + 'name: hostile\nmodel_type: SRModel\ntrain: {ema_decay: 0.9}\n')
    args = [sys.executable, script, '-opt', options, '--force_yml',
            f"train:ema_decay=[__import__('os').system('touch {marker}')]"]
    result = run(str(tmp_path), args, path=[startup])
    assert result.returncode != 0
    assert 'OptionError' in result.stderr and 'must be a list of literal values' in result.stderr
    assert not marker.exists()


def parse(monkeypatch, tmp_path, *forced, is_train=True):
    """This process's (patched) BasicSR ``parse_options`` on a small file with ``--force_yml forced``."""
    options = write(tmp_path / 'opt.yml', TAGS + 'name: forced\nmodel_type: PaniniModel\nnum_gpu: 0\n'
                    'datasets: {}\npath: {}\ntrain: {ema_decay: 0.9, optim_g: {betas: [0.9, 0.99]}}\n')
    monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', options, '--force_yml', *forced])
    return basicsr_options.parse_options(str(tmp_path), is_train=is_train)[0]


@pytest.mark.parametrize('entry', [
    'train:ema_decay=[__import__("os").system("touch {marker}")]',
    'train"].__setitem__("x",__import__("os").system("touch {marker}"))#:x=1',
    "train'].__setitem__('x',__import__('os').system('touch {marker}'))#:x=1",
    'train:ema_decay=__import__("os").system("touch {marker}")',
])
def test_force_yml_code_is_refused_and_never_run(monkeypatch, tmp_path, entry):
    marker = tmp_path / 'MARKER'
    with pytest.raises(OptionError, match='force_yml|ema_decay'):
        parse(monkeypatch, tmp_path, entry.format(marker=marker))
    assert not marker.exists()


def test_force_yml_literal_values_are_applied(monkeypatch, tmp_path):
    opt = parse(monkeypatch, tmp_path, 'train:ema_decay=0.5', 'train:optim_g:betas=[0.5, 0.9]', 'name=renamed')
    assert opt['train']['ema_decay'] == 0.5 and opt['train']['optim_g']['betas'] == [0.5, 0.9]
    assert opt['name'] == 'renamed'


@pytest.mark.parametrize('text,value', [('~', None), ('True', True), ('3', 3), ('0.5', 0.5), ('!!float 1e-4', 1e-4),
                                        ("[1, 'a', [2.5]]", [1, 'a', [2.5]]), ('1e-4', '1e-4'), ('abc', 'abc')])
def test_literal_value_keeps_basicsr_rules_without_eval(text, value):
    assert literal_value(text) == value


@pytest.mark.parametrize('text', ['[1', '[x]', '[().__class__]', '[1 + 1]'])
def test_literal_value_refuses_lists_of_code(text):
    with pytest.raises(OptionError, match='literal values'):
        literal_value(text)
