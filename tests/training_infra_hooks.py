"""Test-only hooks for tests/test_training_infra.py, imported by the options file.

The options files written by those tests carry
``test_hooks: !!python/name:training_infra_hooks.__name__``, so every training
process (each torchrun rank included) imports this module. It wraps
``SRModel.save``:

* ``PANINI_TEST_KILL_AFTER_ITER=N``: SIGKILL this process right after the
  models and the training state of iteration N were saved;
* at the end of training every rank writes its bare ``net_g`` weights to
  ``<experiments_root>/rank<r>_net_g.pth`` (BasicSR saves rank 0 only).
"""
import os
import signal

import torch
from basicsr.models.sr_model import SRModel
from basicsr.utils.dist_util import get_dist_info

_save = SRModel.save


def save(self, epoch, current_iter):
    """SRModel.save, then the hooks described in the module docstring."""
    _save(self, epoch, current_iter)
    if current_iter == -1:
        rank, _ = get_dist_info()
        path = os.path.join(self.opt['path']['experiments_root'], f'rank{rank}_net_g.pth')
        torch.save(self.get_bare_model(self.net_g).state_dict(), path)
    elif str(current_iter) == os.environ.get('PANINI_TEST_KILL_AFTER_ITER'):
        os.kill(os.getpid(), signal.SIGKILL)


SRModel.save = save
