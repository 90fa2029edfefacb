"""Test-only hooks for tests/test_panini_model.py, imported by the options files those tests write.

Those options carry ``test_hooks: !!python/name:panini_model_hooks.__name__``, so
every training process (each torchrun rank too) imports this module. It wraps
``PaniniModel.save``:

* ``PANINI_MODEL_KILL_AFTER_ITER=N``: SIGKILL this process right after the
  checkpoints and the training state of iteration N were written;
* at the end of training every rank writes its bare ``net_g`` weights to
  ``<experiments_root>/rank<r>_net_g.pth`` (BasicSR saves from rank 0 only).
"""
import os
import signal

import torch
from basicsr.utils.dist_util import get_dist_info

from panini_arch.models.panini_model import PaniniModel

_save = PaniniModel.save


def save(self, epoch, current_iter):
    """PaniniModel.save, then the hooks described in the module docstring."""
    _save(self, epoch, current_iter)
    if current_iter == -1:
        rank, _ = get_dist_info()
        path = os.path.join(self.opt['path']['experiments_root'], f'rank{rank}_net_g.pth')
        torch.save(self.get_bare_model(self.net_g).state_dict(), path)
    elif str(current_iter) == os.environ.get('PANINI_MODEL_KILL_AFTER_ITER'):
        os.kill(os.getpid(), signal.SIGKILL)


PaniniModel.save = save
