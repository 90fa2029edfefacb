"""Inference precision and layout (panini_arch.archs.precision) and the flags that reach it."""
import cv2
import pytest
import torch

import panini_arch  # noqa: F401  (first: makes basicsr importable)
from basicsr.archs import build_network
from panini_arch.archs.arch_util import set_memory_format
from panini_arch.archs.precision import InferenceRunner, channels_last_by_default
from panini_arch.inference import main as restore_main
from panini_arch.test import precision_to_force_yml
from panini_arch.archs.presets import PRESETS
from panini_arch.data.synthetic_faces import draw_face


@pytest.fixture(scope='module')
def tiny_net():
    torch.manual_seed(0)
    return build_network(dict(type='PaniniNet', **PRESETS['tiny'])).eval()


def test_channels_last_is_exact_and_bf16_close(tiny_net):
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        reference = InferenceRunner(tiny_net, 'cpu', 'fp32', 'off')(x)
        nhwc = InferenceRunner(tiny_net, 'cpu', 'fp32', 'on')
        assert nhwc.channels_last and any(not p.is_contiguous() for p in tiny_net.parameters() if p.dim() == 4)
        assert (nhwc(x) - reference).abs().max() < 1e-5
        bf16 = InferenceRunner(tiny_net, 'cpu', 'bf16', 'off')(x)
    assert bf16.dtype == torch.float32 and bf16.is_contiguous()
    assert 0 < (bf16 - reference).abs().max() < 0.2


def test_auto_layout_only_for_the_measured_case(tiny_net):
    assert not channels_last_by_default(tiny_net)  # 64 px input: not measured faster
    assert not InferenceRunner(tiny_net, 'cpu', channels_last='auto').channels_last
    tiny_net.in_size, saved = 512, tiny_net.in_size
    try:
        assert channels_last_by_default(tiny_net)
    finally:
        tiny_net.in_size = saved
    assert not channels_last_by_default(torch.nn.Conv2d(3, 3, 1))
    assert InferenceRunner(tiny_net, 'cpu', channels_last=True).channels_last  # YAML's `on`


def test_fp16_needs_cuda_and_bad_values_are_named(tiny_net, tmp_path, capsys):
    with pytest.raises(ValueError, match='fp16 needs a CUDA device.*bf16 or fp32'):
        InferenceRunner(tiny_net, 'cpu', 'fp16')
    with pytest.raises(ValueError, match='precision must be one of'):
        InferenceRunner(tiny_net, 'cpu', 'int8')
    with pytest.raises(ValueError, match='channels_last must be one of'):
        InferenceRunner(tiny_net, 'cpu', 'fp32', 'maybe')
    face = tmp_path / 'in' / 'face.png'
    face.parent.mkdir()
    cv2.imwrite(str(face), draw_face(64, 0))
    with pytest.warns(UserWarning, match='RANDOM'):
        assert restore_main(['-i', str(face.parent), '-o', str(tmp_path / 'out'), '--arch', 'tiny', '--random_weights',
                             '--device', 'cpu', '--aligned', '--precision', 'fp16']) == 2
    assert 'fp16 needs a CUDA device (got cpu)' in capsys.readouterr().err


def test_test_script_flags_become_force_yml_entries():
    assert precision_to_force_yml(['-opt', 'a.yml']) == ['-opt', 'a.yml']
    assert precision_to_force_yml(['-opt', 'a.yml', '--precision', 'bf16']) == [
        '-opt', 'a.yml', '--force_yml', 'val:precision=bf16']
    assert precision_to_force_yml(['--force_yml', 'name=x', '-opt', 'a.yml', '--channels_last', 'off']) == [
        '--force_yml', 'val:channels_last=off', 'name=x', '-opt', 'a.yml']


def test_set_memory_format_converts_4d_tensors_only():
    model = torch.nn.Module()
    model.conv = torch.nn.Conv2d(3, 4, 3)
    model.modulated = torch.nn.Parameter(torch.randn(1, 4, 3, 3, 3))
    set_memory_format(model, torch.channels_last)
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.conv.weight.is_contiguous()
    assert model.modulated.is_contiguous()
    set_memory_format(model, torch.contiguous_format)
    assert model.conv.weight.is_contiguous()
