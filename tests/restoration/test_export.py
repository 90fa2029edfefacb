"""TorchScript and ONNX exports of a tiny Panini-Net reproduce PyTorch's output.

onnx, onnxscript and onnxruntime are part of the ``test`` extra, so these always run; a missing one
is tested for its install command.
"""
import importlib

import pytest
import torch

from panini_arch.export import ExportedPanini, export_onnx, export_program, export_torchscript, main, run_onnx
from panini_arch.archs.presets import build_panini
from panini_arch.utils import optional


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A tiny net with a prior-weight bias, its input, PyTorch output and exported graph."""
    torch.manual_seed(0)
    module = ExportedPanini(build_panini('tiny'), mask_bias=0.7).eval()
    lq = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        reference = module(lq)
    return module, lq, reference, export_program(module, lq), tmp_path_factory.mktemp('export')


def test_torchscript_matches_pytorch(exported):
    module, lq, reference, program, folder = exported
    scripted = export_torchscript(program, lq, folder / 'net.pt')
    other = torch.rand_like(lq) * 2 - 1
    with torch.no_grad():
        assert (scripted(lq) - reference).abs().max() < 1e-4
        assert (scripted(other) - module(other)).abs().max() < 1e-4


def test_onnx_matches_pytorch(exported):
    _, lq, reference, program, folder = exported
    export_onnx(program, folder / 'net.onnx')
    assert abs(run_onnx(folder / 'net.onnx', lq) - reference.numpy()).max() < 1e-4


def test_cli_reports_small_differences(tmp_path, capsys):
    diffs = main(['--arch', 'tiny', '--random_weights', '--formats', 'torchscript', '-o', str(tmp_path)])
    assert diffs['torchscript'] < 1e-4
    assert 'max abs diff' in capsys.readouterr().out
    assert (tmp_path / 'panini.torchscript.pt').is_file()


def test_missing_onnxruntime_names_its_install_command(monkeypatch, tmp_path):
    real = importlib.import_module

    def without_onnxruntime(name, *args):
        if name == 'onnxruntime':
            raise ImportError("No module named 'onnxruntime'")
        return real(name, *args)

    monkeypatch.setattr(optional.importlib, 'import_module', without_onnxruntime)
    with pytest.raises(ImportError, match=r'needs the optional package onnxruntime: pip install -e "\.\[export\]"'):
        run_onnx(tmp_path / 'net.onnx', torch.zeros(1))
