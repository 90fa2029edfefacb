"""Time one training step of Panini-Net and of GFPGANv1Clean under the same objective.

A step is ``PaniniModel.optimize_parameters``: generator forward, L1 + VGG16
perceptual + GAN losses through the StyleGAN2 discriminator, backward, Adam
step, EMA update, then the discriminator step (real and fake forward,
backward, Adam step). GFPGANv1Clean (from the ``gfpgan`` package) is trained by
the same model class with the same losses and discriminator, so the ratio
compares the generators. Random weights, one image per step.

Sizes: ``tiny`` (options/train_panini_fr_tiny.yml: 64 -> 128, 1/16 width; GFPGAN
128 -> 128 at 1/16 width) and ``full`` (options/train_panini_fr.yml: Panini-FR
512 -> 1024; GFPGAN v1.3's 512 -> 512). Ratios are also given per output
megapixel, since the two full-size nets have different outputs.

Variants: ``fp32``, ``bf16`` (``use_amp: true``), ``channels_last`` and ``degrade_on_device`` (uint8 HQ
batches, Eq. 10 in ``feed_data``, which is then timed with the step). ``--profile`` prints where one
Panini-FR step spends its time (torch.profiler).

    python scripts/benchmarks/bench_train.py                          # tiny, all variants
    python scripts/benchmarks/bench_train.py --sizes tiny full --steps 2 --append docs/benchmarks.md
"""
import argparse
import copy
import os
import platform
import statistics
import sys
import time

import torch
from torch import nn

import panini_arch  # noqa: F401  (registers PaniniModel, PaniniNet, GFPGANv1Clean)
from basicsr.models import build_model
from basicsr.utils.registry import ARCH_REGISTRY
from panini_arch.utils.safe_load import load_options

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OPTIONS = {'tiny': 'options/train_panini_fr_tiny.yml', 'full': 'options/train_panini_fr.yml'}
GFPGAN = {
    'tiny': dict(out_size=128, num_style_feat=64, narrow=1 / 16),
    'full': dict(out_size=512, num_style_feat=512),
}
FP32 = {'use_amp': False, 'channels_last': False, 'degrade_on_device': False}
VARIANTS = {
    'fp32': FP32,
    'bf16': dict(FP32, use_amp=True, amp_dtype='bf16'),
    'channels_last': dict(FP32, channels_last=True),
    'degrade_on_device': dict(FP32, degrade_on_device=True),
}
# Eq. 10 parameters (r, sigma, delta, q) of every sample of a ``degrade_on_device`` batch
DEVICE_PARAMS = (20.0, 3.0, 10.0, 30.0)


@ARCH_REGISTRY.register()
class GFPGANv1CleanImage(nn.Module):
    """GFPGANv1Clean (v1.3/v1.4 layout) returning only the restored image (B, 3, out, out) in [-1, 1]."""

    def __init__(self, **kwargs):
        super().__init__()
        settings = dict(channel_multiplier=2, decoder_load_path=None, fix_decoder=False, num_mlp=8,
                        input_is_latent=True, different_w=True, sft_half=True)
        settings.update(kwargs)
        self.net = ARCH_REGISTRY.get('GFPGANv1Clean')(**settings)

    def forward(self, x):
        return self.net(x, return_rgb=False)[0]


def model_options(size, generator, variant, device=None):
    """PaniniModel options for one configuration; random weights, no R1, no validation.

    ``device`` ('cpu' | 'cuda'): where the model runs; CUDA when there is one by default.
    """
    cuda = torch.cuda.is_available() if device is None else device == 'cuda'
    opt = load_options(os.path.join(REPO, OPTIONS[size]))
    opt.update(is_train=True, dist=False, rank=0, world_size=1, num_gpu=int(cuda))
    opt.pop('val', None)
    settings = dict(VARIANTS[variant])
    # The files' datasets are checked against the disk; the steps get random batches, made as a dataset with
    # this degrade_on_device would hand them over.
    opt['datasets'] = {'train': {'degrade_on_device': settings.pop('degrade_on_device')}}
    opt['network_g'].update(stylegan_path=None, dre_path=None)
    opt['path'].update(pretrain_network_d=None, models='', training_states='', visualization='')
    opt['train'].update(r1_reg_weight=0, **settings)
    opt['train']['perceptual_opt'].update(vgg_path=None, allow_random_vgg=True)
    if generator == 'GFPGANv1Clean':
        opt['network_g'] = dict(type='GFPGANv1CleanImage', **GFPGAN[size])
        opt['network_d']['out_size'] = GFPGAN[size]['out_size']
    return opt


def random_batch(opt, batch_size=1, seed=0):
    """``batch_size`` random images at the sizes of ``opt['network_g']``, as a dataset hands them over.

    ``{'lq', 'gt'}`` float32 in [-1, 1]; with ``datasets.train.degrade_on_device`` uint8 ``gt`` and what
    ``feed_data`` needs to make ``lq`` on the device (every sample at :data:`DEVICE_PARAMS`).
    """
    net_g = opt['network_g']
    out_size = net_g['out_size']
    in_size = net_g.get('in_size', out_size)
    generator = torch.Generator().manual_seed(seed)
    gt = torch.rand(batch_size, 3, out_size, out_size, generator=generator) * 2 - 1
    if opt['datasets']['train']['degrade_on_device']:
        return {
            'gt': ((gt + 1) * 127.5).round().to(torch.uint8), 'deg_params': torch.tensor([DEVICE_PARAMS] * batch_size),
            'deg_seed': torch.arange(batch_size)[:, None], 'lq_size': torch.full((batch_size, ), in_size),
            'blur_kernel_size': torch.full((batch_size, ), 41), 'mean': torch.full((batch_size, 3), 0.5),
            'std': torch.full((batch_size, 3), 0.5)
        }
    return {'lq': torch.rand(batch_size, 3, in_size, in_size, generator=generator) * 2 - 1, 'gt': gt}


def synchronize(device):
    """Wait for the device's queued work (CUDA); nothing elsewhere."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def labelled(label, method):
    """``method`` run inside ``torch.profiler.record_function(label)``."""

    def wrapper(*args, **kwargs):
        with torch.profiler.record_function(label):
            return method(*args, **kwargs)

    return wrapper


def profile_step(opt, top=25):
    """Where one training step spends its time: torch.profiler over one step after one warm-up step.

    Returns (phase table, operator table) as text. Phases are labelled method calls; "G backward" and "D
    backward" are what their step spends outside the labelled calls (the backward passes and the losses).
    Shares are meaningful on a loaded machine; the absolute times are not.
    """
    model = build_model(opt)
    model.feed_data(random_batch(opt))
    model.optimize_parameters(1)
    phases = {
        'G step': (model, '_optimize_g'), 'D step': (model, '_optimize_d'), 'net_g forward': (model.net_g, 'forward'),
        'VGG perceptual forward': (model.cri_perceptual, 'forward'), 'net_d forward': (model.net_d, 'forward'),
        'Adam': (model.optimizer_g, 'step'), 'EMA': (model, 'update_ema')
    }
    for label, (owner, name) in phases.items():
        setattr(owner, name, labelled(label, getattr(owner, name)))
    model.optimizer_d.step = labelled('Adam', model.optimizer_d.step)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if model.device.type == 'cuda':
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        model.optimize_parameters(2)
        synchronize(model.device)
    totals = {}
    for event in prof.events():
        if event.name not in phases:
            continue
        step = event
        while step is not None and step.name not in ('G step', 'D step'):
            step = step.cpu_parent
        key = (step.name if step is not None else '-', event.name)
        totals[key] = totals.get(key, 0.0) + event.cpu_time_total / 1e6
    step_total = totals[('G step', 'G step')] + totals[('D step', 'D step')]
    lines = ['| step | phase | CPU s | share of the step |', '|---|---|---|---|']
    for step in ('G step', 'D step'):
        inner = {label: value for (where, label), value in totals.items() if where == step and label != step}
        inner[f'{step[0]} backward + losses'] = totals[(step, step)] - sum(inner.values())
        for label, value in sorted(inner.items(), key=lambda item: -item[1]):
            lines.append(f'| {step} | {label} | {value:.3f} | {100 * value / step_total:.1f}% |')
    lines.append(f'| both | total | {step_total:.3f} | 100% |')
    sort_by = 'self_cuda_time_total' if model.device.type == 'cuda' else 'self_cpu_time_total'
    return '\n'.join(lines), prof.key_averages().table(sort_by=sort_by, row_limit=top)


def time_steps(opt, warmup, steps, model=None, batch_size=1):
    """Median wall and CPU seconds of ``steps`` training steps after ``warmup`` untimed ones; the output side.

    A step is ``feed_data`` (the transfer, and Eq. 10 with ``degrade_on_device``) plus
    ``optimize_parameters``, on a batch of ``batch_size`` from :func:`random_batch`; ``model`` is built from
    ``opt`` unless given. CPU seconds (this process, all threads) are what the ratios use on a CPU: unlike
    wall time they barely move when other programs share the machine.
    """
    model = model or build_model(opt)
    batch = random_batch(opt, batch_size)
    wall, cpu = [], []
    for current_iter in range(1, warmup + steps + 1):
        synchronize(model.device)
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        model.feed_data(batch)
        model.optimize_parameters(current_iter)
        synchronize(model.device)
        if current_iter > warmup:
            wall.append(time.perf_counter() - start_wall)
            cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), opt['network_g']['out_size']


def run(args):
    """Rows (size, generator, variant, wall s, CPU s (None when the net cannot run so), output side)."""
    rows = []
    for size in args.sizes:
        for generator in ('Panini-FR', 'GFPGANv1Clean'):
            for variant in args.variants:
                opt = model_options(size, generator, variant)
                try:
                    wall, cpu, out_size = time_steps(opt, args.warmup, args.steps)
                except RuntimeError as error:  # GFPGAN's own code reshapes with view, which NHWC refuses
                    wall = cpu = None
                    out_size = opt['network_g']['out_size']
                    print(f'{size:5s} {generator:14s} {variant:14s} fails: {error}', flush=True)
                else:
                    print(f'{size:5s} {generator:14s} {variant:14s} {wall:8.3f} s/step, {cpu:8.3f} CPU s', flush=True)
                rows.append((size, generator, variant, wall, cpu, out_size))
    return rows


def table(rows):
    """Markdown table with the ratios to fp32 and to GFPGANv1Clean (per step and per output megapixel).

    Ratios compare CPU seconds on a CPU and wall seconds on a GPU.
    """
    cost = {(size, gen, var): (wall if torch.cuda.is_available() else cpu, out)
            for size, gen, var, wall, cpu, out in rows}
    lines = [
        '| size | generator (output) | variant | wall s/step | CPU s/step | vs fp32 | Panini / GFPGAN per step '
        '| per output MP |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for size, generator, variant, wall, cpu, out_size in rows:
        if wall is None:
            lines.append(f'| {size} | {generator} ({out_size}) | {variant} | fails | - | - | - | - |')
            continue
        own = cost[(size, generator, variant)][0]
        fp32 = cost.get((size, generator, 'fp32'), (None, None))[0]
        speed = f'{fp32 / own:.2f}x' if fp32 else '-'
        ratio = per_mp = '-'
        gfpgan = cost.get((size, 'GFPGANv1Clean', variant), (None, None))
        if generator == 'Panini-FR' and gfpgan[0]:
            ratio = f'{own / gfpgan[0]:.2f}'
            per_mp = f'{(own / out_size**2) / (gfpgan[0] / gfpgan[1]**2):.2f}'
        lines.append(f'| {size} | {generator} ({out_size}) | {variant} | {wall:.3f} | {cpu:.3f} | {speed} | {ratio} '
                     f'| {per_mp} |')
    return '\n'.join(lines)


def machine():
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f'CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', nargs='+', choices=sorted(OPTIONS), default=['tiny'],
                        help='tiny (default) and/or full; full takes minutes per step on a CPU')
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument('--steps', type=int, default=5, help='timed steps per configuration (median reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps first')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch decides)')
    parser.add_argument('--append', metavar='MARKDOWN', help='append the results as a section of this file')
    parser.add_argument('--profile', action='store_true',
                        help='instead of timing: torch.profiler shares of one Panini-FR step (first size and variant)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.profile:
        phases, operators = profile_step(model_options(args.sizes[0], 'Panini-FR', args.variants[0]))
        print(f'{phases}\n\n{operators}')
        return
    result = table(run(args))
    print(result)
    if args.append:
        command = 'python scripts/benchmarks/bench_train.py ' + ' '.join(sys.argv[1:])
        with open(args.append, 'a') as f:
            f.write(f'\n## Training step: Panini-Net vs GFPGANv1Clean (`bench_train.py`)\n\n'
                    f'{machine()}, torch {torch.__version__}, median of {args.steps} steps after {args.warmup} '
                    f'warm-up; one image per step; random weights.\n`{command}`\n\n{result}\n')


if __name__ == '__main__':
    main()
