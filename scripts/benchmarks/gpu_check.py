"""Everything a lent GPU should measure, in one command and one table (also runs, tiny, on any CPU).

    python scripts/benchmarks/gpu_check.py                           # CUDA, full size, < 8 minutes
    python scripts/benchmarks/gpu_check.py --device cpu --size tiny  # the same logic anywhere, about a minute

Rows, Panini-FR beside GFPGANv1Clean (gfpgan package, v1.3 layout) measured in the same run:

* training step (``bench_train.time_steps``: ``feed_data`` + ``PaniniModel.optimize_parameters`` with the
  same losses, discriminator and Adam; random weights, batch 1) in fp32, bf16 autocast, channels_last and
  ``degrade_on_device``, per step and per output megapixel;
* peak memory of a fp32 step at batch 1 and the largest batch whose step fits, found by doubling and then
  bisecting, stopped by ``--search-seconds`` or ``--max-batch`` (GPU memory on CUDA; on a CPU only the
  search runs, bounded by ``--max-batch``);
* forward faces/s (fp32, ``torch.inference_mode``) at batch 1 and 8;
* the device JPEG of the on-device Eq. 10 (``degradation_torch.jpeg_batch`` on ``--device``) against OpenCV's,
  bit-exact count and worst PSNR;
* a two-process DistributedDataParallel step of Panini-FR: NCCL where two GPUs exist (else "1 GPU:
  skipped"), gloo with ``--device cpu``;
* BasicSR's compiled StyleGAN2 ops (``BASICSR_JIT=True``, built in a child process bounded by
  ``--ops-seconds``, started first so the build overlaps the rest) against the pure-PyTorch ones.

The table is printed and written to ``--out`` (docs/benchmarks.md by default) as a section that a later run
replaces in place, with the device's name, the date and the commit.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_archs  # noqa: E402
import bench_train  # noqa: E402  (imports panini_arch: registers the models)
from basicsr.archs import build_network  # noqa: E402
from basicsr.models import build_model  # noqa: E402

REPO = bench_train.REPO
GENERATORS = ('Panini-FR', 'GFPGANv1Clean')
SECTION = '## GPU check (`gpu_check.py`)'
BEGIN, END = '<!-- gpu_check: begin -->', '<!-- gpu_check: end -->'
MIB = 2**20


def cell(value, unit='', digits=3):
    """A number with its unit, or the text as it is (an error, a skip)."""
    return f'{value:.{digits}f}{unit}' if isinstance(value, float) else str(value)


def ratio(panini, gfpgan, scale=1.0):
    """``panini / gfpgan * scale`` as a cell, '-' when either is not a number."""
    if isinstance(panini, float) and isinstance(gfpgan, float) and gfpgan > 0:
        return f'{panini / gfpgan * scale:.2f}'
    return '-'


def short(error):
    """First line of an exception, for a table cell."""
    return f'fails: {str(error).splitlines()[0][:60]}'


def step_rows(args):
    """Training-step rows: s/step of each variant, ratios per step and per output megapixel."""
    rows = []
    for variant in bench_train.VARIANTS:
        seconds, sides = {}, {}
        for generator in GENERATORS:
            opt = bench_train.model_options(args.size, generator, variant, args.device)
            sides[generator] = opt['network_g']['out_size']
            try:
                wall, cpu, _ = bench_train.time_steps(opt, args.warmup, args.steps)
                seconds[generator] = wall if args.device == 'cuda' else cpu
            except RuntimeError as error:  # GFPGAN's own code reshapes with view, which NHWC refuses
                seconds[generator] = short(error)
            free_memory()
        pixels = (sides['GFPGANv1Clean'] / sides['Panini-FR'])**2
        unit = 's' if args.device == 'cuda' else ' CPU s'
        rows.append((f'training step, {variant} (s/step)', cell(seconds['Panini-FR'], unit),
                     cell(seconds['GFPGANv1Clean'], unit), ratio(seconds['Panini-FR'], seconds['GFPGANv1Clean']),
                     ratio(seconds['Panini-FR'], seconds['GFPGANv1Clean'], pixels)))
    return rows


def free_memory():
    """Return cached CUDA blocks, so the next measurement starts from the same allocator state."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def step_memory(model, opt, batch_size):
    """Peak GPU MiB of one fp32 step at ``batch_size`` (None on a CPU); raises on out-of-memory."""
    device = model.device
    if device.type == 'cuda':
        free_memory()
        torch.cuda.reset_peak_memory_stats(device)
    bench_train.time_steps(opt, 0, 1, model=model, batch_size=batch_size)
    return torch.cuda.max_memory_allocated(device) / MIB if device.type == 'cuda' else None


def largest_batch(model, opt, max_batch, seconds):
    """(largest batch whose step ran, its peak MiB) by doubling from 1, then bisecting; bounded in time.

    An out-of-memory error marks a batch as too large; the search stops when ``seconds`` have passed (the
    result is then a lower bound) or at ``max_batch``.
    """
    deadline = time.monotonic() + seconds
    fits, fits_mib, too_large = 1, step_memory(model, opt, 1), None
    while time.monotonic() < deadline:
        trial = fits * 2 if too_large is None else (fits + too_large) // 2
        if trial > max_batch or trial == fits:
            break
        try:
            mib = step_memory(model, opt, trial)
        except torch.cuda.OutOfMemoryError:
            model.optimizer_g.zero_grad(set_to_none=True)
            model.optimizer_d.zero_grad(set_to_none=True)
            model.fake_pred = model.output = None  # drop what the failed step holds
            too_large = trial
            continue
        fits, fits_mib = trial, mib
    bound = '' if too_large is not None and too_large == fits + 1 else ' (search bound)'
    return fits, fits_mib, bound


def memory_rows(args):
    """Peak memory at batch 1 and the largest batch that fits, fp32 training step."""
    one, most = {}, {}
    for generator in GENERATORS:
        opt = bench_train.model_options(args.size, generator, 'fp32', args.device)
        model = build_model(opt)
        fits, mib, bound = largest_batch(model, opt, args.max_batch, args.search_seconds)
        one[generator] = step_memory(model, opt, 1)
        one[generator] = cell(one[generator], ' MiB', 0) if one[generator] is not None else 'CPU: no GPU memory'
        most[generator] = f'batch {fits}{bound}' + (f', {mib:.0f} MiB' if mib is not None else '')
        del model
        free_memory()
    return [('peak memory, training step at batch 1', one['Panini-FR'], one['GFPGANv1Clean'], '-', '-'),
            ('largest batch whose training step fits', most['Panini-FR'], most['GFPGANv1Clean'], '-', '-')]


def forward_rows(args):
    """Forward faces/s (fp32, inference mode) at batch 1 and 8."""
    rates = {}
    for generator in GENERATORS:
        opt = bench_train.model_options(args.size, generator, 'fp32', args.device)
        net = build_network(opt['network_g']).to(args.device).eval()
        in_size = opt['network_g'].get('in_size', opt['network_g']['out_size'])
        for batch in (1, 8):
            x = torch.rand(batch, 3, in_size, in_size, device=args.device) * 2 - 1
            with torch.inference_mode():
                wall, cpu, _ = bench_archs.time_forward(net, x, {}, args.steps, args.warmup)
            rates[generator, batch] = batch / (wall if args.device == 'cuda' else cpu)
        del net
        free_memory()
    sides = {g: bench_train.model_options(args.size, g, 'fp32', args.device)['network_g']['out_size']
             for g in GENERATORS}
    pixels = (sides['GFPGANv1Clean'] / sides['Panini-FR'])**2
    rows = []
    for batch in (1, 8):
        panini, gfpgan = rates['Panini-FR', batch], rates['GFPGANv1Clean', batch]
        rows.append((f'forward faces/s, batch {batch}', cell(panini, '', 2), cell(gfpgan, '', 2),
                     ratio(gfpgan, panini), ratio(gfpgan, panini, pixels)))  # time per face, as the other rows
    return rows


def jpeg_row(args):
    """The on-device JPEG against OpenCV's at equal quality."""
    from bench_degradation import jpeg_agreement
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', RuntimeWarning)
        result = jpeg_agreement(args.jpeg_faces, args.device)
    text = f'bit-exact {result["exact"]}/{args.jpeg_faces}'
    if result['exact'] < args.jpeg_faces:
        text += f', PSNR min {min(result["ours"]):.1f} dB'
    fallbacks = [str(w.message) for w in caught if 'nvJPEG failed' in str(w.message)]
    if fallbacks:
        text += f'; nvJPEG refused {len(fallbacks)} group(s), CPU codec used: {fallbacks[0][:80]}'
    return [(f'device JPEG vs OpenCV ({args.device}, faces 5-102 px, q 5-50)', text, '-', '-', '-')]


def ddp_worker(rank, args, port, path):
    """One rank of the two-process step: Panini-FR fp32 through DistributedDataParallel."""
    import torch.distributed as dist
    import panini_arch.trainer  # noqa: F401  (the trainer fixes, as panini-train runs the step)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda':
        torch.cuda.set_device(rank)
    dist.init_process_group('nccl' if args.device == 'cuda' else 'gloo', rank=rank, world_size=2)
    try:
        opt = bench_train.model_options(args.size, 'Panini-FR', 'fp32', args.device)
        opt.update(dist=True, rank=rank, world_size=2)
        wall, cpu, _ = bench_train.time_steps(opt, args.warmup, args.steps)
        if rank == 0:
            with open(path, 'w') as f:
                json.dump({'wall': wall, 'cpu': cpu}, f)
    finally:
        dist.destroy_process_group()


def ddp_row(args):
    """Two-process DDP step (s/step of rank 0) next to nothing for GFPGAN."""
    label = 'DDP training step, 2 processes (s/step, rank 0)'
    if args.device == 'cuda' and torch.cuda.device_count() < 2:
        return [(label, f'{torch.cuda.device_count()} GPU: skipped', '-', '-', '-')]
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'rank0.json')
        try:
            mp.spawn(ddp_worker, args=(args, port, path), nprocs=2)
            with open(path) as f:
                result = json.load(f)
        except Exception as error:  # a failed launch is a finding to report, not a reason to lose the table
            return [(label, short(error), '-', '-', '-')]
    backend = 'NCCL' if args.device == 'cuda' else 'gloo'
    seconds = result['wall'] if args.device == 'cuda' else result['cpu']
    return [(f'{label}, {backend}', cell(seconds, 's' if args.device == 'cuda' else ' CPU s'), '-', '-', '-')]


def ops_worker(mode, runs):
    """Child with ``BASICSR_JIT=True``: build BasicSR's ops ('build'), or also time them against ours ('time').

    Prints one ``RESULT`` JSON line: which extensions loaded, and in 'time' mode, per op, milliseconds of
    forward + backward for BasicSR's kernel and the pure-PyTorch version and their max abs difference.
    """
    try:
        from panini_arch.ops import basicsr_compat as ops
    except Exception as error:  # the JIT build raises at import: its message is the finding
        print('RESULT ' + json.dumps({'error': short(error)[len('fails: '):]}))
        return
    result = {'fused_act': ops.HAS_FUSED_ACT_EXT, 'upfirdn2d': ops.HAS_UPFIRDN2D_EXT}
    if mode == 'time' and ops.HAS_FUSED_ACT_EXT and ops.HAS_UPFIRDN2D_EXT:
        from panini_arch.ops.fused_act import fused_leaky_relu
        from panini_arch.ops.upfirdn2d import upfirdn2d
        x = torch.randn(4, 512, 64, 64, device='cuda')
        bias = torch.randn(512, device='cuda')
        blur = torch.tensor([1.0, 3, 3, 1], device='cuda')
        blur = blur[:, None] * blur[None] / 64
        cases = {
            'fused_leaky_relu': (ops._basicsr_fused_leaky_relu, fused_leaky_relu, lambda op, t: op(t, bias)),
            'upfirdn2d (up 2, pad 2/1)': (ops._basicsr_upfirdn2d, upfirdn2d,
                                          lambda op, t: op(t, blur * 4, up=2, pad=(2, 1))),
        }
        for name, (compiled, pure, call) in cases.items():
            outputs, times = [], []
            for op in (compiled, pure):
                t = x.clone().requires_grad_()
                call(op, t).sum().backward()  # warm-up
                torch.cuda.synchronize()
                start = time.perf_counter()
                for _ in range(runs):
                    out = call(op, t)
                    out.sum().backward()
                torch.cuda.synchronize()
                times.append((time.perf_counter() - start) / runs * 1e3)
                outputs.append(out.detach())
            result[name] = {'compiled_ms': times[0], 'pure_ms': times[1],
                            'max_diff': (outputs[0] - outputs[1]).abs().max().item()}
    print('RESULT ' + json.dumps(result))


def start_ops_build(args):
    """Start building BasicSR's ops in a child (``BASICSR_JIT=True``); None where they cannot build."""
    if args.device != 'cuda':
        return None
    env = dict(os.environ, BASICSR_JIT='True', TORCH_EXTENSIONS_DIR=args.extensions_dir)
    command = [sys.executable, os.path.abspath(__file__), '--ops-worker', 'build']
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def child_result(output):
    """The ``RESULT`` JSON of a child's output, or None."""
    lines = [line for line in output.splitlines() if line.startswith('RESULT ')]
    return json.loads(lines[-1][len('RESULT '):]) if lines else None


def ops_rows(args, build, deadline):
    """BasicSR's compiled ops against ours, or the reason there is no comparison."""
    label = "BasicSR's compiled StyleGAN2 ops vs pure PyTorch (ms fwd+bwd, 4x512x64x64)"
    if build is None:
        return [(label, "skipped: BasicSR's ops are CUDA kernels (no CUDA device)", '-', '-', '-')]
    try:
        output = build.communicate(timeout=max(deadline - time.monotonic(), 1))[0]
    except subprocess.TimeoutExpired:
        build.kill()
        build.communicate()
        return [(label, f'BASICSR_JIT=True build did not finish in {args.ops_seconds} s: skipped', '-', '-', '-')]
    built = child_result(output)
    if not built or 'error' in built or not (built['fused_act'] and built['upfirdn2d']):
        reason = (built or {}).get('error') or (output.strip().splitlines() or ['no output'])[-1][:120]
        return [(label, f'BASICSR_JIT=True build failed: {reason}', '-', '-', '-')]
    env = dict(os.environ, BASICSR_JIT='True', TORCH_EXTENSIONS_DIR=args.extensions_dir)
    command = [sys.executable, os.path.abspath(__file__), '--ops-worker', 'time', '--steps', str(args.steps)]
    try:
        timed = child_result(subprocess.run(command, capture_output=True, text=True, env=env, timeout=300).stdout)
    except subprocess.TimeoutExpired:
        timed = None
    timed = timed or {}
    rows = []
    for name in ('fused_leaky_relu', 'upfirdn2d (up 2, pad 2/1)'):
        if name not in timed:
            rows.append((f'compiled {name}', 'built, but the timing child failed', '-', '-', '-'))
            continue
        r = timed[name]
        rows.append((f'compiled {name} vs pure PyTorch (ms fwd+bwd, 4x512x64x64)',
                     f"{r['compiled_ms']:.3f} vs {r['pure_ms']:.3f} (max diff {r['max_diff']:.1e})", '-',
                     f"{r['pure_ms'] / r['compiled_ms']:.2f}x (pure / compiled)", '-'))
    return rows


def device_name(device):
    if device == 'cuda':
        return torch.cuda.get_device_name()
    return f'CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads'


def commit():
    """Short commit of the checkout, '+' when it has uncommitted changes; 'unknown' outside git."""
    try:
        head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'
    return head + ('+' if dirty else '')


def markdown(rows, args, seconds):
    """The section: heading, what ran where, the table."""
    command = 'python scripts/benchmarks/gpu_check.py ' + ' '.join(sys.argv[1:])
    lines = [
        SECTION, '', BEGIN,
        f'{device_name(args.device)}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit '
        f'{commit()}, torch {torch.__version__}, size `{args.size}`, {seconds:.0f} s for the whole run. Ratios are '
        f'Panini-FR / GFPGANv1Clean of the time per step or per face ({"wall" if args.device == "cuda" else "CPU"} '
        f'seconds), lower is faster; "per output MP" divides each by its output megapixels first.',
        f'`{command}`', '', '| check | Panini-FR | GFPGANv1Clean | Panini / GFPGAN | per output MP |',
        '|---|---|---|---|---|'
    ]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines + [END])


def write_section(path, text):
    """Replace the section between the markers in ``path`` (created if missing), or append it."""
    old = open(path).read() if os.path.exists(path) else ''
    if BEGIN in old and END in old:
        start = old.rindex(SECTION, 0, old.index(BEGIN)) if SECTION in old[:old.index(BEGIN)] else old.index(BEGIN)
        new = old[:start] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip('\n') + ('\n\n' if old else '') + text + '\n'
    with open(path, 'w') as f:
        f.write(new)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=('cuda', 'cpu'), default='cuda')
    parser.add_argument('--size', choices=sorted(bench_train.OPTIONS), default='full')
    parser.add_argument('--steps', type=int, default=5, help='timed steps / forwards per measurement (median)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed ones first')
    parser.add_argument('--max-batch', type=int, default=None, help='largest batch tried (64 on CUDA, 2 on a CPU)')
    parser.add_argument('--search-seconds', type=float, default=60, help='time bound of each batch search')
    parser.add_argument('--jpeg-faces', type=int, default=200, help='faces for the JPEG comparison')
    parser.add_argument('--ops-seconds', type=float, default=300, help="bound on building BasicSR's ops")
    parser.add_argument('--extensions-dir', default=os.path.join(tempfile.gettempdir(), 'panini_gpu_check_ext'),
                        help="where BASICSR_JIT builds BasicSR's ops")
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads of this process and each DDP rank (default: 1 with --device cpu)')
    parser.add_argument('--out', default=os.path.join(REPO, 'docs', 'benchmarks.md'),
                        help='Markdown file whose gpu_check section is replaced (appended if absent)')
    parser.add_argument('--ops-worker', choices=('build', 'time'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ops_worker:
        ops_worker(args.ops_worker, args.steps)
        return
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device here (use --device cpu --size tiny)')
    if args.threads is None and args.device == 'cpu':
        args.threads = 1  # more threads than free cores make CPU seconds count busy-waiting
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.max_batch is None:
        args.max_batch = 64 if args.device == 'cuda' else 2
    start = time.monotonic()
    build = start_ops_build(args)
    rows = []
    for part in (step_rows, memory_rows, forward_rows, jpeg_row, ddp_row):
        part_start = time.monotonic()
        rows += part(args)
        print(f'{part.__name__}: {time.monotonic() - part_start:.0f} s', flush=True)
    rows += ops_rows(args, build, start + args.ops_seconds)
    text = markdown(rows, args, time.monotonic() - start)
    print(text)
    write_section(args.out, text)
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
