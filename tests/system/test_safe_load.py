"""No code from data: hostile options files and hostile pickles are refused by every entry point.

A hostile file would create a marker file; each test asserts the marker never appears
(and, as a control, that the same payload does create it when loaded unsafely).
"""
import argparse
import glob
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import yaml

from cli import add_net_args, net_from_args  # scripts/cli.py (pytest.ini puts scripts/ on the path)
from helpers import REPO
from panini_arch import test as test_entry
from panini_arch import train as train_entry
from panini_arch.archs.presets import build_panini, read_network_g
from panini_arch.metrics.fid_metric import build_fid_inception
from panini_arch.metrics.identity_metric import build_arcface
from panini_arch.metrics.lpips_metric import build_lpips
from panini_arch.metrics.metric_common import MetricWeightsError
from panini_arch.models.base_model import PaniniBaseModel
from panini_arch.restoration.face_detect import load_retinaface
from panini_arch.trainer.checkpoint import TrainingStateError, newest_training_state, read_training_state
from panini_arch.utils.safe_load import UnsafeOptionsError, UnsafeWeightsError, load_options, load_options_text
from panini_arch.utils.weights import load_weights

SHIPPED = sorted(glob.glob(os.path.join(REPO, 'options', '*.yml')))
HOSTILE_TAGS = (
    '!!python/object/apply:builtins.open ["{marker}", "w"]',
    '!!python/object/new:builtins.open ["{marker}", "w"]',
    '!!python/name:os.system',
    '!!python/module:os',
    '!<tag:yaml.org,2002:python/object/apply:builtins.open> ["{marker}", "w"]',
    '!custom_tag x',
)


def hostile_options(folder, tag):
    """``options/train_panini_fr_tiny.yml`` with one hostile value added; returns (path, marker)."""
    marker = os.path.join(folder, 'MARKER')
    with open(os.path.join(REPO, 'options', 'train_panini_fr_tiny.yml'), encoding='utf-8') as f:
        text = f.read()
    path = os.path.join(folder, 'hostile.yml')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text + f'extra: {tag.format(marker=marker)}\n')
    return path, marker


@pytest.mark.parametrize('path', SHIPPED, ids=os.path.basename)
def test_every_shipped_options_file_loads_safely(path):
    opt = load_options(path)
    assert opt['plugin'] == 'panini_arch.trainer' and 'network_g' in opt


def test_control_unsafe_loader_runs_the_payload(tmp_path):
    path, marker = hostile_options(str(tmp_path), HOSTILE_TAGS[0])
    with open(path, encoding='utf-8') as f:
        yaml.load(f, Loader=yaml.UnsafeLoader)
    assert os.path.exists(marker)


@pytest.mark.parametrize('tag', HOSTILE_TAGS)
def test_hostile_tag_refused_naming_file_line_and_tag(tmp_path, tag):
    path, marker = hostile_options(str(tmp_path), tag)
    with pytest.raises(UnsafeOptionsError) as info:
        load_options(path)
    message = str(info.value)
    assert path in message and 'line ' in message and tag.split()[0].split(':')[-1].strip('<>') in message
    assert not os.path.exists(marker)


def test_only_the_plugin_tags_are_accepted():
    assert load_options_text('plugin: !!python/name:panini_arch.__name__')['plugin'] == 'panini_arch'
    for near_miss in ('panini_arch.version.__name__', 'panini_arch.__file__', 'os.__name__', 'panini_arch'):
        with pytest.raises(UnsafeOptionsError):
            load_options_text(f'plugin: !!python/name:{near_miss}')


@pytest.mark.parametrize('entry', [train_entry, test_entry], ids=['train', 'test'])
def test_trainer_entry_points_refuse_hostile_options(tmp_path, run_entry, capsys, entry):
    path, marker = hostile_options(str(tmp_path), HOSTILE_TAGS[0])
    assert run_entry(entry.main, path) == 2
    err = capsys.readouterr().err
    assert path in err and 'python/object/apply:builtins.open' in err
    assert not os.path.exists(marker) and not os.path.exists(tmp_path / 'experiments')


def test_test_script_file_refuses_hostile_options(tmp_path):
    path, marker = hostile_options(str(tmp_path), HOSTILE_TAGS[0])
    result = subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'test.py'), '-opt', path], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and 'refused YAML tag' in result.stderr
    assert not os.path.exists(marker)


def test_inference_and_analysis_opt_refuse_hostile_options_and_accept_shipped(tmp_path):
    path, marker = hostile_options(str(tmp_path), HOSTILE_TAGS[0])
    with pytest.raises(UnsafeOptionsError):
        read_network_g(path)
    parser = argparse.ArgumentParser()
    add_net_args(parser)
    with pytest.raises(UnsafeOptionsError):
        net_from_args(parser.parse_args(['--opt', path, '--random_weights']))
    assert not os.path.exists(marker)
    shipped = os.path.join(REPO, 'options', 'train_panini_fr_tiny.yml')
    assert build_panini(read_network_g(shipped)).out_size == 128
    assert net_from_args(parser.parse_args(['--opt', shipped, '--random_weights'])).out_size == 128


class Payload:
    """Unpickling this creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, 'w')


@pytest.fixture
def hostile_pth(tmp_path, monkeypatch):
    """A checkpoint whose unpickling creates a marker, under forced legacy torch.load semantics."""
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = str(tmp_path / 'MARKER')
    path = str(tmp_path / 'detection_Resnet50_Final.pth')
    torch.save({'params': Payload(marker), 'params_ema': Payload(marker), 'epoch': 0, 'iter': 1,
                'optimizers': [], 'schedulers': []}, path)
    return path, marker


def test_control_plain_torch_load_runs_the_payload(hostile_pth):
    path, marker = hostile_pth
    torch.load(path)  # what BasicSR 1.4.2 calls: the forced legacy default unpickles anything
    assert os.path.exists(marker)


def test_every_weight_loader_refuses_a_hostile_pickle(hostile_pth, tmp_path):
    path, marker = hostile_pth
    net = torch.nn.Linear(2, 2)
    with pytest.raises(UnsafeWeightsError, match='detection_Resnet50_Final.pth'):
        load_weights(net, path, 'params', 'test net')
    with pytest.raises(TrainingStateError, match='detection_Resnet50_Final.pth'):
        read_training_state(path)
    model = SimpleNamespace(get_bare_model=lambda n: n, _print_different_keys_loading=lambda *a: None)
    with pytest.raises(UnsafeWeightsError):
        PaniniBaseModel.load_network(model, net, path)  # UDRL's path.pretrain_network_g, BasicSR's SRModel
    for build in (lambda: build_fid_inception(path), lambda: build_lpips('alex', path),
                  lambda: build_arcface(path, 'iresnet18')):
        with pytest.raises(MetricWeightsError, match='detection_Resnet50_Final.pth'):
            build()
    with pytest.raises(UnsafeWeightsError):
        load_retinaface(path, torch.device('cpu'))
    states = tmp_path / 'states'
    states.mkdir()
    os.replace(path, states / '8.state')
    assert newest_training_state(str(states)) == (None, None)
    assert not os.path.exists(marker)
