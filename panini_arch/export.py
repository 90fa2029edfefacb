"""Export a Panini-Net to TorchScript and ONNX, checked numerically against PyTorch.

The exported graph maps an RGB face (B, 3, in, in) in [-1, 1] to (B, 3, out, out)
in [-1, 1]; a ``--prior_weight`` is baked in as a constant mask bias. Neither
file needs BasicSR or panini-arch to run.
"""
import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .archs.presets import PANINI_SOURCE, PRESETS, build_generator, panini_options, read_network_g
from .restoration.face_restorer import prior_weight_to_bias
from .utils.optional import EXPORT_INSTALL, import_optional


class ExportedPanini(nn.Module):
    """``net(lq, mask_bias=...)`` with a single tensor input, as exporters want."""

    def __init__(self, net, mask_bias=None):
        super().__init__()
        self.net = net
        self.mask_bias = mask_bias

    def forward(self, lq):
        return self.net(lq, mask_bias=self.mask_bias)


def export_program(module, example):
    """``torch.export`` the module for inputs shaped like ``example`` (static shapes).

    Both formats start from this graph: with every size a constant, StyleGAN2's
    modulated convolutions (batch folded into the conv groups) have static
    kernels, which ONNX requires, and the TorchScript trace records plain ops.
    """
    with torch.no_grad():
        return torch.export.export(module, (example,))


def export_torchscript(program, example, path):
    """Trace the exported graph into TorchScript at ``path``; returns the reloaded module."""
    with torch.no_grad():
        traced = torch.jit.trace(program.module(), example, check_trace=False)
    traced.save(str(path))
    return torch.jit.load(str(path))


def export_onnx(program, path, opset=18):
    """Write the exported graph to ONNX at ``path`` (input ``lq``, output ``restored``)."""
    for module in ('onnx', 'onnxscript'):
        import_optional(module, EXPORT_INSTALL, 'ONNX export')
    torch.onnx.export(program, input_names=['lq'], output_names=['restored'], f=str(path), opset_version=opset,
                      dynamo=True, external_data=False)


def run_onnx(path, lq):
    """Run an ONNX file with onnxruntime (CPU) on a (B, 3, H, W) tensor; returns a numpy array."""
    onnxruntime = import_optional('onnxruntime', EXPORT_INSTALL, 'Checking the ONNX file')
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return session.run(None, {'lq': lq.numpy()})[0]


def max_abs_diff(reference, other):
    """Largest absolute difference between a torch tensor and a tensor or array."""
    other = other.detach().numpy() if isinstance(other, torch.Tensor) else other
    return float(np.abs(reference.detach().numpy() - other).max())


def parse_args(argv=None):
    """Parse the command line (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--arch', default='fr', choices=sorted(PRESETS), help='network preset')
    parser.add_argument('--opt', help='BasicSR option file whose network_g builds the net (overrides --arch)')
    parser.add_argument('--model_path', help='trained checkpoint; without it --random_weights is required')
    parser.add_argument('--random_weights', action='store_true', help='export an untrained net (tests only)')
    parser.add_argument('--prior_weight', type=float, default=None, help='baked-in fidelity/quality knob')
    parser.add_argument('-o', '--output', default='exported', help='output folder')
    parser.add_argument('--formats', nargs='+', default=['torchscript', 'onnx'], choices=['torchscript', 'onnx'])
    parser.add_argument('--opset', type=int, default=18)
    parser.add_argument('--batch', type=int, default=1, help='batch size the exported graph takes (fixed)')
    return parser.parse_args(argv)


def main(argv=None):
    """Export and print the max abs difference of each format against PyTorch; returns {format: diff}."""
    args = parse_args(argv)
    if not args.model_path and not args.random_weights:
        raise FileNotFoundError('Pass --model_path (a trained checkpoint) or --random_weights (untrained, tests).')
    net = build_generator(panini_options(read_network_g(args.opt) if args.opt else args.arch), args.model_path, 'auto',
                          args.random_weights, 'Panini-Net', PANINI_SOURCE)
    module = ExportedPanini(net, prior_weight_to_bias(args.prior_weight)).eval()
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    example = torch.rand(args.batch, 3, net.in_size, net.in_size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        reference = module(example)
    program = export_program(module, example)
    diffs = {}
    if 'torchscript' in args.formats:
        path = out_dir / 'panini.torchscript.pt'
        with torch.no_grad():
            diffs['torchscript'] = max_abs_diff(reference, export_torchscript(program, example, path)(example))
        print(f'TorchScript: {path}  max abs diff vs PyTorch = {diffs["torchscript"]:.3e}')
    if 'onnx' in args.formats:
        path = out_dir / 'panini.onnx'
        export_onnx(program, path, args.opset)
        diffs['onnx'] = max_abs_diff(reference, run_onnx(path, example))
        print(f'ONNX: {path}  max abs diff vs PyTorch (onnxruntime) = {diffs["onnx"]:.3e}')
    return diffs


if __name__ == '__main__':
    main()
