"""Run the package's BasicSR training (``panini_arch.train``) for the demo, with a progress bar.

Options start from the checkout's tiny option files (``options/train_udrl_tiny.yml``,
``options/train_panini_fr_tiny.yml``, found beside ``scripts/``); the demo only points
them at its own face folders and sets the number of iterations. The curves of the
report come from the run's TensorBoard events (``tb_logger/<name>/``).
"""
import copy
import os
import re
import subprocess
import sys
from collections import OrderedDict, defaultdict
from pathlib import Path

import yaml
from tqdm import tqdm

from panini_arch.utils.image_io import list_images
from panini_arch.utils.safe_load import load_options

OPTIONS_DIR = Path(__file__).resolve().parents[1] / 'options'
ITER_PATTERN = re.compile(r'iter:\s*([\d,]+)')


def load_template(name):
    """Read ``options/<name>.yml`` of the checkout as a dict."""
    path = OPTIONS_DIR / f'{name}.yml'
    if not path.is_file():
        raise FileNotFoundError(f'{path} not found: run the demo from a checkout of panini-arch '
                                '(python scripts/demo.py in the repository).')
    return load_options(path)


def point_datasets(opt, train_dir, val_dir):
    """Aim the train and val datasets of ``opt`` at the demo's folders (in place)."""
    for phase, folder in (('train', train_dir), ('val', val_dir)):
        dataset = opt['datasets'][phase]
        dataset['dataroot_gt'] = str(folder)
        if 'meta_info' in dataset:
            dataset['meta_info'] = str(Path(folder) / 'meta_info.txt')


def set_schedule(opt, iters, print_freq, val_freq):
    """Train for ``iters`` iterations on one cosine period, logging and validating at the given rates."""
    opt['train']['total_iter'] = iters
    opt['train']['scheduler']['periods'] = [iters]
    opt['logger']['print_freq'] = print_freq
    opt['logger']['save_checkpoint_freq'] = iters
    opt['val']['val_freq'] = val_freq


def udrl_options(train_dir, val_dir, iters, batch_size=16, val_degradations=32, name='demo_udrl'):
    """UDRL (DRE pre-training) options from the tiny template, validated once, at the end, on held-out faces.

    ``batch_size`` pairs per step (even: two batch-norm groups); ``val_degradations`` degradations
    per held-out face in the validation (degradation / identity retrieval and probes).
    """
    opt = load_template('train_udrl_tiny')
    opt['name'] = name
    point_datasets(opt, train_dir, val_dir)
    opt['datasets']['train']['batch_size_per_gpu'] = batch_size
    val = opt['datasets']['val']
    val['num_faces'] = min(val.get('num_faces', 8), count_images(val_dir))
    val['num_degradations'] = val_degradations
    opt['train']['queue_size'] = min(opt['train']['queue_size'], batch_size * max(iters // 4, 1))
    set_schedule(opt, iters, print_freq=max(iters // 40, 1), val_freq=iters)
    opt['val'].pop('save_best', None)
    return opt


def panini_options(train_dir, val_dir, iters, dre_path, dre_pool_size, lr, batch_size, val_times=4, rrdb_channels=16,
                   ranges=None, name='demo_panini'):
    """Tiny Panini-FR options with the pre-trained, fixed DRE from ``dre_path``; Adam ``lr`` for G and D.

    ``dre_pool_size`` is the input size the DRE was pre-trained at, so it sees inputs pooled the same way.
    ``ranges``: Eq. 10 range options replacing the template's.
    ``rrdb_channels`` widens the IFE trunk (4 in the template): at 16 a step costs the same on CPU, where
    the generator and discriminator dominate, and the held-out PSNR after 1000 steps rose 0.13 dB (docs/demo.md).

    The perceptual loss is left out: without downloaded VGG16 weights it would be a
    random network, and it costs a large share of each step. L1 + GAN remain. The EMA
    decay is 0.9: with 0.99 a run of ~100 steps would still be half the random init.
    """
    opt = load_template('train_panini_fr_tiny')
    opt['name'] = name
    point_datasets(opt, train_dir, val_dir)
    for phase in ('train', 'val'):
        opt['datasets'][phase].update(ranges or {})
    opt['network_g']['dre_path'] = str(dre_path)
    opt['network_g']['dre_pool_size'] = dre_pool_size
    opt['network_g']['rrdb_channels'] = rrdb_channels
    opt['val']['save_img'] = False
    opt['datasets']['train']['batch_size_per_gpu'] = batch_size
    opt['train'].pop('perceptual_opt', None)
    opt['train']['ema_decay'] = 0.9
    for optimizer in ('optim_g', 'optim_d'):
        opt['train'][optimizer]['lr'] = lr
    set_schedule(opt, iters, print_freq=max(iters // 50, 1), val_freq=max(iters // val_times, 1))
    return opt


def count_images(folder):
    """Number of PNG files in ``folder``."""
    return len(list_images(folder, extensions=('.png',)))


def run_training(opt, work_dir):
    """Train with ``python -m panini_arch.train -opt <work_dir>/options/<name>.yml`` in ``work_dir``.

    Shows a tqdm bar that follows the iteration of the log lines; the full log goes to
    ``<work_dir>/logs/<name>.log``.

    Returns:
        dict: ``train``: list of (iter, {loss: value}), ``val``: list of (iter, {metric: value})
        (see :func:`read_curves`), ``models``: the run's ``models`` folder.

    Raises:
        RuntimeError: training exited with an error (the log tail is included).
    """
    work_dir = Path(work_dir)
    opt_path = work_dir / 'options' / f'{opt["name"]}.yml'
    log_path = work_dir / 'logs' / f'{opt["name"]}.log'
    opt_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(opt_path, 'w', encoding='utf-8') as f:
        yaml.dump(to_plain(opt), f, sort_keys=False)
    command = [sys.executable, '-m', 'panini_arch.train', '-opt', str(opt_path)]
    last_iter, lines = 0, []
    total = opt['train']['total_iter']
    with open(log_path, 'w', encoding='utf-8') as log, tqdm(total=total, desc=opt['name'], unit='it') as bar:
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        process = subprocess.Popen(command, cwd=work_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        for line in process.stdout:
            log.write(line)
            lines.append(line)
            match = ITER_PATTERN.search(line)
            if match and 'lr:(' in line:
                current = int(match.group(1).replace(',', ''))
                bar.update(current - last_iter)
                last_iter = current
        bar.update(total - last_iter)
        if process.wait() != 0:
            raise RuntimeError(f'Training {opt["name"]} failed (log: {log_path}):\n' + ''.join(lines[-30:]))
    curves = read_curves(work_dir / 'tb_logger' / opt['name'])
    curves['models'] = work_dir / 'experiments' / opt['name'] / 'models'
    return curves


def read_curves(tb_dir):
    """Training and validation curves from the TensorBoard events BasicSR writes in ``tb_dir``.

    Losses (``losses/<name>``) and the other logged values (``acc_top1``) make the training
    curves, ``metrics/<dataset>/<name>`` the validation ones.

    Returns:
        dict: ``train`` and ``val``, each a list of (iter, {name: value}) sorted by iteration.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(tb_dir), size_guidance={'scalars': 0})
    events.Reload()
    curves = {'train': defaultdict(dict), 'val': defaultdict(dict)}
    for tag in events.Tags()['scalars']:
        phase = 'val' if tag.startswith('metrics/') else 'train'
        for event in events.Scalars(tag):
            curves[phase][event.step][tag.rsplit('/', 1)[-1]] = event.value
    return {phase: sorted(points.items()) for phase, points in curves.items()}


def to_plain(opt):
    """Deep-copy ``opt`` with OrderedDicts turned into dicts, so PyYAML writes plain mappings."""
    if isinstance(opt, (dict, OrderedDict)):
        return {key: to_plain(value) for key, value in opt.items()}
    if isinstance(opt, list):
        return [to_plain(value) for value in opt]
    return copy.copy(opt)
