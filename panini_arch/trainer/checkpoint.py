"""Which training state BasicSR's trainer resumes from, and the sampler and validation that make resume exact.

``panini_arch.trainer.patches`` installs these in place of BasicSR 1.4.2's own; what a model writes
(atomic, checksummed checkpoints and states holding the random states) and how it reads a state back
are methods of :class:`panini_arch.models.base_model.PaniniBaseModel`.

* :func:`claim_and_load_resume_state` (BasicSR's ``load_resume_state`` in ``basicsr.train``) first takes
  the run folder's lock (:mod:`.run_folder`), then :func:`load_resume_state` loads on the model's device (CPU without a GPU)
  with ``weights_only=True``. ``--auto_resume`` takes the newest complete
  checkpoint: a state that loads, whose network files all exist and match their
  checksums; it skips the others with a printed message naming what is wrong,
  falling back to the previous state. A state or network file without its
  ``.sha256`` is unverified: it is used only when it loads fully and its tensors
  are finite, with a warning. An explicit ``path.resume_state`` that cannot be
  read, or holds NaN or inf, stops with a message naming it.
* :class:`ResumableSampler` (BasicSR's ``EnlargedSampler``) skips, in the
  epoch a run resumes in, the batches trained on before the state was saved
  (BasicSR restarts that epoch from its first batch) and, in a single-process
  run, restores the random states just before the first batch is drawn.
* :func:`keep_rng_state` makes validation leave the random states untouched,
  so the iterations after a save draw the same numbers whether or not the
  run was interrupted there.

States hold ints, floats, strings, lists, dicts, tensors and the
``collections.Counter`` of ``MultiStepRestartLR``: torch's weights-only
loader accepts exactly these (the Counter is allowlisted explicitly for older
torch), so loading a state file never runs code from it.
"""
import collections
import functools
import os

import torch
from basicsr.data.data_sampler import EnlargedSampler
from basicsr.utils import check_resume, get_root_logger
from basicsr.utils.dist_util import get_dist_info

from ..models.base_model import TrainingStateError, rng_state, set_rng_state
from ..utils.safe_load import (ChecksumError, NonFiniteWeightsError, UnsafeWeightsError, check_finite, checksum_path,
                               has_checksum, load_torch_file, verify_checksum)
from .run_folder import claim_run_folder

STATE_KEYS = ('epoch', 'iter', 'optimizers', 'schedulers')

if hasattr(torch.serialization, 'add_safe_globals'):
    torch.serialization.add_safe_globals([collections.Counter])


def read_training_state(path, map_location='cpu'):
    """Load a training state with ``weights_only=True``; :class:`TrainingStateError` if unusable.

    Every tensor must be finite. A state without its ``.sha256`` is unverified: it is loaded whole
    (``mmap`` off) and accepted with a warning.
    """
    verified = has_checksum(path)
    try:
        state = load_torch_file(path, map_location, mmap=verified)
    except UnsafeWeightsError as error:
        raise TrainingStateError(f'Training state {path} holds objects that torch.load(weights_only=True) '
                                 f'refuses; save only tensors and plain Python values ({error})') from error
    except Exception as error:
        raise TrainingStateError(f'Training state {path} is unreadable (truncated or corrupt?): {error}') from error
    if not isinstance(state, dict) or any(key not in state for key in STATE_KEYS):
        raise TrainingStateError(f'Training state {path} lacks one of the keys {STATE_KEYS}')
    try:
        check_finite(state, path, 'the training state')
    except NonFiniteWeightsError as error:
        raise TrainingStateError(str(error)) from error
    if not verified:
        _unverified(path)
    return state


def _unverified(path):
    message = (f'{path} has no checksum file ({os.path.basename(checksum_path(path))}): it is unverified; used '
               'because it loads fully and its tensors are finite')
    print(f'Warning: {message}', flush=True)
    get_root_logger().warning(message)


def newest_training_state(folder, map_location='cpu', models_folder=None):
    """``(path, state)`` of the highest-iteration complete ``<iter>.state`` in ``folder``.

    Unreadable, corrupt (checksum) or non-finite states, and, when ``models_folder`` is
    given, states whose network files (those the state lists, else ``net_*_<iter>.pth``)
    are missing, corrupt or non-finite, are skipped with a printed message (BasicSR's
    logger does not exist yet when it resumes), falling back to the previous state;
    ``(None, None)`` when none is complete.
    """
    if not os.path.isdir(folder):
        return None, None
    names = (name[:-len('.state')] for name in os.listdir(folder) if name.endswith('.state'))
    for current_iter in sorted((int(n) for n in names if n.isdigit()), reverse=True):
        path = os.path.join(folder, f'{current_iter}.state')
        try:
            state = read_training_state(path, map_location)
            if models_folder:
                verify_networks(models_folder, current_iter, state.get('networks'))
            return path, state
        except (TrainingStateError, ChecksumError) as error:
            print(f'Skipping training state {current_iter}: {error}; falling back to the previous one.', flush=True)
    return None, None


def verify_networks(models_folder, current_iter, names=None):
    """Check the network files of iteration ``current_iter``; :class:`TrainingStateError` names what is wrong.

    ``names``: the files the state lists (states written before the list existed: every
    ``net_*_<iter>.pth`` in ``models_folder``, at least one). Each must exist and match its
    checksum; one without a checksum must load and be finite (a warning says it is unverified).
    """
    found = os.listdir(models_folder) if os.path.isdir(models_folder) else []
    if names is None:
        names = sorted(n for n in found if n.startswith('net_') and n.endswith(f'_{current_iter}.pth'))
        if not names:
            raise TrainingStateError(f'no network file net_*_{current_iter}.pth in {models_folder}')
    missing = [name for name in names if name not in found]
    if missing:
        raise TrainingStateError(f'its network file(s) {", ".join(missing)} are missing from {models_folder}')
    for name in names:
        path = os.path.join(models_folder, name)
        if has_checksum(path):
            verify_checksum(path)
            continue
        try:
            check_finite(load_torch_file(path, mmap=False), path)
        except Exception as error:
            raise TrainingStateError(f'unverified network file {path} is unusable: {error}') from error
        _unverified(path)


class ResumableSampler(EnlargedSampler):
    """BasicSR's ``EnlargedSampler`` that continues mid-epoch after :func:`load_resume_state`.

    ``resume_point`` (class-wide: one training per process) holds the resumed
    epoch and iteration, the per-process batch size and, for a
    single-process run, the saved random states. The first ``__iter__`` of
    that epoch drops the samples of the batches already trained on, assuming
    BasicSR's numbering (epoch ``e`` holds iterations ``e*P+1 .. (e+1)*P``,
    ``P = len(self) // batch_size``), then restores the random states, at the
    point where the uninterrupted run drew its next batch.
    """

    resume_point = None

    def __iter__(self):
        indices = list(super().__iter__())
        point = ResumableSampler.resume_point
        if point is None or point['epoch'] != self.epoch:
            return iter(indices)
        ResumableSampler.resume_point = None
        batch_size = point['batch_size']
        batches = len(indices) // batch_size
        done = min(max(point['iter'] - point['epoch'] * batches, 0), batches)
        if point['rng'] is not None:
            set_rng_state(point['rng'])
        return iter(indices[done * batch_size:])


def _state_device(opt):
    if opt['num_gpu'] != 0 and torch.cuda.is_available():
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')


def _batch_size(opt):
    """Samples per process per iteration, as BasicSR's ``build_dataloader`` computes it."""
    per_gpu = opt['datasets']['train']['batch_size_per_gpu']
    return per_gpu if opt['dist'] else per_gpu * max(opt['num_gpu'], 1)


def load_resume_state(opt):
    """BasicSR's ``load_resume_state``: CPU-safe, weights-only, newest complete state.

    With ``--auto_resume`` it looks in ``opt['path']['training_states']``
    (BasicSR looks in ``experiments/`` under the working directory: the same
    folder when the root path is the working directory). It also arms
    :class:`ResumableSampler`.
    """
    device = _state_device(opt)
    if opt['auto_resume']:
        path, state = newest_training_state(opt['path']['training_states'], device, opt['path'].get('models'))
        if path is not None:
            opt['path']['resume_state'] = path
    elif opt['path'].get('resume_state'):
        state = read_training_state(opt['path']['resume_state'], device)
    else:
        state = None
    if state is not None:
        check_resume(opt, state['iter'])
        single = get_dist_info()[1] == 1
        ResumableSampler.resume_point = {
            'epoch': state['epoch'],
            'iter': state['iter'],
            'batch_size': _batch_size(opt),
            'rng': state.get('rng') if single else None,
        }
    return state


def claim_and_load_resume_state(opt):
    """Take the run folder's lock (:func:`~.run_folder.claim_run_folder`), then :func:`load_resume_state`.

    The first thing ``train_pipeline`` does after parsing, in ``panini_arch/train.py`` and in
    BasicSR's own ``train.py`` alike, before any folder is archived or made.
    """
    claim_run_folder(opt, opt['root_path'])
    return load_resume_state(opt)


def keep_rng_state(method):
    """Wrap ``method`` (a model's ``validation``) so it leaves the global random states as it found them.

    Validation often runs right after a save; a resumed run does not repeat
    it, so it must not move the random streams training draws from.
    """

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        state = rng_state()
        try:
            return method(*args, **kwargs)
        finally:
            set_rng_state(state)

    return wrapper
