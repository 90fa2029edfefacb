"""TorchScript and ONNX exports of a tiny Panini-Net reproduce PyTorch's output."""
import pytest
import torch

from panini_arch.export import ExportedPanini, export_onnx, export_program, export_torchscript, main, run_onnx
from panini_arch.archs.presets import build_panini

pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')


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
