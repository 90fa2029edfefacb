"""Options checked before any work starts: unknown keys (with a did-you-mean), types, ranges, empty runs.

:func:`check_options` is called by the trainer right after BasicSR parses the
file (``panini_arch/train.py``, ``panini_arch/test.py``) and by this package's
models when they are built. Every problem found is listed in one
:class:`OptionError`, each line naming the option path
(``datasets.train.downsample_rnage``, ``train.optim_g.lr``).

* unknown top-level sections (``vall:``) fail for this package's models (``PaniniModel``,
  ``UDRLModel``, ``FaceTestModel``; any ``network_*`` is a network);
* unknown keys fail in this package's dataset sections (``PaniniDegradationDataset``,
  ``UDRLPairDataset``, ``UDRLValDataset``) and, for ``PaniniModel``/``UDRLModel``,
  in ``train:`` (where BasicSR would ignore them). What each class reads, with its defaults and
  ranges, it declares itself (``OPTIONS`` of a dataset, ``TRAIN_OPTIONS``/``VAL_OPTIONS`` of a model:
  :mod:`panini_arch.utils.option_spec`); the check finds the class through BasicSR's registries.
  BasicSR's own classes cannot declare theirs, so their options are declared here;
* ``train.degrade_on_device`` (the place of older options files) is an error naming its new
  place, ``datasets.train.degrade_on_device``;
* numbers must be numbers: ``lr: 1e-4`` is the *string* '1e-4' in YAML 1.1 (an
  exponent needs a dot: ``1.0e-4``, or ``!!float 1e-4``), ``ema_decay: 'high'`` is no
  number; counts and sizes must be positive integers, rates in their ranges;
* ``num_gpu`` above 0 needs CUDA; ``total_iter`` must be at least 1;
* a ``PairedImageDataset`` (the test harness) needs GT and LQ folders holding
  the same image names; a ``SingleImageDataset`` (a set without GT) an LQ folder.

A training set smaller than one batch (``drop_last``) is caught when the loader
is built (:func:`check_train_loader`).
"""
import difflib
import math
import os

import torch
from basicsr.utils.registry import DATASET_REGISTRY, MODEL_REGISTRY

from ..utils.image_io import IMAGE_EXTENSIONS
from ..utils.option_spec import Option
from .base_model import PaniniBaseModel


class OptionError(ValueError):
    """Options that would fail (or silently do the wrong thing); the message lists every problem."""


# The package's classes declare their options (``OPTIONS`` of a dataset, ``TRAIN_OPTIONS`` of a model) and are
# found through the registries. BasicSR's classes cannot, so their options are declared here: the keys its
# loader reads in any dataset section, its schedule in train:, its optimizers and schedulers.
LOADER_OPTIONS = {
    'name': Option(), 'type': Option(), 'phase': Option(), 'scale': Option(), 'use_shuffle': Option(),
    'prefetch_mode': Option(), 'pin_memory': Option(), 'persistent_workers': Option(), 'num_prefetch_queue': Option(),
    'batch_size_per_gpu': Option(None, 'int', 1),
    'num_worker_per_gpu': Option(None, 'int', 0),
    'dataset_enlarge_ratio': Option(None, 'float', 0, low_open=True),
}
BASICSR_DATASET_OPTIONS = {'gt_size': Option(None, 'int', 1)}  # read by BasicSR's paired datasets
SCHEDULE_OPTIONS = {'optim_g': Option(), 'scheduler': Option(), 'total_iter': Option(None, 'int', 1),
                    'warmup_iter': Option(None, 'int', -1)}
BASICSR_TRAIN_OPTIONS = {'ema_decay': Option(None, 'float', 0, 1)}  # read by BasicSR's SRModel
# Options that moved out of train:, with their new place.
MOVED_TRAIN_KEYS = {
    'degrade_on_device': 'datasets.train.degrade_on_device (a dataset option: that dataset hands over HQ faces '
                         'and the model degrades every batch holding them)'}
OPTIMIZER_OPTIONS = {'lr': Option(None, 'float', 0, low_open=True), 'weight_decay': Option(None, 'float', 0),
                     'momentum': Option(None, 'float', 0, 1), 'eps': Option(None, 'float', 0, low_open=True)}
SCHEDULER_OPTIONS = {'eta_min': Option(None, 'float', 0), 'gamma': Option(None, 'float', 0, low_open=True)}
SCHEDULE_LISTS = ('periods', 'milestones')
# Top-level sections of this package's models: written in files, then added by BasicSR's parse_options and train.py.
TOP_KEYS = {'name', 'model_type', 'scale', 'num_gpu', 'manual_seed', 'datasets', 'path', 'train', 'val', 'logger',
            'dist_params', 'find_unused_parameters', 'plugin', 'method', 'paper', 'random_weights',
            'dist', 'rank', 'world_size', 'auto_resume', 'is_train', 'root_path'}
NETWORK_PREFIX = 'network_'


class _Problems(list):
    """Collects one message per problem."""

    def unknown(self, section, known, path):
        for key in section:
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else f'; known: {", ".join(sorted(known))}'
                self.append(f'{path}.{key}: unknown option{hint}' if path else f'{key}: unknown section{hint}')

    def number(self, section, key, path, integer=False, low=None, high=None, low_open=False, high_open=False):
        if key not in section or section[key] is None:
            return
        self.value(section[key], f'{path}.{key}', integer, low, high, low_open, high_open)

    def value(self, value, path, integer=False, low=None, high=None, low_open=False, high_open=False):
        """Check one value; returns True when it is fine."""
        what = 'an integer' if integer else 'a number'
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                self.append(f'{path}: must be {what}, got the string {value!r}')
            else:
                self.append(f'{path}: {value!r} is a string, not {what} (YAML 1.1 reads an exponent without a dot '
                            f'as text): write it with a dot (1.0e-4) or as !!float {value}')
            return False
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.append(f'{path}: must be {what}, got {value!r}')
            return False
        if integer and not float(value).is_integer():  # !!float 5e3 is a whole number, as BasicSR's files write them
            self.append(f'{path}: must be {what}, got {value!r}')
            return False
        too_low = low is not None and (value < low or (low_open and value == low))
        too_high = high is not None and (value > high or (high_open and value == high))
        if too_low or too_high:
            bounds = [f'{">" if low_open else ">="} {low}' if low is not None else '',
                      f'{"<" if high_open else "<="} {high}' if high is not None else '']
            self.append(f'{path}: must be {" and ".join(b for b in bounds if b)}, got {value!r}')
            return False
        return True

    def numbers(self, section, options, path):
        """Check the numbers of ``section`` that ``options`` (key -> :class:`Option`) declares."""
        for key, spec in options.items():
            if spec.kind is not None:
                self.number(section, key, path, spec.kind == 'int', spec.low, spec.high, spec.low_open, spec.high_open)


def registered(registry, name):
    """The class ``registry`` holds under ``name`` (None when there is none)."""
    return registry.get(name) if isinstance(name, str) and name in registry else None


def package_model(opt):
    """The class of ``opt['model_type']`` when it is one of the package's models (None otherwise)."""
    model = registered(MODEL_REGISTRY, opt.get('model_type'))
    return model if isinstance(model, type) and issubclass(model, PaniniBaseModel) else None


def _raise(problems, what='options'):
    if problems:
        raise OptionError(f'Invalid {what}:\n' + '\n'.join(f'  {p}' for p in problems))


def _check_dataset(problems, dataset, path):
    if not isinstance(dataset, dict):
        problems.append(f'{path}: must be a mapping of dataset options, got {dataset!r}')
        return
    declared = getattr(registered(DATASET_REGISTRY, dataset.get('type')), 'OPTIONS', None)
    if declared is not None:
        problems.unknown(dataset, LOADER_OPTIONS.keys() | declared.keys(), path)
    problems.numbers(dataset, {**LOADER_OPTIONS, **(BASICSR_DATASET_OPTIONS if declared is None else declared)}, path)
    if dataset.get('type') == 'PairedImageDataset':
        _check_pairs(problems, dataset, path)
    elif dataset.get('type') == 'SingleImageDataset' and (dataset.get('io_backend') or {}).get('type') == 'disk' \
            and not os.path.isdir(str(dataset.get('dataroot_lq'))):
        problems.append(f'{path}.dataroot_lq: {dataset.get("dataroot_lq")!r} is not a folder')


def _image_names(folder):
    return {os.path.splitext(n)[0]: n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)}


def _check_pairs(problems, dataset, path):
    """GT and LQ folders of a disk ``PairedImageDataset`` exist and hold the same names (``filename_tmpl``)."""
    if (dataset.get('io_backend') or {}).get('type', 'disk') != 'disk' or dataset.get('meta_info_file'):
        return
    folders = {}
    if not dataset.get('dataroot_gt') and dataset.get('dataroot_lq'):
        problems.append(f'{path}: a PairedImageDataset needs dataroot_gt; for a set without ground truth (only '
                        'dataroot_lq) use type: SingleImageDataset')
        return
    for key in ('dataroot_gt', 'dataroot_lq'):
        folder = dataset.get(key)
        if not folder or not os.path.isdir(folder):
            problems.append(f'{path}.{key}: {folder!r} is not a folder')
            return
        folders[key] = _image_names(folder)
    template = dataset.get('filename_tmpl', '{}')
    gt, lq = folders['dataroot_gt'], folders['dataroot_lq']
    expected = {template.format(stem): stem for stem in gt}
    no_lq = sorted(gt[stem] for name, stem in expected.items() if name not in lq)
    no_gt = sorted(lq[name] for name in lq if name not in expected)
    for missing, have, lack in ((no_lq, 'dataroot_gt', 'dataroot_lq'), (no_gt, 'dataroot_lq', 'dataroot_gt')):
        if missing:
            shown = ', '.join(missing[:5]) + (f', ... ({len(missing)} in all)' if len(missing) > 5 else '')
            problems.append(f'{path}: {len(missing)} image(s) in {have} ({dataset[have]}) have no counterpart in '
                            f'{lack} ({dataset[lack]}, filename_tmpl {template!r}): {shown}')
    if not gt:
        problems.append(f'{path}.dataroot_gt: no images in {dataset["dataroot_gt"]}')


def _check_train(problems, opt):
    train = opt.get('train')
    if not isinstance(train, dict):
        problems.append(f'train: must be a mapping of training options, got {train!r}')
        return
    for key in MOVED_TRAIN_KEYS.keys() & train.keys():
        problems.append(f'train.{key}: moved to {MOVED_TRAIN_KEYS[key]}')
    model = package_model(opt)
    declared = model.TRAIN_OPTIONS if model else None
    if declared is not None:
        known = SCHEDULE_OPTIONS.keys() | declared.keys()
        problems.unknown([key for key in train if key not in MOVED_TRAIN_KEYS], known, 'train')
    problems.numbers(train, {**SCHEDULE_OPTIONS, **(BASICSR_TRAIN_OPTIONS if declared is None else declared)}, 'train')
    for key, section in train.items():
        if not isinstance(section, dict):
            continue
        path = f'train.{key}'
        if key.startswith('optim_'):
            problems.numbers(section, OPTIMIZER_OPTIONS, path)
            betas = section.get('betas')
            if betas is not None and (not isinstance(betas, (list, tuple)) or len(betas) != 2):
                problems.append(f'{path}.betas: must be two numbers in [0, 1), got {betas!r}')
            elif betas is not None:
                for i, beta in enumerate(betas):
                    problems.value(beta, f'{path}.betas[{i}]', low=0, high=1, high_open=True)
        elif key == 'scheduler':
            problems.numbers(section, SCHEDULER_OPTIONS, path)
            periods = section.get('periods')
            total = train.get('total_iter')
            if section.get('type') == 'CosineAnnealingRestartLR' and isinstance(periods, (list, tuple)) \
                    and all(isinstance(p, (int, float)) for p in periods) and isinstance(total, (int, float)) \
                    and sum(periods) < total:
                problems.append(f'{path}.periods: sum to {sum(periods)}, fewer than train.total_iter={total}; '
                                "BasicSR's cosine schedule fails past its last period: extend periods (when "
                                'extending a finished run, raise both)')
            for name in SCHEDULE_LISTS:
                values = section.get(name)
                if values is not None and not isinstance(values, (list, tuple)):
                    problems.append(f'{path}.{name}: must be a list of positive integers, got {values!r}')
                    continue
                for i, value in enumerate(values or ()):
                    problems.value(value, f'{path}.{name}[{i}]', integer=True, low=1)
        elif key.endswith('_opt'):
            problems.number(section, 'loss_weight', path, low=0)


def check_options(opt, source=None):
    """Raise :class:`OptionError` listing every problem of a parsed BasicSR options dict (see the module);
    ``source`` (the file) is named in the message."""
    problems = _Problems()
    model = package_model(opt)
    if model:
        problems.unknown([key for key in opt if not str(key).startswith(NETWORK_PREFIX)], TOP_KEYS, '')
    num_gpu = opt.get('num_gpu', 0)
    if num_gpu != 'auto' and problems.value(num_gpu, 'num_gpu', integer=True, low=0) and num_gpu > 0 \
            and not torch.cuda.is_available():
        problems.append(f'num_gpu: {num_gpu} but CUDA is not available; set num_gpu: 0 (CPU) or auto')
    problems.number(opt, 'manual_seed', 'manual_seed', integer=True, low=0)
    datasets = opt.get('datasets') or {}
    if not isinstance(datasets, dict):
        problems.append(f'datasets: must be a mapping of phases, got {datasets!r}')
        datasets = {}
    for phase, dataset in datasets.items():
        _check_dataset(problems, dataset, f'datasets.{phase}')
    if opt.get('is_train', 'train' in opt) and opt.get('model_type') != 'FaceTestModel':
        _check_train(problems, opt)
        problems.number(opt.get('logger') or {}, 'print_freq', 'logger', integer=True, low=1)
        problems.number(opt.get('logger') or {}, 'save_checkpoint_freq', 'logger', integer=True, low=1)
        problems.number(opt.get('val') or {}, 'val_freq', 'val', low=1)
    if model:
        problems.numbers(opt.get('val') or {}, model.VAL_OPTIONS, 'val')
    _raise(problems, f'options in {source}' if source else 'options')


def check_train_loader(train_loader, dataset_opt, world_size):
    """A training loader that yields no batch (fewer samples per process than one batch, ``drop_last``) is an error."""
    if len(train_loader) == 0:
        samples = len(train_loader.sampler) if train_loader.sampler is not None else len(train_loader.dataset)
        raise OptionError(
            f'datasets.train: {len(train_loader.dataset)} image(s) x dataset_enlarge_ratio '
            f'{dataset_opt.get("dataset_enlarge_ratio", 1)} over {world_size} process(es) give {samples} sample(s) '
            f'per process, fewer than batch_size_per_gpu={dataset_opt.get("batch_size_per_gpu")}: with drop_last '
            'not one batch is drawn and nothing would be trained. Lower batch_size_per_gpu, raise '
            'dataset_enlarge_ratio or add images.')
