"""Helpers of scripts/benchmarks/bench_archs.py (the full-size run itself is too slow for the suite)."""
import argparse
import importlib.util
import os
from collections import OrderedDict

import torch
from torch import nn

from helpers import REPO

SCRIPT = os.path.join(REPO, 'scripts', 'benchmarks', 'bench_archs.py')
spec = importlib.util.spec_from_file_location('bench_archs', SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_part_key_merges_list_indices_and_keeps_two_levels():
    assert bench.part_key('generator.style_convs.3.modulated_conv') == 'generator.style_convs'
    assert bench.part_key('fusions.0.conv') == 'fusions.conv'
    assert bench.part_key('lce') == 'lce'


def test_time_parts_counts_nested_calls_of_one_part_once():
    blocks = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))  # keys: all 'blocks'
    model = nn.Sequential(OrderedDict(blocks=blocks, head=nn.Sequential(OrderedDict(act=nn.ReLU()))))
    total, parts = bench.time_parts(model, torch.rand(1, 3, 128, 128), {})
    assert set(parts) == {'blocks', 'head', 'head.act'}
    assert parts['blocks'] <= total  # counted twice (Sequential + its convs) it would exceed the forward
    assert parts['head.act'] <= parts['head']
    assert not any(module._forward_hooks or module._forward_pre_hooks for module in model.modules())


def test_markdown_table_reports_ratios_to_gfpgan_per_output_megapixel():
    common = dict(peak_rss_mib=100.0, bf16=dict(s=1.0, cpu_s=2.0, max_diff=0.01), channels_last=dict(error='view size'))
    results = [
        dict(name='GFPGANv1Clean', in_size=512, out_size=512, params=80e6, fp32_s=2.0, fp32_cpu_s=4.0, **common),
        dict(name='PaniniNet-FR', in_size=512, out_size=1024, params=100e6, fp32_s=4.0, fp32_cpu_s=4.0, **common),
        dict(name='GPEN-512', error='boom'),
    ]
    args = argparse.Namespace(bf16=True, channels_last=True, defaults=False)
    table = bench.markdown_table(results, args)
    panini = next(line for line in table.splitlines() if line.startswith('| PaniniNet-FR | 512'))
    cells = [cell.strip() for cell in panini.strip('|').split('|')]
    assert cells[3] == '1.25x'  # params
    assert cells[5] == '3.81' and cells[6] == '0.50x'  # 4 s over 1.048576 MP; GFPGAN 2 s over 0.262144 MP
    assert cells[8] == '0.25x'  # CPU time per output MP
    assert '| GPEN-512 | failed: boom' in table
    assert '| 1.00 | 2.00x / 2.00x | 1.00e-02 | failed: view size' in table
    assert 'default layout' not in table

    results[0]['defaults'] = dict(s=2.0, cpu_s=4.0, max_diff=0.0, channels_last=False)
    results[1]['defaults'] = dict(s=2.0, cpu_s=4.0, max_diff=7e-7, channels_last=True)
    table = bench.markdown_table(results, argparse.Namespace(bf16=False, channels_last=False, defaults=True))
    assert '| PaniniNet-FR | channels_last | 2.00 | 1.91 | 0.25x | 4.00 | 0.25x | 7.00e-07 |' in table
    assert '| GFPGANv1Clean | NCHW | 2.00 | 7.63 | 1.00x |' in table
