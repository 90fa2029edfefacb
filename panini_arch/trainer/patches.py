"""Make BasicSR 1.4.2's trainer run on CPU, under torchrun, and with current torch.

Applied by importing :mod:`panini_arch.trainer` (``panini_arch/train.py``,
``test.py``, the options files' plugin tag), never by ``import panini_arch``.
Nothing in site-packages is edited: :func:`apply` rebinds every module
attribute that refers to the BasicSR function being replaced.

* ``init_dist``: gloo without CUDA, nccl with it (``PANINI_DIST_BACKEND``
  overrides); the CUDA device is set from ``LOCAL_RANK`` only when CUDA
  exists; the slurm path is BasicSR's, CPU-safe. BasicSR divides by
  ``torch.cuda.device_count()`` and always asks for nccl.
* ``parse_options``: ``--local-rank`` accepted as ``--local_rank``; the options
  file read with :class:`panini_arch.utils.safe_load.OptionsLoader` (BasicSR's
  ``ordered_yaml`` loader builds any Python object a file names), then checked
  by :func:`panini_arch.trainer.run_folder.check_output_names` (``name`` is one folder name) and
  :func:`panini_arch.models.option_checks.check_options` before anything is
  built; ``create_train_val_dataloader`` refuses a loader that yields no batch.
* ``load_resume_state`` of ``basicsr.train``: a training's rank 0 first takes the run folder's
  lock (:class:`~.run_folder.RunLock`), so BasicSR's own ``train.py`` takes it too.
* ``mkdir_and_rename`` / ``make_exp_dirs``: only folders directly under ``experiments/``,
  ``tb_logger/`` or ``results/`` are archived or created, the lock kept (:mod:`.run_folder`).
* ``paired_paths_from_meta_info_file`` of ``PairedImageDataset``: entries of ``meta_info_file``
  that lead out of ``dataroot_gt``/``dataroot_lq`` are refused by name
  (:func:`panini_arch.utils.entry_paths.check_entries`).
* ``imfrombytes`` of BasicSR's ``PairedImageDataset`` (the test harness): colour
  images through :func:`panini_arch.utils.image_io.decode_image`, so float and
  16-bit files are scaled, and truncated or animated ones refused, as everywhere.
* which state a run resumes from (:mod:`panini_arch.trainer.checkpoint`):
  ``load_resume_state``, ``EnlargedSampler`` and RNG-neutral validation.
* BasicSR's own models (``SRModel``, ...): :func:`apply_to_basicsr_models` gives BasicSR's
  ``BaseModel`` the device placement, loading, checkpoints and resume of
  :class:`panini_arch.models.base_model.PaniniBaseModel` (which the package's models inherit), when
  the options' ``model_type`` is not one of the package's models (:func:`use_package_base_model`).

BasicSR's LMDB back-end opens stores read-only after a size check
(:mod:`panini_arch.data.lmdb_store`). ``--force_yml`` takes literal values only, and a BasicSR ``parse_options`` running when the
plugin is imported reads the rest of its file safely (:mod:`panini_arch.trainer.basicsr_options`).

BasicSR's ``train.py`` run as a script holds its own copies of
``load_resume_state``, ``EnlargedSampler``, ``build_model`` and the folder makers; when the
plugin is first imported while that script runs (the ``plugin:`` tag of an
options file), those are replaced too.
"""
import functools
import os
import subprocess
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import basicsr.data.data_sampler as _data_sampler
import basicsr.data.paired_image_dataset as _paired_dataset
import basicsr.models.base_model as _base_model
import basicsr.utils.dist_util as _dist_util
import basicsr.utils.misc as _misc
import basicsr.utils.options as _options
from basicsr.models import build_model as _basicsr_build_model
from basicsr.utils.registry import MODEL_REGISTRY

from ..data import lmdb_store
from ..models.base_model import PaniniBaseModel
from ..models.option_checks import check_options, check_train_loader, registered
from ..utils.entry_paths import check_entries
from ..utils.image_io import decode_image
from ..utils.safe_load import OptionsLoader
from . import basicsr_options
from .checkpoint import ResumableSampler, claim_and_load_resume_state, keep_rng_state
from .run_folder import archive_and_create, check_output_names, make_exp_dirs

_basicsr_ordered_yaml = _options.ordered_yaml
_basicsr_imfrombytes = _paired_dataset.imfrombytes
_basicsr_paired_paths_from_meta_info_file = _paired_dataset.paired_paths_from_meta_info_file

_train = sys.modules['basicsr.train']
_test = sys.modules['basicsr.test']
_basicsr_create_train_val_dataloader = _train.create_train_val_dataloader


def dist_backend():
    """``PANINI_DIST_BACKEND`` if set, else nccl with CUDA and gloo without."""
    return os.environ.get('PANINI_DIST_BACKEND') or ('nccl' if torch.cuda.is_available() else 'gloo')


def _set_cuda_device(local_rank):
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank % torch.cuda.device_count())


def _init_dist_pytorch(backend, **kwargs):
    _set_cuda_device(int(os.environ.get('LOCAL_RANK', os.environ['RANK'])))
    dist.init_process_group(backend=backend, **kwargs)


def _init_dist_slurm(backend, port=None):
    """BasicSR's slurm set-up (master from ``scontrol``, port 29500 by default), CPU-safe."""
    proc_id = int(os.environ['SLURM_PROCID'])
    num_gpus = torch.cuda.device_count()
    local_rank = proc_id % num_gpus if num_gpus else int(os.environ.get('SLURM_LOCALID', 0))
    _set_cuda_device(local_rank)
    node_list = os.environ['SLURM_NODELIST']
    addr = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['MASTER_ADDR'] = addr
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = str(local_rank)
    os.environ['RANK'] = str(proc_id)
    dist.init_process_group(backend=backend)


def init_dist(launcher, backend=None, **kwargs):
    """BasicSR's ``init_dist`` with the backend chosen by :func:`dist_backend` unless given."""
    if mp.get_start_method(allow_none=True) is None:
        mp.set_start_method('spawn')
    backend = backend or dist_backend()
    if launcher == 'pytorch':
        _init_dist_pytorch(backend, **kwargs)
    elif launcher == 'slurm':
        _init_dist_slurm(backend, **kwargs)
    else:
        raise ValueError(f'Invalid launcher type: {launcher}')


def _dash_to_underscore(arg):
    if arg == '--local-rank' or arg.startswith('--local-rank='):
        return '--local_rank' + arg[len('--local-rank'):]
    return arg


def _parse_and_check(parse_options):

    @functools.wraps(parse_options)
    def wrapper(root_path, *args, **kwargs):
        sys.argv[1:] = [_dash_to_underscore(arg) for arg in sys.argv[1:]]
        opt, parsed = parse_options(root_path, *args, **kwargs)
        check_output_names(opt, root_path)
        check_options(opt, parsed.opt)
        use_package_base_model(opt)
        return opt, parsed

    return wrapper


def create_train_val_dataloader(opt, logger):
    """BasicSR's ``create_train_val_dataloader``; an error when the training loader would yield no batch."""
    result = _basicsr_create_train_val_dataloader(opt, logger)
    check_train_loader(result[0], opt['datasets']['train'], opt.get('world_size', 1))
    return result


def ordered_yaml():
    """BasicSR's ``ordered_yaml`` with the safe :class:`OptionsLoader` (and BasicSR's dumper)."""
    return OptionsLoader, _basicsr_ordered_yaml()[1]


def imfrombytes(content, flag='color', float32=False):
    """BasicSR's ``imfrombytes``; ``flag='color'`` decodes with :func:`decode_image` (BGR, alpha dropped)."""
    if flag != 'color':
        return _basicsr_imfrombytes(content, flag, float32)
    img = decode_image(content, 'image data')[0]
    return img.astype(np.float32) / 255. if float32 else img


def paired_paths_from_meta_info_file(folders, keys, meta_info_file, filename_tmpl):
    """BasicSR's function of that name; entries leading out of their folder raise ``OutsideRootError``."""
    paths = _basicsr_paired_paths_from_meta_info_file(folders, keys, meta_info_file, filename_tmpl)
    for folder, key in zip(folders, keys):
        check_entries([os.path.relpath(p[f'{key}_path'], folder) for p in paths], folder,
                      f'meta_info_file {meta_info_file}')
    return paths


def build_model(opt):
    """BasicSR's ``build_model`` (after :func:`use_package_base_model`), with a validation that leaves the random
    states alone."""
    use_package_base_model(opt)
    model = _basicsr_build_model(opt)
    model.validation = keep_rng_state(model.validation)
    return model


# The methods of PaniniBaseModel that apply_to_basicsr_models gives BasicSR's BaseModel.
PACKAGE_METHODS = ('model_to_device', 'load_network', 'save_network', 'training_state', 'save_training_state',
                   'resume_training')


def apply_to_basicsr_models():
    """Give BasicSR's ``BaseModel`` (so ``SRModel`` and the other BasicSR models) the methods of
    :class:`~panini_arch.models.base_model.PaniniBaseModel`: CPU-safe DDP, weights-only finite loads, atomic
    checksummed saves, random states in the training state, resume keeping the options' schedule (idempotent)."""
    for name in PACKAGE_METHODS:
        setattr(_base_model.BaseModel, name, vars(PaniniBaseModel)[name])


def use_package_base_model(opt):
    """:func:`apply_to_basicsr_models` when ``opt['model_type']`` is a registered model that does not inherit
    :class:`~panini_arch.models.base_model.PaniniBaseModel` (BasicSR's own); the package's models need nothing."""
    model = registered(MODEL_REGISTRY, opt.get('model_type'))
    if model is not None and not issubclass(model, PaniniBaseModel):
        apply_to_basicsr_models()


TRAIN_NAMES = {'load_resume_state': claim_and_load_resume_state, 'EnlargedSampler': ResumableSampler,
               'build_model': build_model, 'create_train_val_dataloader': create_train_val_dataloader,
               'make_exp_dirs': make_exp_dirs, 'mkdir_and_rename': archive_and_create}


def _patch_basicsr_script():
    """Replace the copies held by BasicSR's ``train.py`` when it runs as ``__main__``."""
    main = sys.modules.get('__main__')
    script = getattr(main, '__file__', '') or ''
    if script.endswith(os.path.join('basicsr', 'train.py')) and hasattr(main, 'train_pipeline'):
        for name, value in TRAIN_NAMES.items():
            setattr(main, name, value)


def apply():
    """Rebind BasicSR's functions to the ones above (idempotent)."""
    for module in (_dist_util, _options):
        module.init_dist = init_dist
    _options.ordered_yaml = ordered_yaml
    _paired_dataset.imfrombytes = imfrombytes
    _paired_dataset.paired_paths_from_meta_info_file = paired_paths_from_meta_info_file
    _data_sampler.EnlargedSampler = ResumableSampler
    _misc.mkdir_and_rename = archive_and_create
    _test.make_exp_dirs = make_exp_dirs
    for name, value in TRAIN_NAMES.items():
        setattr(_train, name, value)
    if not hasattr(_options.parse_options, '__wrapped__'):
        parse_options = _parse_and_check(_options.parse_options)
        for module in (_options, _train, _test):
            module.parse_options = parse_options
    _patch_basicsr_script()
    basicsr_options.apply()
    lmdb_store.apply()


__all__ = ['apply', 'apply_to_basicsr_models', 'build_model', 'dist_backend', 'init_dist', 'use_package_base_model']
