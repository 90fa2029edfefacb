"""Parameters, CPU forward latency and peak memory of Panini-Net and its peers at full size.

Models (batch 1, random weights, eval mode, ``torch.inference_mode``):
PaniniNet-FR (512 -> 1024), Panini-SR (64 -> 1024), Cat-Conv SR (64 -> 1024),
GFPGANv1Clean (512 -> 512, the v1.3/v1.4 configuration) and GPEN-BFR-512.

Each model runs in its own child process (same machine, one invocation), so
its memory figure is its own: ``peak RSS`` is the child's ``ru_maxrss`` after
building the model and running the fp32 forwards, minus the RSS measured after
the imports (Linux ``/proc/self/statm``); it therefore counts weights plus
forward activations and allocator slack. Latency is the median of ``--runs``
timed fp32 forwards after ``--warmup`` untimed ones. ``--bf16`` (CPU autocast)
and ``--channels-last`` time the same forward in those modes and report the
speed-up and the max abs output difference against fp32. ``--defaults`` times
the forward as ``panini-restore`` and ``scripts/test.py`` run it without flags
(``panini_arch.archs.precision.InferenceRunner``: fp32, channels_last where
``auto`` picks it) and gives its per-megapixel ratio to GFPGAN's. ``--breakdown``
reports the inclusive CPU time of each top-level part (first two name levels,
list indices merged) during one extra forward.

Ratios are to GFPGANv1Clean; "s / out MP" is the latency per output megapixel.
"CPU s" is the median process CPU time (all threads) of one forward: on a
machine shared with other jobs it is far steadier than wall time, so its
per-megapixel ratio is the one to trust there.

Usage:
    python scripts/benchmarks/bench_archs.py --threads 2 --runs 3 --bf16 --channels-last --defaults
    python scripts/benchmarks/bench_archs.py --models PaniniNet-FR --breakdown --runs 1
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict

import torch

from panini_arch.archs.presets import PRESETS

# name: (build_network options, input side, output side, forward keyword arguments)
MODELS = {
    'PaniniNet-FR': (dict(type='PaniniNet', **PRESETS['fr']), 512, 1024, {}),
    'Panini-SR': (dict(type='PaniniNet', **PRESETS['sr16']), 64, 1024, {}),
    'Cat-Conv SR': (dict(type='PaniniNet', **PRESETS['catconv']), 64, 1024, {}),
    'GFPGANv1Clean': (dict(type='GFPGANv1Clean', out_size=512, num_style_feat=512, channel_multiplier=2,
                           decoder_load_path=None, fix_decoder=False, num_mlp=8, input_is_latent=True,
                           different_w=True, narrow=1, sft_half=True), 512, 512,
                      dict(return_rgb=False, randomize_noise=False)),
    'GPEN-512': (dict(type='GPEN', size=512), 512, 512, {}),
}
REFERENCE = 'GFPGANv1Clean'
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # works uninstalled too
MIB = 2**20


def current_rss():
    """Resident memory of this process in bytes (Linux)."""
    with open('/proc/self/statm') as handle:
        return int(handle.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def peak_rss():
    """Peak resident memory of this process so far in bytes (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def image_of(output):
    """The restored image of a forward's output (GFPGAN returns ``(image, rgbs)``), as fp32."""
    return (output[0] if isinstance(output, (tuple, list)) else output).float()


def time_forward(model, x, kwargs, runs, warmup):
    """Median wall and CPU (all threads) seconds of ``runs`` forwards after ``warmup`` untimed ones, last image."""
    wall, cpu = [], []
    for i in range(warmup + runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = image_of(model(x, **kwargs))
        if out.is_cuda:
            torch.cuda.synchronize(out.device)
        if i >= warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), out


def time_variant(model, x, kwargs, args, reference):
    """{'s', 'cpu_s', 'max_diff'} of the forward in the current mode against the fp32 output, or {'error'}."""
    try:
        seconds, cpu_seconds, out = time_forward(model, x, kwargs, args.runs, args.warmup)
    except RuntimeError as error:  # e.g. an op without a bf16 kernel: report it, keep measuring the rest
        return dict(error=str(error).split('. ')[0])
    return dict(s=seconds, cpu_s=cpu_seconds, max_diff=(out - reference).abs().max().item())


def part_key(name):
    """'generator.style_convs.3.modulated_conv' -> 'generator.style_convs' (first two non-index levels)."""
    return '.'.join([part for part in name.split('.') if not part.isdigit()][:2])


def time_parts(model, x, kwargs):
    """Inclusive CPU seconds (all threads) per top-level part during one forward; nested calls count once."""
    totals, starts, depth = defaultdict(float), {}, defaultdict(int)

    def enter(key):
        if depth[key] == 0:
            starts[key] = time.process_time()
        depth[key] += 1

    def leave(key):
        depth[key] -= 1
        if depth[key] == 0:
            totals[key] += time.process_time() - starts[key]

    handles = []
    for name, module in model.named_modules():
        if name:
            key = part_key(name)
            handles.append(module.register_forward_pre_hook(lambda m, inp, key=key: enter(key)))
            handles.append(module.register_forward_hook(lambda m, inp, out, key=key: leave(key)))
    start = time.process_time()
    model(x, **kwargs)
    total = time.process_time() - start
    for handle in handles:
        handle.remove()
    return total, dict(sorted(totals.items(), key=lambda item: -item[1]))


def measure(name, args):
    """Child-process work for one model; returns a JSON-able dict."""
    torch.set_num_threads(args.threads)
    import panini_arch  # noqa: F401  (registers PaniniNet, GPEN, GFPGANv1Clean)
    from basicsr.archs import build_network
    from panini_arch.archs.arch_util import set_memory_format
    from panini_arch.archs.precision import InferenceRunner

    options, in_size, out_size, kwargs = MODELS[name]
    base_rss = current_rss()
    torch.manual_seed(0)
    model = build_network(dict(options)).eval()
    x = torch.rand(1, 3, in_size, in_size) * 2 - 1
    result = dict(name=name, in_size=in_size, out_size=out_size, params=sum(p.numel() for p in model.parameters()))
    with torch.inference_mode():
        result['fp32_s'], result['fp32_cpu_s'], reference = time_forward(model, x, kwargs, args.runs, args.warmup)
        result['peak_rss_mib'] = (peak_rss() - base_rss) / MIB
        result['finite'] = bool(torch.isfinite(reference).all())
        if args.bf16:
            with torch.autocast('cpu', dtype=torch.bfloat16):
                result['bf16'] = time_variant(model, x, kwargs, args, reference)
        if args.channels_last:
            set_memory_format(model, torch.channels_last)
            result['channels_last'] = time_variant(model, x.contiguous(memory_format=torch.channels_last), kwargs,
                                                   args, reference)
            set_memory_format(model, torch.contiguous_format)
        if args.defaults:  # what panini-restore and scripts/test.py run without flags
            runner = InferenceRunner(model, 'cpu')
            result['defaults'] = dict(time_variant(runner, x, kwargs, args, reference), channels_last=runner.channels_last)
            set_memory_format(model, torch.contiguous_format)
        if args.breakdown:
            result['breakdown_total_s'], result['breakdown'] = time_parts(model, x, kwargs)
    return result


def run_child(name, args):
    """Measure one model in a fresh interpreter; returns its dict, or one with an 'error'."""
    command = [sys.executable, os.path.abspath(__file__), '--worker', name, '--threads', str(args.threads),
               '--runs', str(args.runs), '--warmup', str(args.warmup)]
    command += [flag for flag, on in (('--bf16', args.bf16), ('--channels-last', args.channels_last),
                                      ('--defaults', args.defaults), ('--breakdown', args.breakdown)) if on]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])))
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('RESULT ')]
    if proc.returncode != 0 or not lines:
        return dict(name=name, error=(proc.stderr.strip().splitlines() or ['no output'])[-1])
    return json.loads(lines[-1][len('RESULT '):])


def megapixels(result):
    return result['out_size']**2 / 1e6


def ratio_cell(seconds, result, ref_seconds, ref):
    """``seconds`` per output MP of ``result`` over ``ref_seconds`` per output MP of ``ref``, as '0.50x'."""
    if not ref or ref_seconds is None:
        return 'n/a'
    return f'{seconds / megapixels(result) / (ref_seconds / megapixels(ref)):.2f}x'


def markdown_table(results, args):
    """Markdown tables: main figures with ratios to GFPGAN, the precision/layout variants, breakdowns."""
    ref = next((r for r in results if r['name'] == REFERENCE and 'error' not in r), None)
    lines = ['| model | in -> out | params (M) | params / GFPGAN | fp32 s | s / out MP | (s / out MP) / GFPGAN '
             '| CPU s | (CPU s / out MP) / GFPGAN | peak RSS (MiB) |', '|---|---|---|---|---|---|---|---|---|---|']
    for r in results:
        if 'error' in r:
            lines.append(f"| {r['name']} | failed: {r['error']} | | | | | | | | |")
            continue
        per_mp = r['fp32_s'] / megapixels(r)
        params_ratio = f"{r['params'] / ref['params']:.2f}x" if ref else 'n/a'
        per_mp_ratio = ratio_cell(r['fp32_s'], r, ref and ref['fp32_s'], ref)
        cpu_ratio = ratio_cell(r['fp32_cpu_s'], r, ref and ref['fp32_cpu_s'], ref)
        lines.append(f"| {r['name']} | {r['in_size']} -> {r['out_size']} | {r['params'] / 1e6:.1f} | {params_ratio} | "
                     f"{r['fp32_s']:.2f} | {per_mp:.2f} | {per_mp_ratio} | {r['fp32_cpu_s']:.2f} | {cpu_ratio} | "
                     f"{r['peak_rss_mib']:.0f} |")
    variants = [key for key, on in (('bf16', args.bf16), ('channels_last', args.channels_last)) if on]
    if variants:
        lines += ['', '| model | ' + ' | '.join(f'{v} s | {v} speed-up (wall / CPU) | {v} max abs diff'
                                              for v in variants) + ' |',
                  '|---|' + '---|---|---|' * len(variants)]
        for r in results:
            if 'error' in r:
                continue
            cells = [f"failed: {r[v]['error']} | |" if 'error' in r[v] else
                     f"{r[v]['s']:.2f} | {r['fp32_s'] / r[v]['s']:.2f}x / {r['fp32_cpu_s'] / r[v]['cpu_s']:.2f}x | "
                     f"{r[v]['max_diff']:.2e}" for v in variants]
            lines.append(f"| {r['name']} | " + ' | '.join(cells) + ' |')
    if args.defaults:
        lines += defaults_table(results, ref)
    for r in results:
        if 'breakdown' in r:
            lines += ['', f"Inclusive CPU time per part, {r['name']} (one forward, {r['breakdown_total_s']:.2f} CPU s):",
                      '', '| part | CPU s | share |', '|---|---|---|']
            lines += [f'| {part} | {s:.3f} | {s / r["breakdown_total_s"]:.0%} |' for part, s in r['breakdown'].items()]
    return '\n'.join(lines)


def defaults_table(results, ref):
    """Rows of the default inference settings (fp32, ``--channels_last auto``), per output MP against GFPGAN's."""
    ref_default = ref.get('defaults', {}) if ref else {}
    lines = ['', '| model | default layout | default s | s / out MP | (s / out MP) / GFPGAN default | CPU s '
             '| (CPU s / out MP) / GFPGAN default | max abs diff vs fp32 NCHW |', '|---|---|---|---|---|---|---|---|']
    for r in results:
        d = r.get('defaults')
        if d is None:
            continue
        if 'error' in d:
            lines.append(f"| {r['name']} | failed: {d['error']} | | | | | | |")
            continue
        ratio = ratio_cell(d['s'], r, ref_default.get('s'), ref)
        cpu_ratio = ratio_cell(d['cpu_s'], r, ref_default.get('cpu_s'), ref)
        layout = 'channels_last' if d['channels_last'] else 'NCHW'
        lines.append(f"| {r['name']} | {layout} | {d['s']:.2f} | {d['s'] / megapixels(r):.2f} | {ratio} | "
                     f"{d['cpu_s']:.2f} | {cpu_ratio} | {d['max_diff']:.2e} |")
    return lines


def machine_line(args):
    cpu = platform.processor() or platform.machine()
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as handle:
            cpu = next((line.split(':', 1)[1].strip() for line in handle if line.startswith('model name')), cpu)
    return (f'{cpu}, {os.cpu_count()} visible cores, torch {torch.__version__}, {args.threads} threads, '
            f'median of {args.runs} runs after {args.warmup} warm-up, batch 1, fp32 unless stated')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--threads', type=int, default=2, help='torch.set_num_threads in every child (2)')
    parser.add_argument('--runs', type=int, default=3, help='timed forwards per model and mode (3)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed forwards first (1)')
    parser.add_argument('--bf16', action='store_true', help='also time CPU autocast bf16')
    parser.add_argument('--channels-last', action='store_true', help='also time channels_last memory format')
    parser.add_argument('--defaults', action='store_true',
                        help='also time the default inference settings (fp32, channels_last where auto picks it)')
    parser.add_argument('--breakdown', action='store_true', help='also time the top-level parts of each model')
    parser.add_argument('--models', nargs='+', choices=list(MODELS), default=list(MODELS), help='subset to run')
    parser.add_argument('--markdown', help='append the tables as a dated section to this Markdown file')
    parser.add_argument('--worker', choices=list(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print('RESULT ' + json.dumps(measure(args.worker, args)), flush=True)
        return
    results = []
    for name in args.models:
        print(f'measuring {name} ...', file=sys.stderr, flush=True)
        results.append(run_child(name, args))
    table = markdown_table(results, args)
    print(machine_line(args) + '\n\n' + table)
    if args.markdown:
        with open(args.markdown, 'a') as handle:
            handle.write(f"\n## Architecture benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
                         f"`python scripts/benchmarks/{os.path.basename(__file__)} {' '.join(sys.argv[1:])}`\n\n"
                         f'{machine_line(args)}.\n\n{table}\n')


if __name__ == '__main__':
    main()
