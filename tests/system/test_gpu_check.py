"""scripts/benchmarks/gpu_check.py: its CPU run (the same logic as on a GPU) and the in-place docs section."""
import os
import subprocess
import sys

import pytest

from helpers import REPO

sys.path.insert(0, os.path.join(REPO, 'scripts', 'benchmarks'))
import gpu_check  # noqa: E402


def test_write_section_replaces_its_own_section_and_keeps_the_rest(tmp_path):
    path = str(tmp_path / 'benchmarks.md')
    with open(path, 'w') as f:
        f.write('# Benchmarks\n\n## Other\n\ntext\n')
    first = f'{gpu_check.SECTION}\n\n{gpu_check.BEGIN}\nrun one\n{gpu_check.END}'
    gpu_check.write_section(path, first)
    with open(path, 'a') as f:
        f.write('\n## Later section\n\nkept\n')
    gpu_check.write_section(path, first.replace('run one', 'run two'))
    text = open(path).read()
    assert text.count(gpu_check.SECTION) == 1 and 'run one' not in text and 'run two' in text
    assert text.startswith('# Benchmarks\n\n## Other\n\ntext\n') and text.endswith('## Later section\n\nkept\n')


def test_ratio_and_cells():
    assert gpu_check.ratio(2.0, 4.0) == '0.50' and gpu_check.ratio(2.0, 4.0, 0.25) == '0.12'
    assert gpu_check.ratio('fails: x', 4.0) == '-' and gpu_check.ratio(1.0, 0.0) == '-'
    assert gpu_check.cell(1.23456, ' s') == '1.235 s' and gpu_check.cell('1 GPU: skipped') == '1 GPU: skipped'


@pytest.mark.slow
def test_cpu_tiny_run_writes_one_full_table_in_place(tmp_path):
    out = tmp_path / 'benchmarks.md'
    out.write_text(f'intro\n\n{gpu_check.SECTION}\n\n{gpu_check.BEGIN}\nold table\n{gpu_check.END}\n\n## After\n')
    env = dict(os.environ, PYTHONPATH=REPO)
    command = [sys.executable, os.path.join(REPO, 'scripts', 'benchmarks', 'gpu_check.py'), '--device', 'cpu',
               '--size', 'tiny', '--steps', '1', '--warmup', '0', '--jpeg-faces', '10', '--out', str(out)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert text.startswith('intro\n\n') and text.endswith('## After\n') and 'old table' not in text
    table = [line for line in text.splitlines() if line.startswith('| ')][1:]  # after the header
    labels = [line.split(' | ')[0][2:] for line in table]
    for variant in ('fp32', 'bf16', 'channels_last', 'degrade_on_device'):
        assert f'training step, {variant} (s/step)' in labels
    fp32 = table[labels.index('training step, fp32 (s/step)')].split(' | ')
    assert fp32[1].endswith('CPU s') and fp32[2].endswith('CPU s') and float(fp32[3]) > 0
    assert any(line.startswith('| device JPEG vs OpenCV') and 'bit-exact 10/10' in line for line in table)
    assert any(line.startswith('| DDP training step') and 'gloo' in line and 'CPU s' in line for line in table)
    assert any('largest batch' in line and 'batch 2' in line for line in table)
    assert any('compiled StyleGAN2 ops' in line and 'skipped' in line for line in table)
    assert sum(line.startswith('| forward faces/s') for line in table) == 2
