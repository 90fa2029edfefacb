"""Safety checks for Panini training: weight files exist, losses stay finite."""
import os

import torch
from torch import distributed as dist

from basicsr.utils import get_root_logger

from ..archs.panini_arch import DRE_SOURCE, STYLEGAN_SOURCE
from ..losses.perceptual_loss import VGG16_SOURCE

DISCRIMINATOR_SOURCE = ('BasicSR publishes it as stylegan2_ffhq_config_f_1024_discriminator_official-a386354a.pth '
                        '(run `python scripts/download_pretrained_models.py StyleGAN` in a BasicSR checkout).')
CHECKPOINT_SOURCE = 'It is a net_g_*.pth / net_d_*.pth written by this trainer under experiments/<name>/models/.'
METRIC_SOURCE = 'Give the local file this validation metric needs, or remove the metric from val.metrics.'

# (section, key, where users get the file) of every weight file the Panini model reads.
WEIGHT_OPTIONS = (
    (('network_g', ), 'stylegan_path', STYLEGAN_SOURCE),
    (('network_g', ), 'dre_path', DRE_SOURCE),
    (('path', ), 'pretrain_network_g', CHECKPOINT_SOURCE),
    (('path', ), 'pretrain_network_d', DISCRIMINATOR_SOURCE + ' ' + CHECKPOINT_SOURCE),
    (('train', 'perceptual_opt'), 'vgg_path', VGG16_SOURCE),
)


class NonFiniteLossError(RuntimeError):
    """Too many iterations in a row had a NaN or infinite loss."""


def check_weight_files(opt):
    """Raise one FileNotFoundError listing every configured weight file that does not exist.

    The message names the option (``network_g.stylegan_path``), the path and where to get the file.
    Also checks every ``*_path`` of the validation metrics (LPIPS, FID, ...), so a
    missing file stops training at start-up rather than at the first validation.
    Options left empty (``~``) are not checked: those nets start from random weights.
    """
    entries = []
    for section, key, source in WEIGHT_OPTIONS:
        node = opt
        for name in section:
            node = node.get(name) or {}
        entries.append(('.'.join(section + (key, )), node.get(key), source))
    for metric, metric_opt in ((opt.get('val') or {}).get('metrics') or {}).items():
        for key, path in metric_opt.items():
            if key.endswith('_path'):
                entries.append((f'val.metrics.{metric}.{key}', path, METRIC_SOURCE))
    missing = [
        f'  {option} = {path}: file not found. {source}' for option, path, source in entries
        if path is not None and not os.path.isfile(path)
    ]
    if missing:
        raise FileNotFoundError('Missing weight file(s) in the options:\n' + '\n'.join(missing))


class NonFiniteGuard:
    """Detects non-finite losses, logs them and stops after ``max_in_row`` bad iterations in a row.

    Args:
        max_in_row (int): raise NonFiniteLossError when this many consecutive
            iterations had an update skipped.
        distributed (bool): agree across processes, so that every rank skips
            the same updates (DDP would hang otherwise).
    """

    def __init__(self, max_in_row, distributed):
        if max_in_row < 1:
            raise ValueError(f'train.max_nonfinite_steps must be >= 1, got {max_in_row}')
        self.max_in_row = max_in_row
        self.distributed = distributed
        self.in_row = 0

    def all_finite(self, loss):
        """True when ``loss`` (a tensor) is finite on every process."""
        flag = torch.isfinite(loss.detach()).all().to(torch.float32)
        if self.distributed:
            dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def end_iteration(self, current_iter, skipped, losses):
        """Record one iteration.

        Args:
            current_iter (int): the iteration, for the log.
            skipped (list[str]): updates skipped because of a non-finite loss ('net_g', 'net_d').
            losses (dict[str, Tensor]): this iteration's losses, for the log.

        Raises:
            NonFiniteLossError: ``max_in_row`` iterations in a row skipped an update.
        """
        if not skipped:
            self.in_row = 0
            return
        self.in_row += 1
        values = ', '.join(f'{name}={value.item():.4g}' for name, value in losses.items())
        get_root_logger().warning(
            f'Non-finite loss at iteration {current_iter} ({values}): skipped the update of {" and ".join(skipped)}'
            f'{" and the EMA" if "net_g" in skipped else ""} ({self.in_row} in a row, '
            f'stopping at train.max_nonfinite_steps={self.max_in_row}).')
        if self.in_row >= self.max_in_row:
            raise NonFiniteLossError(
                f'Stopped at iteration {current_iter}: {self.in_row} iterations in a row had non-finite losses '
                f'({values}). Check the data for NaN/inf, lower the learning rate, or turn off fp16 (use_amp with '
                f'amp_dtype: bf16, or use_amp: false); resume from the last good checkpoint with --auto_resume.')
