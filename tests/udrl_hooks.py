"""Test-only hooks for the UDRL launcher tests, imported by their options file (``test_hooks:`` tag).

Wraps ``UDRLModel.save``:

* ``PANINI_TEST_KILL_AFTER_ITER=N``: SIGKILL this process right after iteration N was saved;
* at the end of training every rank writes its queue, pointer and key encoder to
  ``<experiments_root>/rank<r>_moco.pth`` (BasicSR saves rank 0 only).
"""
import os
import signal

import torch
from basicsr.utils.dist_util import get_dist_info

from panini_arch.models.udrl_model import UDRLModel

_save = UDRLModel.save


def save(self, epoch, current_iter):
    """UDRLModel.save, then the hooks described in the module docstring."""
    _save(self, epoch, current_iter)
    if current_iter == -1:
        rank, _ = get_dist_info()
        torch.save(self.moco_state(), os.path.join(self.opt['path']['experiments_root'], f'rank{rank}_moco.pth'))
    elif str(current_iter) == os.environ.get('PANINI_TEST_KILL_AFTER_ITER'):
        os.kill(os.getpid(), signal.SIGKILL)


UDRLModel.save = save
