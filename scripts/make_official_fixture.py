"""Derive the small fixture the official-conversion tests read, from the authors' full fixture files.

The authors' fixture (``fixture_mfr_io.pt``, ``fixture_sr_io.pt``: 16 + 13 MB, not in this repository)
holds ``{'input', 'output'}``: a seeded input and the output of their own ``Panini_MFR`` / ``Panini_SR``
on rule-made weights (docs/official_weights.md, "Numerical check"). This script keeps, per network,
what the tests need to compare a converted ``PaniniNet`` with that output, in
``tests/fixtures/official/fixture_<name>.pt`` (about 0.25 MB each):

- ``input_seed``, ``input_shape``, ``input_sha256``: the input is exactly
  ``torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1`` (checked here, bit for
  bit); the tests regenerate it and check the hash, so no input is stored;
- ``crops`` (float16, N x 3 x 64 x 64) at ``crop_corners`` (top, left): the four corners, the centre,
  the window around the largest ``|output|`` and two seeded positions;
- ``pooled`` (float32, 3 x H/16 x W/16): 16x16 means of the whole output;
- ``abs_max``, ``mean``, ``std`` (float64) of the whole output.

Run once by a developer who has the authors' files (default: ``../shared/official`` beside the clone):
``python scripts/make_official_fixture.py [--source DIR]``. It prints the float16 rounding error of the
crops, the term the tests add to the authors' tolerance.
"""
import argparse
import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / 'tests' / 'fixtures' / 'official'
INPUT_SEED = 2
CROP = 64
POOL = 16
EXTRA_CROPS = 2


def seeded_input(shape, seed):
    """The authors' fixture input: uniform in [-1, 1) from a seeded CPU generator (float32)."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def tensor_sha256(tensor):
    """SHA-256 of a contiguous tensor's bytes (its dtype and shape fixed by the caller)."""
    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


def crop_corners(output):
    """(top, left) of the 64x64 windows kept: corners, centre, around max |output|, seeded extras."""
    height, width = output.shape[-2:]
    last_top, last_left = height - CROP, width - CROP
    corners = [(0, 0), (0, last_left), (last_top, 0), (last_top, last_left), (last_top // 2, last_left // 2)]
    peak = int(output.abs().amax(dim=(0, 1)).argmax())
    row, col = divmod(peak, width)
    corners.append((min(max(row - CROP // 2, 0), last_top), min(max(col - CROP // 2, 0), last_left)))
    g = torch.Generator().manual_seed(0)
    for _ in range(EXTRA_CROPS):
        corners.append((int(torch.randint(last_top + 1, (1,), generator=g)),
                        int(torch.randint(last_left + 1, (1,), generator=g))))
    return corners


def derive(io):
    """The small fixture of one ``{'input', 'output'}`` pair (batch of one)."""
    inputs, output = io['input'], io['output']
    regenerated = seeded_input(tuple(inputs.shape), INPUT_SEED)
    if not torch.equal(regenerated, inputs):
        raise SystemExit(f'the input is not seed {INPUT_SEED}\'s torch.rand * 2 - 1 on this torch')
    image = output[0]
    corners = crop_corners(image)
    crops = torch.stack([image[:, top:top + CROP, left:left + CROP] for top, left in corners])
    return {'input_seed': INPUT_SEED, 'input_shape': list(inputs.shape), 'input_sha256': tensor_sha256(inputs),
            'crop_corners': corners, 'crops': crops.half(),
            'pooled': F.avg_pool2d(output, POOL)[0].clone(),
            'abs_max': output.abs().max().double().item(), 'mean': output.double().mean().item(),
            'std': output.double().std().item()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--source', default=str(REPO.parent / 'shared' / 'official'),
                        help='folder holding the authors\' fixture_mfr_io.pt and fixture_sr_io.pt')
    args = parser.parse_args(argv)
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in ('mfr', 'sr'):
        source = Path(args.source) / f'fixture_{name}_io.pt'
        if not source.is_file():
            raise SystemExit(f'{source} is missing: --source names the folder of the authors\' fixture files')
        io = torch.load(source, weights_only=True)
        fixture = derive(io)
        target = TARGET / f'fixture_{name}.pt'
        torch.save(fixture, target)
        exact = torch.stack([io['output'][0, :, t:t + CROP, l:l + CROP] for t, l in fixture['crop_corners']])
        rounding = (fixture['crops'].float() - exact).abs()
        print(f'{target.relative_to(REPO)}: {target.stat().st_size / 1e6:.2f} MB, |output| <= '
              f'{fixture["abs_max"]:.3g}, float16 rounding of the crops <= {rounding.max():.3g} '
              f'(relative {(rounding / exact.abs().clamp_min(1e-30)).max():.3g}; bound 2^-11 = {2 ** -11:.3g})')


if __name__ == '__main__':
    main()
