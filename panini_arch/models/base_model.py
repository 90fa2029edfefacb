"""The base of the package's models: device placement, weights loading, checkpoints, training states, resume.

:class:`PaniniBaseModel` is BasicSR 1.4.2's ``BaseModel`` with these methods replaced:

* :meth:`~PaniniBaseModel.model_to_device`: ``DistributedDataParallel`` without ``device_ids`` on CPU
  (BasicSR always passes the current CUDA device).
* :meth:`~PaniniBaseModel.load_network`: through the package's one weight loader
  (:mod:`panini_arch.utils.weights`): weights only, strict unless ``strict_load_*`` says otherwise, finite.
* :meth:`~PaniniBaseModel.save_network` / :meth:`~PaniniBaseModel.save_training_state` write through
  :func:`panini_arch.utils.atomic.atomic_save` (temporary file in the same folder, then ``os.replace``,
  a SHA-256 beside each file), keeping BasicSR's three tries and warnings. The same objects give the
  same bytes. A save that still fails after three tries (disk full) stops training with
  :class:`CheckpointSaveError`; BasicSR logs "Just ignore it" and goes on, writing training states whose
  weights are missing. The networks are saved before the state, and the state lists them
  (``networks``), so a state is never newer than its weights. Weights that are no longer finite are
  never written (:class:`~panini_arch.utils.safe_load.NonFiniteWeightsError`), so the last good files
  stay the newest.
* :meth:`~PaniniBaseModel.training_state`: BasicSR's state plus the random-number states (``rng``); a
  model extends it with ``super()`` (the MoCo queue of ``UDRLModel``).
* :meth:`~PaniniBaseModel.resume_training` keeps the schedule of the options (``periods``,
  ``milestones``, restart weights, ...) and takes only the position and learning rates from the state,
  so a finished run extended with a larger ``total_iter`` and ``periods`` goes on with the new schedule
  (BasicSR restores the old one and fails past its end); the change is logged.

Which state file a run resumes from, and the sampler that continues mid-epoch, belong to the launcher
(:mod:`panini_arch.trainer.checkpoint`). BasicSR's own models (``SRModel``, ...) get these methods only
through :func:`panini_arch.trainer.patches.apply_to_basicsr_models`, which the training and testing entry
points call when the options' ``model_type`` is not one of the package's models.
"""
import collections
import os
import random
import time
from collections import OrderedDict

import numpy as np
import torch
from torch.nn.parallel import DataParallel, DistributedDataParallel

from basicsr.models.base_model import BaseModel
from basicsr.utils import get_root_logger
from basicsr.utils.dist_util import master_only

from ..utils.atomic import atomic_save
from ..utils.option_spec import option_value
from ..utils.safe_load import NonFiniteWeightsError, check_finite, load_torch_file, non_finite_keys
from ..utils.weights import load_checked, select_state_dict, strip_module_prefix

SAVE_TRIES = 3
RETRY_DELAY_S = 1

# Scheduler attributes that are the run's position, taken from the state; every other attribute is the schedule
# the options describe (periods, milestones, restart weights, eta_min, ...) and is kept as built.
SCHEDULER_POSITION = ('last_epoch', '_step_count', '_last_lr', 'base_lrs', '_get_lr_called_within_step', 'verbose')


class TrainingStateError(RuntimeError):
    """A training state file that cannot be resumed from."""


class CheckpointSaveError(RuntimeError):
    """A checkpoint or training state could not be written (disk full, folder gone); training stops."""


def rng_state():
    """Python, NumPy, torch (and CUDA) global random states, in weights-only-loadable types."""
    numpy_state = np.random.get_state(legacy=False)
    state = {
        'python': random.getstate(),
        'numpy_key': torch.from_numpy(numpy_state['state']['key'].astype(np.int64)),
        'numpy_pos': numpy_state['state']['pos'],
        'numpy_gauss': (numpy_state['has_gauss'], numpy_state['gauss']),
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    """Restore what :func:`rng_state` returned (CUDA states only onto as many devices)."""
    random.setstate(state['python'])
    has_gauss, gauss = state['numpy_gauss']
    key = state['numpy_key'].cpu().numpy().astype(np.uint32)
    np.random.set_state(('MT19937', key, state['numpy_pos'], has_gauss, gauss))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


def save_with_retry(obj, path, what):
    """:func:`atomic_save` with BasicSR's three tries and warnings; :class:`CheckpointSaveError` if all fail."""
    logger = get_root_logger()
    for remaining in reversed(range(SAVE_TRIES)):
        try:
            atomic_save(obj, path)
            return
        except Exception as error:
            logger.warning(f'Save {what} error: {error}, remaining retry times: {remaining}')
            if not remaining:
                raise CheckpointSaveError(
                    f'Cannot save the {what} {path} after {SAVE_TRIES} tries ({error}). Training stopped so that no '
                    'training state is newer than its weights; free space (or fix the folder), then continue with '
                    '--auto_resume, which resumes from the newest complete checkpoint.') from error
            time.sleep(RETRY_DELAY_S)


def _differs(a, b):
    return list(a) != list(b) if isinstance(a, (list, tuple, collections.Counter)) else a != b


class PaniniBaseModel(BaseModel):
    """BasicSR's ``BaseModel`` whose device placement, loading, saving and resume are the package's.

    Subclasses build their networks with :meth:`model_to_device`, save them with :meth:`save_network`
    (before :meth:`save_training_state`), and may extend :meth:`training_state` / :meth:`resume_training`
    with ``super()``. ``TRAIN_OPTIONS`` (``VAL_OPTIONS``) declares the keys a model reads from ``train:``
    (``val:``) beyond BasicSR's (:class:`~panini_arch.utils.option_spec.Option`), which the options check finds
    through the registry.
    """

    TRAIN_OPTIONS = {}
    VAL_OPTIONS = {}

    def train_option(self, key):
        """``train.<key>`` of the options, or the default :attr:`TRAIN_OPTIONS` declares for it."""
        return option_value(self.opt.get('train'), self.TRAIN_OPTIONS, key)

    def val_option(self, key):
        """``val.<key>`` of the options, or the default :attr:`VAL_OPTIONS` declares for it."""
        return option_value(self.opt.get('val'), self.VAL_OPTIONS, key)

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

    def load_network(self, net, load_path, strict=True, param_key='params'):
        """Load the ``param_key`` entry of ``load_path`` into ``net`` (BasicSR's signature and log lines).

        ``params_ema`` falls back to ``params`` when absent; None: the file is the state dict. A ``module.``
        prefix is removed. The file is read weights-only (checksum checked where one lies beside it); with
        ``strict`` every missing, unexpected or mis-shaped key is listed (:func:`~panini_arch.utils.weights.
        load_checked`), without it the differing keys are logged as BasicSR does. NaN or infinite weights
        raise :class:`~panini_arch.utils.safe_load.NonFiniteWeightsError` naming the tensors.
        """
        logger = get_root_logger()
        net = self.get_bare_model(net)
        what = f'{net.__class__.__name__}'
        checkpoint = load_torch_file(load_path)
        if param_key is not None and param_key not in checkpoint and 'params' in checkpoint:
            logger.info(f'Loading: {param_key} does not exist, use params.')
            param_key = 'params'
        state_dict = select_state_dict(checkpoint, param_key, load_path, what)
        logger.info(f'Loading {what} model from {load_path}, with param key: [{param_key}].')
        state_dict = strip_module_prefix(state_dict)
        if strict:
            load_checked(net, state_dict, load_path, what)
            return
        check_finite(state_dict, load_path, f'{what} weights')
        self._print_different_keys_loading(net, state_dict, strict)
        net.load_state_dict(state_dict, strict=False)

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
            save_dict[key] = OrderedDict(
                (k[7:] if k.startswith('module.') else k, v.cpu()) for k, v in state_dict.items())
            bad = non_finite_keys(save_dict[key])
            if bad:
                raise NonFiniteWeightsError(
                    f'{net_label} ({key}) at iteration {current_iter} has NaN/inf weights in {len(bad)} tensor(s) '
                    f'({", ".join(bad[:3])}{", ..." if len(bad) > 3 else ""}): not saved, so the last good '
                    'checkpoint stays the newest. Resume it with --auto_resume after lowering the learning rate or '
                    'turning off fp16.')
        save_with_retry(save_dict, save_path, 'model')
        if isinstance(current_iter, int) and current_iter >= 0:  # a numbered save: its training state will list it
            vars(self).setdefault('saved_networks', {}).setdefault(current_iter, []).append(
                os.path.basename(save_path))

    def training_state(self, epoch, current_iter):
        """BasicSR's state (epoch, iter, optimizers, schedulers) plus ``rng``; models may extend it."""
        return {
            'epoch': epoch,
            'iter': current_iter,
            'optimizers': [o.state_dict() for o in self.optimizers],
            'schedulers': [s.state_dict() for s in self.schedulers],
            'rng': rng_state(),
        }

    @master_only
    def save_training_state(self, epoch, current_iter):
        """Write ``self.training_state(...)`` to ``<iter>.state`` atomically (nothing for ``-1``).

        The state lists (``networks``) the files :meth:`save_network` wrote for this iteration, which
        ``--auto_resume`` requires to be present and intact.
        """
        if current_iter == -1:
            return
        save_path = os.path.join(self.opt['path']['training_states'], f'{current_iter}.state')
        state = self.training_state(epoch, current_iter)
        state['networks'] = sorted(vars(self).get('saved_networks', {}).pop(current_iter, []))
        save_with_retry(state, save_path, 'training state')

    def resume_training(self, resume_state):
        """Load the optimizers and schedulers of ``resume_state``, keeping the options' schedule (module docstring)."""
        optimizers, schedulers = resume_state['optimizers'], resume_state['schedulers']
        if len(optimizers) != len(self.optimizers) or len(schedulers) != len(self.schedulers):
            raise TrainingStateError(
                f'The training state holds {len(optimizers)} optimizer(s) and {len(schedulers)} scheduler(s), the '
                f'options build {len(self.optimizers)} and {len(self.schedulers)}')
        for optimizer, state in zip(self.optimizers, optimizers):
            optimizer.load_state_dict(state)
        logger = get_root_logger()
        for scheduler, state in zip(self.schedulers, schedulers):
            schedule = {k: v for k, v in vars(scheduler).items() if k not in SCHEDULER_POSITION and k != 'optimizer'}
            scheduler.load_state_dict(state)
            changed = {k: (state[k], v) for k, v in schedule.items() if k in state and _differs(state[k], v)}
            vars(scheduler).update(schedule)
            if changed:
                logger.warning('Resuming with the schedule of the options, which differs from the training state: ' +
                               '; '.join(f'{k} {old} -> {new}' for k, (old, new) in changed.items()))


