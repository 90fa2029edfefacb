"""UDRL: MoCo pre-training of Panini-Net's degradation representation encoder (DRE).

A positive pair is one degradation applied to two different faces (``query``,
``key``); keys of earlier iterations, kept in a queue, are the negatives
(paper Fig. 2, Eq. 4).
"""
import copy
from collections import OrderedDict

import torch
from torch import distributed as dist
from torch.nn import functional as F

from basicsr.archs import build_network
from basicsr.metrics import calculate_metric
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY

from ..utils.option_spec import Option
from .base_model import PaniniBaseModel
from .hand_over import log_hand_over, model_input, udrl_pair
from .option_checks import check_options


def moco_logits(q, k, queue, temperature):
    """InfoNCE logits of MoCo: the positive key first, then every queued key.

    Args:
        q (Tensor): (B, D) L2-normalised queries.
        k (Tensor): (B, D) L2-normalised positive keys (row i pairs with query i).
        queue (Tensor): (K, D) L2-normalised negative keys.
        temperature (float): T > 0.

    Returns:
        tuple[Tensor, Tensor]: logits (B, 1 + K) = [q.k, q.queue^T] / T, and
        labels (B,) of zeros (the positive is column 0).
    """
    l_pos = (q * k).sum(dim=1, keepdim=True)
    l_neg = q @ queue.t()
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return logits, labels


@torch.no_grad()
def gather_all(tensor):
    """Concatenate ``tensor`` of every process along dim 0, in rank order (no gradient)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


@MODEL_REGISTRY.register()
class UDRLModel(PaniniBaseModel):
    """MoCo (v2 style) model that trains a ``DRE(with_head=True)``.

    Networks: ``net_g`` is the query encoder, trained by SGD; ``net_k`` is the
    key encoder, an exponential moving average of ``net_g`` (momentum ``m``).

    Options under ``train`` (defaults and ranges in :attr:`TRAIN_OPTIONS`):
        moco_m (float): key encoder momentum.
        queue_size (int): K, number of queued negative keys.
        temperature (float): T of InfoNCE (MoCo v2 uses 0.2).
        bn_splits (int): batch-norm groups per process. Query i is
            normalised with the statistics of its own group, key i with those of
            a group drawn from a random permutation of the global batch (all
            processes), so batch statistics cannot mark the positive pair. With
            several processes each process is one group already (MoCo's
            shuffle-BN); in a single process set ``bn_splits >= 2`` to get the
            same effect. The local batch must divide by ``bn_splits``.
        optim_g: ``{type: SGD | Adam, lr, ...}``; scheduler: as in BasicSR.

    Data (``feed_data``): ``query``, ``key`` (B, 3, H, W) in [-1, 1] (or uint8 with ``mean``/``std``; or,
    from a dataset with ``degrade_on_device``, ``query_hq``/``key_hq`` and two noise seeds, both degraded
    here: :func:`~.hand_over.udrl_pair`), and ``deg_params`` (B, 4), kept as ``self.deg_params`` for
    analyses (the loss needs no labels). Logged: ``l_infonce`` and ``acc_top1`` (fraction of
    queries whose positive key has the largest logit).

    :meth:`training_state` extends :meth:`PaniniBaseModel.training_state` (random states included) with
    the MoCo key encoder and queue; ``path.pretrain_network_g`` is read weights-only
    (:meth:`PaniniBaseModel.load_network`).
    """

    TRAIN_OPTIONS = {
        'moco_m': Option(0.999, 'float', 0, 1, high_open=True),
        'queue_size': Option(65536, 'int', 1),
        'temperature': Option(0.07, 'float', 0, low_open=True),
        'bn_splits': Option(1, 'int', 1),
    }

    def __init__(self, opt):
        check_options(opt)
        super().__init__(opt)
        log_hand_over(opt, self.device)
        self.net_g = build_network(opt['network_g'])
        if self.get_bare_model(self.net_g).head is None:
            raise ValueError('UDRLModel needs network_g with with_head: true (the MoCo projection head).')
        self.net_g = self.model_to_device(self.net_g)
        self.print_network(self.net_g)

        load_path = self.opt['path'].get('pretrain_network_g')
        if load_path is not None:
            param_key = self.opt['path'].get('param_key_g', 'params')
            self.load_network(self.net_g, load_path, self.opt['path'].get('strict_load_g', True), param_key)

        if self.is_train:
            self.init_training_settings()

    def init_training_settings(self):
        self.moco_m = self.train_option('moco_m')
        self.queue_size = self.train_option('queue_size')
        self.temperature = self.train_option('temperature')
        self.bn_splits = self.train_option('bn_splits')
        self.net_g.train()

        # copied after DDP wrapping, which broadcast rank 0's weights
        self.net_k = copy.deepcopy(self.get_bare_model(self.net_g))
        for param in self.net_k.parameters():
            param.requires_grad_(False)
        self.net_k.train()

        dim = self.net_k.head[-1].out_features
        generator = torch.Generator().manual_seed(self.opt.get('manual_seed') or 0)
        self.queue = F.normalize(torch.randn(self.queue_size, dim, generator=generator), dim=1).to(self.device)
        if self.opt['dist']:
            dist.broadcast(self.queue, 0)
        self.queue_ptr = 0

        self.setup_optimizers()
        self.setup_schedulers()

    def setup_optimizers(self):
        optim_opt = copy.deepcopy(self.opt['train']['optim_g'])
        optim_type = optim_opt.pop('type')
        params = [p for p in self.net_g.parameters() if p.requires_grad]
        self.optimizer_g = self.get_optimizer(optim_type, params, **optim_opt)
        self.optimizers.append(self.optimizer_g)

    def get_optimizer(self, optim_type, params, lr, **kwargs):
        """BasicSR 1.4.2 knows only Adam; MoCo trains with SGD."""
        if optim_type == 'SGD':
            return torch.optim.SGD(params, lr, **kwargs)
        return super().get_optimizer(optim_type, params, lr, **kwargs)

    def feed_data(self, data):
        self.query, self.key = udrl_pair(data, self.device)
        self.deg_params = data['deg_params'].to(self.device)
        if self.query.shape[0] % self.bn_splits:
            raise ValueError(f'batch size {self.query.shape[0]} does not divide by bn_splits={self.bn_splits}')

    def _project(self, net, x):
        """(b, 3, H, W) -> (b, D) L2-normalised projections, BN statistics per group of b / bn_splits."""
        bare = self.get_bare_model(net)
        groups = x.split(x.shape[0] // self.bn_splits)
        return F.normalize(torch.cat([bare.project(net(group)) for group in groups]), dim=1)

    @torch.no_grad()
    def momentum_update(self):
        """net_k <- m * net_k + (1 - m) * net_g, parameter by parameter."""
        for param_k, param_q in zip(self.net_k.parameters(), self.get_bare_model(self.net_g).parameters()):
            param_k.mul_(self.moco_m).add_(param_q.detach(), alpha=1 - self.moco_m)

    @torch.no_grad()
    def encode_keys(self, key):
        """Keys with shuffled batch norm.

        Args:
            key (Tensor): this process's key images, (b, 3, H, W).

        Returns:
            tuple[Tensor, Tensor]: this process's keys (b, D) and the keys of all
            processes in rank order (world_size * b, D), all L2-normalised.
        """
        images = gather_all(key)
        perm = torch.randperm(images.shape[0], device=images.device)
        if self.opt['dist']:
            dist.broadcast(perm, 0)
        rank, world_size = self.opt.get('rank', 0), self.opt.get('world_size', 1)
        mine = perm.view(world_size, -1)[rank]
        keys_all = torch.empty(images.shape[0], self.queue.shape[1], device=images.device)
        keys_all[perm] = gather_all(self._project(self.net_k, images[mine]))
        b = key.shape[0]
        return keys_all[rank * b:(rank + 1) * b], keys_all

    @torch.no_grad()
    def dequeue_and_enqueue(self, keys):
        """Write ``keys`` (n, D) at the pointer, wrapping around the K slots; advance the pointer."""
        idx = (self.queue_ptr + torch.arange(keys.shape[0], device=self.queue.device)) % self.queue_size
        self.queue[idx] = keys
        self.queue_ptr = (self.queue_ptr + keys.shape[0]) % self.queue_size

    def optimize_parameters(self, current_iter):
        self.optimizer_g.zero_grad()
        q = self._project(self.net_g, self.query)
        self.momentum_update()
        k, keys_all = self.encode_keys(self.key)
        logits, labels = moco_logits(q, k, self.queue, self.temperature)  # enqueued only after backward
        l_infonce = F.cross_entropy(logits, labels)
        l_infonce.backward()
        self.optimizer_g.step()
        self.dequeue_and_enqueue(keys_all)

        acc = (logits.detach().argmax(dim=1) == labels).float().mean()
        self.log_dict = self.reduce_loss_dict(OrderedDict(l_infonce=l_infonce.detach(), acc_top1=acc))

    def test(self, lq):
        """Query encoder in eval mode on (B, 3, H, W) images in [-1, 1].

        Returns:
            tuple[Tensor, Tensor]: v_DR (B, 256) and the L2-normalised head output (B, head_dim).
        """
        net = self.get_bare_model(self.net_g)
        net.eval()
        with torch.no_grad():
            v_dr = net(lq.to(self.device))
            projection = F.normalize(net.project(v_dr), dim=1)
        net.train()
        return v_dr, projection

    def dist_validation(self, dataloader, current_iter, tb_logger, save_img):
        if self.opt['rank'] == 0:
            self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """Embed a ``UDRLValDataset`` and compute ``val.metrics`` on the embeddings.

        Each metric's function receives ``embeddings`` (n, C), ``deg_index``,
        ``face_index`` (n,) and ``deg_params`` (n, 4) (see
        ``panini_arch/metrics/udrl_metric.py``). A metric's ``embedding`` option
        picks the space: ``v_dr`` (default, the 256-d DRE output Panini-Net
        uses) or ``projection`` (the head output the InfoNCE loss is computed
        on). With ``val.save_best: <metric>`` a new best value of that metric
        also saves ``net_g_best.pth`` and ``net_dre_best.pth``.
        """
        dataset_name = dataloader.dataset.opt['name']
        spaces = {'v_dr': [], 'projection': []}
        columns = {'deg_index': [], 'face_index': [], 'deg_params': []}
        for val_data in dataloader:
            v_dr, projection = self.test(model_input(val_data, 'lq', self.device))
            spaces['v_dr'].append(v_dr.cpu())
            spaces['projection'].append(projection.cpu())
            for name, values in columns.items():
                values.append(val_data[name])
        spaces = {name: torch.cat(values) for name, values in spaces.items()}
        data = {name: torch.cat(values) for name, values in columns.items()}

        self._initialize_best_metric_results(dataset_name)
        self.metric_results = {}
        for name, metric_opt in (self.opt['val'].get('metrics') or {}).items():
            metric_opt = dict(metric_opt)
            space = metric_opt.pop('embedding', 'v_dr')
            if space not in spaces:
                raise ValueError(f'val.metrics.{name}.embedding must be one of {sorted(spaces)}, got {space!r}')
            self.metric_results[name] = float(calculate_metric(dict(data, embeddings=spaces[space]), metric_opt))
            self._update_best_metric_result(dataset_name, name, self.metric_results[name], current_iter)
        self._log_validation_metric_values(current_iter, dataset_name, tb_logger)

        best_metric = self.opt['val'].get('save_best')
        if best_metric is not None and self.best_metric_results[dataset_name][best_metric]['iter'] == current_iter:
            get_root_logger().info(f'New best {best_metric} at iter {current_iter}: saving net_g_best, net_dre_best.')
            self.save_networks('best')

    def _log_validation_metric_values(self, current_iter, dataset_name, tb_logger):
        log_str = f'Validation {dataset_name}\n'
        for metric, value in self.metric_results.items():
            best = self.best_metric_results[dataset_name][metric]
            log_str += f'\t # {metric}: {value:.4f}\tBest: {best["val"]:.4f} @ {best["iter"]} iter\n'
        get_root_logger().info(log_str)
        if tb_logger:
            for metric, value in self.metric_results.items():
                tb_logger.add_scalar(f'metrics/{dataset_name}/{metric}', value, current_iter)

    def bare_dre(self):
        """The query encoder without its projection head: a ``DRE(with_head=False)`` for Panini-Net."""
        dre_opt = dict(self.opt['network_g'], with_head=False)
        dre = build_network(dre_opt)
        state = {k: v for k, v in self.get_bare_model(self.net_g).state_dict().items() if not k.startswith('head.')}
        dre.load_state_dict(state, strict=True)
        return dre

    def save_networks(self, current_iter):
        """Write ``net_g_<iter>.pth`` (with head) and ``net_dre_<iter>.pth`` (bare DRE), key ``params``."""
        self.save_network(self.net_g, 'net_g', current_iter)
        self.save_network(self.bare_dre(), 'net_dre', current_iter)

    def save(self, epoch, current_iter):
        self.save_networks(current_iter)
        self.save_training_state(epoch, current_iter)

    def moco_state(self):
        """Key encoder, queue and pointer, on the CPU, for the training state."""
        net_k = {k: v.cpu() for k, v in self.net_k.state_dict().items()}
        return {'net_k': net_k, 'queue': self.queue.cpu(), 'queue_ptr': self.queue_ptr}

    def load_moco_state(self, state):
        """Restore what :meth:`moco_state` returned."""
        if state['queue'].shape != self.queue.shape:
            raise ValueError(f'queue in the training state has shape {tuple(state["queue"].shape)}, '
                             f'options ask for {tuple(self.queue.shape)} (queue_size or head_dim changed?)')
        self.net_k.load_state_dict(state['net_k'], strict=True)
        self.queue.copy_(state['queue'])
        self.queue_ptr = int(state['queue_ptr'])

    def training_state(self, epoch, current_iter):
        """The base model's state (optimizers, schedulers, random states) plus ``moco``."""
        state = super().training_state(epoch, current_iter)
        state['moco'] = self.moco_state()
        return state

    def resume_training(self, resume_state):
        """Optimizers and schedulers (:class:`PaniniBaseModel`), then key encoder, queue and pointer."""
        super().resume_training(resume_state)
        self.load_moco_state(resume_state['moco'])
