"""GFPGANv1Clean is available in ARCH_REGISTRY when gfpgan imports, with a clear error when it does not."""
import subprocess
import sys

import torch

import panini_arch  # noqa: F401  (registers the architectures)
from basicsr.archs import build_network


def test_gfpgan_v1_clean_builds_small_and_runs_forward_on_cpu():
    torch.manual_seed(0)
    model = build_network({
        'type': 'GFPGANv1Clean', 'out_size': 64, 'num_style_feat': 32, 'channel_multiplier': 2, 'narrow': 1 / 16,
        'decoder_load_path': None, 'fix_decoder': False, 'num_mlp': 8, 'input_is_latent': True,
        'different_w': True, 'sft_half': True})
    assert type(model).__module__.startswith('gfpgan.')
    image, rgbs = model(torch.rand(1, 3, 64, 64) * 2 - 1)
    assert image.shape == (1, 3, 64, 64) and torch.isfinite(image).all()
    assert [rgb.shape[-1] for rgb in rgbs] == [8, 16, 32, 64]


def test_missing_gfpgan_leaves_the_package_working_and_names_the_install():
    script = ("import sys; sys.modules['gfpgan'] = None\n"
              "import panini_arch\n"
              "from basicsr.archs import build_network\n"
              "try:\n"
              "    build_network({'type': 'GFPGANv1Clean', 'out_size': 64})\n"
              "except ImportError as error:\n"
              "    print(error)\n")
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'pip install gfpgan' in result.stdout
