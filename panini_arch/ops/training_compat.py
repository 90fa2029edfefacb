"""Make BasicSR 1.4.2's trainer run on CPU, under torchrun, and with current torch.

Imported by ``panini_arch.ops`` right after ``basicsr_compat``. Nothing in
site-packages is edited: the functions below replace BasicSR's own by
rebinding every module attribute that refers to them.

* ``init_dist``: gloo without CUDA (nccl with it, ``PANINI_DIST_BACKEND``
  overrides), CUDA device from ``LOCAL_RANK`` only when CUDA exists; the slurm
  path works the same way. BasicSR divides by ``torch.cuda.device_count()``.
* ``BaseModel.model_to_device``: ``DistributedDataParallel`` without
  ``device_ids`` on CPU.
* ``load_resume_state``: loads on the model's device (CPU without a GPU) with
  ``weights_only=True``; ``--auto_resume`` takes the newest state that loads,
  skipping unreadable ones with a printed message; an explicit
  ``path.resume_state`` that cannot be read stops with a message naming it.
* ``BaseModel.save_network`` / ``save_training_state``: written to a temporary
  file in the same folder, then ``os.replace``d (three tries, as in BasicSR).
* ``parse_options``: ``--local-rank`` accepted as ``--local_rank``.

Training states hold ints, floats, lists, dicts, tensors and the
``collections.Counter`` of ``MultiStepRestartLR``; torch's weights-only loader
accepts exactly these (the Counter is allowlisted explicitly for older torch),
so a state file can never run code when it is loaded.
"""
import collections
import functools
import os
import pickle
import subprocess
import sys
import time
from collections import OrderedDict

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DataParallel, DistributedDataParallel

import basicsr.models.base_model as _base_model
import basicsr.utils.dist_util as _dist_util
import basicsr.utils.options as _options
from basicsr.utils import check_resume, get_root_logger
from basicsr.utils.dist_util import master_only

_train = sys.modules['basicsr.train']
_test = sys.modules['basicsr.test']

STATE_KEYS = ('epoch', 'iter', 'optimizers', 'schedulers')

if hasattr(torch.serialization, 'add_safe_globals'):
    torch.serialization.add_safe_globals([collections.Counter])


class TrainingStateError(RuntimeError):
    """A training state file that cannot be resumed from."""


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


def model_to_device(self, net):
    """Move ``net`` to the model's device; wrap in DDP (no ``device_ids`` on CPU) or DataParallel."""
    net = net.to(self.device)
    if self.opt['dist']:
        device_ids = [torch.cuda.current_device()] if self.device.type == 'cuda' else None
        net = DistributedDataParallel(
            net, device_ids=device_ids, find_unused_parameters=self.opt.get('find_unused_parameters', False))
    elif self.opt['num_gpu'] > 1:
        net = DataParallel(net)
    return net


def atomic_save(obj, path):
    """``torch.save`` to a hidden temporary file next to ``path``, then rename it over ``path``.

    A reader sees either the previous file or the complete new one, never a
    partial write; a kill leaves at most a stale ``.<name>.<pid>.tmp``.
    """
    folder, name = os.path.split(path)
    tmp_path = os.path.join(folder, f'.{name}.{os.getpid()}.tmp')
    try:
        torch.save(obj, tmp_path)
        with open(tmp_path, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def _save_with_retry(obj, path, what):
    """:func:`atomic_save` with BasicSR's three tries and its warning messages."""
    logger = get_root_logger()
    for remaining in (2, 1, 0):
        try:
            atomic_save(obj, path)
            return
        except Exception as error:
            logger.warning(f'Save {what} error: {error}, remaining retry times: {remaining}')
            if remaining:
                time.sleep(1)
    logger.warning(f'Still cannot save {path}. Just ignore it.')


@master_only
def save_network(self, net, net_label, current_iter, param_key='params'):
    """Save ``{param_key: state_dict}`` (CPU tensors, no ``module.`` prefix) atomically."""
    label = 'latest' if current_iter == -1 else current_iter
    save_path = os.path.join(self.opt['path']['models'], f'{net_label}_{label}.pth')
    nets = net if isinstance(net, list) else [net]
    param_keys = param_key if isinstance(param_key, list) else [param_key]
    assert len(nets) == len(param_keys), 'The lengths of net and param_key should be the same.'
    save_dict = {}
    for net_, key in zip(nets, param_keys):
        state_dict = self.get_bare_model(net_).state_dict()
        save_dict[key] = OrderedDict((k[7:] if k.startswith('module.') else k, v.cpu()) for k, v in state_dict.items())
    _save_with_retry(save_dict, save_path, 'model')


@master_only
def save_training_state(self, epoch, current_iter):
    """Save epoch, iteration, optimizer and scheduler states atomically (nothing for ``-1``)."""
    if current_iter == -1:
        return
    state = {
        'epoch': epoch,
        'iter': current_iter,
        'optimizers': [o.state_dict() for o in self.optimizers],
        'schedulers': [s.state_dict() for s in self.schedulers],
    }
    save_path = os.path.join(self.opt['path']['training_states'], f'{current_iter}.state')
    _save_with_retry(state, save_path, 'training state')


def read_training_state(path, map_location='cpu'):
    """Load a training state with ``weights_only=True``; :class:`TrainingStateError` if unusable."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise TrainingStateError(f'Training state {path} holds objects that torch.load(weights_only=True) '
                                 f'refuses; save only tensors and plain Python values ({error})') from error
    except Exception as error:
        raise TrainingStateError(f'Training state {path} is unreadable (truncated or corrupt?): {error}') from error
    if not isinstance(state, dict) or any(key not in state for key in STATE_KEYS):
        raise TrainingStateError(f'Training state {path} lacks one of the keys {STATE_KEYS}')
    return state


def newest_training_state(folder, map_location='cpu'):
    """``(path, state)`` of the highest-iteration ``<iter>.state`` in ``folder`` that loads.

    Unreadable files are skipped with a printed message (the logger does not
    exist yet when BasicSR resumes); ``(None, None)`` when none loads.
    """
    if not os.path.isdir(folder):
        return None, None
    iters = sorted((int(name[:-6]) for name in os.listdir(folder) if name.endswith('.state') and name[:-6].isdigit()),
                   reverse=True)
    for current_iter in iters:
        path = os.path.join(folder, f'{current_iter}.state')
        try:
            return path, read_training_state(path, map_location)
        except TrainingStateError as error:
            print(f'Skipping training state: {error}', flush=True)
    return None, None


def _state_device(opt):
    if opt['num_gpu'] != 0 and torch.cuda.is_available():
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')


def load_resume_state(opt):
    """BasicSR's ``load_resume_state``: CPU-safe, weights-only, newest complete state.

    With ``--auto_resume`` it looks in ``opt['path']['training_states']``
    (BasicSR looked in ``experiments/`` under the working directory, which is
    the same folder when the root path is the working directory).
    """
    device = _state_device(opt)
    if opt['auto_resume']:
        path, state = newest_training_state(opt['path']['training_states'], device)
        if path is not None:
            opt['path']['resume_state'] = path
    elif opt['path'].get('resume_state'):
        state = read_training_state(opt['path']['resume_state'], device)
    else:
        state = None
    if state is not None:
        check_resume(opt, state['iter'])
    return state


def _dash_to_underscore(arg):
    if arg == '--local-rank' or arg.startswith('--local-rank='):
        return '--local_rank' + arg[len('--local-rank'):]
    return arg


def _accept_local_rank_dash(parse_options):

    @functools.wraps(parse_options)
    def wrapper(*args, **kwargs):
        sys.argv[1:] = [_dash_to_underscore(arg) for arg in sys.argv[1:]]
        return parse_options(*args, **kwargs)

    return wrapper


def _patch_basicsr_script():
    """BasicSR's ``train.py`` run as a script keeps its own ``load_resume_state``: replace it too."""
    main = sys.modules.get('__main__')
    script = getattr(main, '__file__', '') or ''
    if script.endswith(os.path.join('basicsr', 'train.py')) and hasattr(main, 'load_resume_state'):
        main.load_resume_state = load_resume_state


def apply():
    """Rebind BasicSR's functions to the ones above (idempotent)."""
    for module in (_dist_util, _options):
        module.init_dist = init_dist
    base = _base_model.BaseModel
    base.model_to_device = model_to_device
    base.save_network = save_network
    base.save_training_state = save_training_state
    _train.load_resume_state = load_resume_state
    if not hasattr(_options.parse_options, '__wrapped__'):
        parse_options = _accept_local_rank_dash(_options.parse_options)
        for module in (_options, _train, _test):
            module.parse_options = parse_options
    _patch_basicsr_script()


apply()

__all__ = ['TrainingStateError', 'atomic_save', 'dist_backend', 'init_dist', 'load_resume_state',
           'newest_training_state', 'read_training_state']
