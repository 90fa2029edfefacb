"""Test-only hooks for the launcher tests, loaded by ``tests/hooks/sitecustomize.py``.

The launcher tests put ``tests/hooks`` on the PYTHONPATH of every training
process (each torchrun rank too), so each imports this module; the one test of
BasicSR's own ``train.py`` names it in a ``!!python/name`` tag instead. It wraps
the ``save`` of BasicSR's ``SRModel``, ``PaniniModel`` and ``UDRLModel``:

* ``PANINI_TEST_KILL_AFTER_ITER=N``: SIGKILL this process right after the
  models and the training state of iteration N were written;
* ``PANINI_TEST_NO_SPACE_FOR=<file name>``: writing that checkpoint or state
  (its temporary file) fails with ``OSError(ENOSPC)``, as on a full disk;
* at the end of training every rank writes what it holds to
  ``<experiments_root>/rank<r>_<what>.pth`` (BasicSR saves from rank 0 only):
  the bare ``net_g`` weights (``net_g``), and for UDRL the queue, pointer and
  key encoder (``moco``).
"""
import errno
import os
import signal

import torch

import panini_arch  # noqa: F401  (before basicsr: makes it importable)
from basicsr.models.sr_model import SRModel
from basicsr.utils.dist_util import get_dist_info

from panini_arch.models.panini_model import PaniniModel
from panini_arch.models.udrl_model import UDRLModel


def net_g_state(model):
    return 'net_g', model.get_bare_model(model.net_g).state_dict()


def moco_state(model):
    return 'moco', model.moco_state()


def wrap_save(model_class, final_state):
    """Replace ``model_class.save`` by save + the hooks of the module docstring."""
    original = model_class.save

    def save(self, epoch, current_iter):
        original(self, epoch, current_iter)
        if current_iter == -1:
            rank, _ = get_dist_info()
            what, state = final_state(self)
            torch.save(state, os.path.join(self.opt['path']['experiments_root'], f'rank{rank}_{what}.pth'))
        elif str(current_iter) == os.environ.get('PANINI_TEST_KILL_AFTER_ITER'):
            os.kill(os.getpid(), signal.SIGKILL)

    model_class.save = save


def no_space_for(name):
    """Make ``torch.save`` into a file object named after ``name`` fail as on a full disk."""
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if name in os.path.basename(str(getattr(f, 'name', f))):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), getattr(f, 'name', f))
        return real_save(obj, f, *args, **kwargs)

    torch.save = save


if os.environ.get('PANINI_TEST_NO_SPACE_FOR'):
    no_space_for(os.environ['PANINI_TEST_NO_SPACE_FOR'])
wrap_save(SRModel, net_g_state)
wrap_save(PaniniModel, net_g_state)
wrap_save(UDRLModel, moco_state)
