"""Panini-Net training in BasicSR: L1 + VGG16 perceptual + vanilla GAN against a StyleGAN2 discriminator."""
from collections import OrderedDict
from contextlib import nullcontext
from os import path as osp

import torch
import torch.distributed as dist

from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.losses.gan_loss import r1_penalty
from basicsr.metrics import calculate_metric
from basicsr.utils import get_root_logger, imwrite, tensor2img
from basicsr.utils.registry import MODEL_REGISTRY

from ..archs.arch_util import set_memory_format
from ..archs.official_convert import state_dict_for
from ..utils.option_spec import Option
from ..utils.weights import load_weights
from .base_model import PaniniBaseModel
from .hand_over import log_hand_over, panini_pair
from .option_checks import check_options
from .train_checks import CHECKPOINT_SOURCE, DISCRIMINATOR_SOURCE, NonFiniteGuard, check_weight_files

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


@MODEL_REGISTRY.register()
class PaniniModel(PaniniBaseModel):
    """Restores ``lq`` (B, 3, in, in) to ``output`` (B, 3, out, out); images are in [-1, 1].

    Options beyond BasicSR's usual ones (all under ``train``; defaults and ranges in :attr:`TRAIN_OPTIONS`):
        ema_decay (float): decay of ``net_g_ema``.
        net_d_iters, net_d_init_iters (int): update G every ``net_d_iters``
            iterations and only after ``net_d_init_iters``; D every iteration.
        r1_reg_weight (float), net_d_reg_every (int): lazy R1 penalty on D (off when 0).
        max_nonfinite_steps (int): a NaN/inf loss skips that net's update (and
            the EMA for G); this many iterations in a row stop training.
        use_amp (bool), amp_dtype ('bf16' | 'fp16'): autocast the networks;
            fp16 needs CUDA and uses a GradScaler.
        channels_last (bool): NHWC memory format for net_g, the VGG and ``lq`` (D stays NCHW).

    Batches: ``lq``, ``gt`` float32 in [-1, 1], or uint8 with ``mean``/``std`` (normalised here), or
    from a dataset with ``degrade_on_device`` uint8 ``gt`` + ``deg_params``, ``deg_seed`` (``lq`` made here on the
    model's device); :mod:`~panini_arch.models.hand_over` turns each form into the float32 tensors.

    Weight files: ``network_g.stylegan_path``/``dre_path`` (read by PaniniNet),
    ``path.pretrain_network_d`` (key ``param_key_d``, 'params'),
    ``path.pretrain_network_g`` (keys 'params' and 'params_ema'),
    ``train.perceptual_opt.vgg_path``. All are checked before anything is built.

    Atomic checkpoints, random states in the training state and exact resume come from
    :class:`~panini_arch.models.base_model.PaniniBaseModel`.
    """

    TRAIN_OPTIONS = {
        'optim_d': Option(), 'pixel_opt': Option(), 'perceptual_opt': Option(), 'gan_opt': Option(),
        'ema_decay': Option(0.999, 'float', 0, 1),
        'net_d_iters': Option(1, 'int', 1),
        'net_d_init_iters': Option(0, 'int', 0),
        'r1_reg_weight': Option(0, 'float', 0),
        'net_d_reg_every': Option(16, 'int', 1),
        'max_nonfinite_steps': Option(5, 'int', 1),
        'use_amp': Option(False),
        'amp_dtype': Option('bf16'),
        'channels_last': Option(False),
    }

    def __init__(self, opt):
        check_options(opt)
        super().__init__(opt)
        check_weight_files(opt)
        log_hand_over(opt, self.device)
        self.channels_last = bool(self.train_option('channels_last'))
        self.memory_format = torch.channels_last if self.channels_last else torch.preserve_format
        self.net_g = self.model_to_device(self._build(opt['network_g']))
        self.print_network(self.net_g)
        self._load_checkpoint(self.net_g, 'path.pretrain_network_g', opt['path'].get('pretrain_network_g'),
                              opt['path'].get('param_key_g', 'params'))
        if self.is_train:
            self.init_training_settings()

    def _build(self, net_opt):
        """Build a network on this device in the configured memory format."""
        return self._to_memory_format(build_network(net_opt).to(self.device))

    def _to_memory_format(self, module):
        """With ``channels_last``, make every 4-D parameter and buffer NHWC."""
        return set_memory_format(module, torch.channels_last) if self.channels_last else module

    def _load_checkpoint(self, net, option, path, key, source=CHECKPOINT_SOURCE):
        if path is None:
            get_root_logger().info(f'{option} is not set: {type(net).__name__} keeps its initial weights.')
            return
        load_weights(self.get_bare_model(net), path, key, f'{option} ({key})', source, convert=state_dict_for)
        get_root_logger().info(f'Loaded {option} = {path} [{key}].')

    def init_training_settings(self):
        train_opt = self.opt['train']
        path_opt = self.opt['path']
        self.net_d = self.model_to_device(build_network(self.opt['network_d']).to(self.device))
        self.print_network(self.net_d)
        self._load_checkpoint(self.net_d, 'path.pretrain_network_d', path_opt.get('pretrain_network_d'),
                              path_opt.get('param_key_d', 'params'), DISCRIMINATOR_SOURCE)

        self.ema_decay = self.train_option('ema_decay')
        self.net_g_ema = self._build(self.opt['network_g'])
        if path_opt.get('pretrain_network_g') is None:
            self.update_ema(0)
        else:
            self._load_checkpoint(self.net_g_ema, 'path.pretrain_network_g', path_opt['pretrain_network_g'],
                                  'params_ema')
        self.net_g_ema.requires_grad_(False)
        self.net_g_ema.eval()

        self.cri_pix = build_loss(train_opt['pixel_opt']).to(self.device) if train_opt.get('pixel_opt') else None
        self.cri_perceptual = (
            self._to_memory_format(build_loss(train_opt['perceptual_opt']).to(self.device))
            if train_opt.get('perceptual_opt') else None)
        self.cri_gan = build_loss(train_opt['gan_opt']).to(self.device)

        self.net_d_iters = self.train_option('net_d_iters')
        self.net_d_init_iters = self.train_option('net_d_init_iters')
        self.r1_reg_weight = self.train_option('r1_reg_weight')
        self.net_d_reg_every = self.train_option('net_d_reg_every')
        self.guard = NonFiniteGuard(self.train_option('max_nonfinite_steps'), self.opt['dist'])
        self._setup_amp()

        self.net_g.train()
        self.net_d.train()
        self.setup_optimizers()
        self.setup_schedulers()

    def _setup_amp(self):
        amp_name = self.train_option('amp_dtype')
        if amp_name not in AMP_DTYPES:
            raise ValueError(f"train.amp_dtype must be one of {sorted(AMP_DTYPES)}, got {amp_name!r}")
        self.use_amp = bool(self.train_option('use_amp'))
        self.amp_dtype = AMP_DTYPES[amp_name]
        use_fp16 = self.use_amp and amp_name == 'fp16'
        if use_fp16 and self.device.type != 'cuda':
            raise ValueError('train.amp_dtype: fp16 needs a CUDA device; use bf16 on CPU.')
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=use_fp16)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=use_fp16)

    def setup_optimizers(self):
        train_opt = self.opt['train']
        for name, net in (('g', self.net_g), ('d', self.net_d)):
            optim_opt = dict(train_opt[f'optim_{name}'])
            optim_type = optim_opt.pop('type')
            params = [param for param in net.parameters() if param.requires_grad]
            optimizer = self.get_optimizer(optim_type, params, **optim_opt)
            setattr(self, f'optimizer_{name}', optimizer)
            self.optimizers.append(optimizer)

    def autocast(self):
        """Autocast context for the network forwards (a no-op unless ``use_amp``)."""
        if not self.use_amp:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def feed_data(self, data):
        """``lq`` and ``gt`` of the batch on this device (:func:`~.hand_over.panini_pair`)."""
        self.lq, gt = panini_pair(data, self.device, self.memory_format)
        if gt is not None:
            self.gt = gt

    def optimize_parameters(self, current_iter):
        """One iteration: G step (when due) then D step; non-finite losses skip their update."""
        loss_dict = OrderedDict()
        skipped = []
        running_stats = self._running_stats()
        g_due = current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters
        if g_due:
            if not self._optimize_g(loss_dict):
                skipped.append('net_g')
        else:
            with torch.no_grad(), self.autocast():
                self.output = self.net_g(self.lq).float()
        if not g_due or 'net_g' in skipped:  # net_g not updated: its batch-norm statistics stay as they were
            self._running_stats(restore=running_stats)
        if not self._optimize_d(current_iter, loss_dict):
            skipped.append('net_d')
        self.log_dict = self.reduce_loss_dict(loss_dict)
        self.guard.end_iteration(current_iter, skipped, loss_dict)

    def _running_stat_buffers(self):
        """net_g's batch-norm statistics (the IFE's CBAM, a trained DRE) by name."""
        return {name: buffer for name, buffer in self.get_bare_model(self.net_g).named_buffers()
                if name.endswith(('running_mean', 'running_var', 'num_batches_tracked'))}

    @torch.no_grad()
    def _running_stats(self, restore=None):
        """Copies of net_g's batch-norm statistics, or put ``restore`` back.

        The forward of a step that does not update net_g (a skipped, non-finite one, or a D-only
        one) has already moved them; restoring keeps them as they were (and finite).
        """
        buffers = self._running_stat_buffers()
        if restore is None:
            return {name: buffer.clone() for name, buffer in buffers.items()}
        for name, saved in restore.items():
            buffers[name].copy_(saved)
        return restore

    @torch.no_grad()
    def _sync_running_stats(self):
        """With several processes, average net_g's batch-norm statistics after each update, so every
        rank (and its EMA copy) keeps the same ones; each rank's batch moved its own copy. A step that
        does not update net_g restores them on every rank instead (all ranks skip together)."""
        if not self.opt['dist']:
            return
        world_size = dist.get_world_size()
        for buffer in self._running_stat_buffers().values():
            if buffer.is_floating_point():
                dist.all_reduce(buffer)
                buffer.div_(world_size)

    def _optimize_g(self, loss_dict):
        """Generator step; returns False when it was skipped for a non-finite loss.

        D scores the output once per iteration: here, through a detached copy of the output with D's
        weights in the graph, so the D step reuses these scores (D has not changed in between) instead of
        a second forward at the output size. The GAN loss reaches net_g as that copy's gradient, added to
        the other losses' in the same backward pass: the gradients of both nets are those of the usual
        two-forward step, up to the order of float additions.
        """
        self.optimizer_g.zero_grad(set_to_none=True)
        losses = OrderedDict()
        with self.autocast():
            self.output = self.net_g(self.lq).float()
            if self.cri_pix:
                losses['l_g_pix'] = self.cri_pix(self.output, self.gt)
            if self.cri_perceptual:
                losses['l_g_percep'] = self.cri_perceptual(self.output, self.gt).float()
            fake = self.output.detach().requires_grad_(True)
            self.net_d.requires_grad_(True)
            self.fake_pred = self.discriminate(fake)
            losses['l_g_gan'] = self.cri_gan(self.fake_pred, True, is_disc=False)
        loss_dict.update(losses)
        l_g_total = sum(losses.values())
        if not self.guard.all_finite(l_g_total):
            return False
        gan_grad, = torch.autograd.grad(self.scaler_g.scale(losses.pop('l_g_gan')), fake, retain_graph=True)
        roots = [self.scaler_g.scale(loss) for loss in losses.values()] + [self.output]
        torch.autograd.backward(roots, [None] * len(losses) + [gan_grad])
        self.scaler_g.step(self.optimizer_g)
        self.scaler_g.update()
        self._sync_running_stats()  # after backward: the batch-norm backward reads them
        self.update_ema(self.ema_decay)
        return True

    def discriminate(self, images):
        """D logits (B, 1) in fp32. BasicSR's StyleGAN2Discriminator flattens with ``view``, which an
        NHWC tensor does not allow, so D and its inputs always stay in the default (NCHW) layout."""
        return self.net_d(images.contiguous()).float()

    def _optimize_d(self, current_iter, loss_dict):
        """Discriminator step (vanilla GAN + lazy R1); returns False when skipped for a non-finite loss."""
        self.net_d.requires_grad_(True)
        self.optimizer_d.zero_grad(set_to_none=True)
        with_r1 = self.r1_reg_weight > 0 and current_iter % self.net_d_reg_every == 0
        real = self.gt.detach().requires_grad_(with_r1)
        fake_pred, self.fake_pred = getattr(self, 'fake_pred', None), None  # the G step's scores, if it ran
        with self.autocast():
            if fake_pred is None:
                fake_pred = self.discriminate(self.output.detach())
            real_pred = self.discriminate(real)
        l_d = self.cri_gan(real_pred, True, is_disc=True) + self.cri_gan(fake_pred, False, is_disc=True)
        loss_dict['l_d'] = l_d
        loss_dict['real_score'] = real_pred.detach().mean()
        loss_dict['fake_score'] = fake_pred.detach().mean()
        if with_r1:
            l_d_r1 = self.r1_reg_weight / 2 * self.net_d_reg_every * r1_penalty(real_pred, real)
            loss_dict['l_d_r1'] = l_d_r1
            l_d = l_d + l_d_r1
        if not self.guard.all_finite(l_d):
            return False
        self.scaler_d.scale(l_d).backward()
        self.scaler_d.step(self.optimizer_d)
        self.scaler_d.update()
        return True

    @torch.no_grad()
    def update_ema(self, decay):
        """net_g_ema = decay * net_g_ema + (1 - decay) * net_g for parameters; buffers are copied."""
        net_g = self.get_bare_model(self.net_g)
        for ema_param, param in zip(self.net_g_ema.parameters(), net_g.parameters()):
            ema_param.lerp_(param, 1 - decay)
        for ema_buffer, buffer in zip(self.net_g_ema.buffers(), net_g.buffers()):
            ema_buffer.copy_(buffer)

    def test(self):
        """``self.output`` from ``net_g_ema`` (``net_g`` when not training), in fp32."""
        net = self.net_g_ema if hasattr(self, 'net_g_ema') else self.net_g
        was_training = net.training
        net.eval()
        with torch.no_grad():
            self.output = net(self.lq).float()
        net.train(was_training)

    def get_current_visuals(self):
        visuals = OrderedDict(lq=self.lq.detach().cpu(), result=self.output.detach().cpu())
        if hasattr(self, 'gt'):
            visuals['gt'] = self.gt.detach().cpu()
        return visuals

    def dist_validation(self, dataloader, current_iter, tb_logger, save_img):
        if self.opt['rank'] == 0:
            self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """Restore every image of ``dataloader``, save it if asked and average the configured metrics."""
        dataset_name = dataloader.dataset.opt['name']
        metric_opts = self.opt['val'].get('metrics') or {}
        if metric_opts:
            self._initialize_best_metric_results(dataset_name)
        self.metric_results = {name: 0.0 for name in metric_opts}
        count = 0
        for val_data in dataloader:
            self.feed_data(val_data)
            self.test()
            for i, lq_path in enumerate(val_data['lq_path']):
                img_name = osp.splitext(osp.basename(lq_path))[0]
                metric_data = {'img': tensor2img(self.output[i].cpu(), min_max=(-1, 1))}
                if 'gt' in val_data:
                    metric_data['img2'] = tensor2img(self.gt[i].cpu(), min_max=(-1, 1))
                if save_img:
                    imwrite(metric_data['img'], self._visualization_path(dataset_name, img_name, current_iter))
                for name, metric_opt in metric_opts.items():
                    self.metric_results[name] += calculate_metric(metric_data, metric_opt)
                count += 1
        for name in metric_opts:
            self.metric_results[name] /= max(count, 1)
            self._update_best_metric_result(dataset_name, name, self.metric_results[name], current_iter)
        if metric_opts:
            self._log_validation_metric_values(current_iter, dataset_name, tb_logger)

    def _visualization_path(self, dataset_name, img_name, current_iter):
        root = self.opt['path']['visualization']
        if self.is_train:
            return osp.join(root, img_name, f'{img_name}_{current_iter}.png')
        suffix = self.opt['val'].get('suffix') or self.opt['name']
        return osp.join(root, dataset_name, f'{img_name}_{suffix}.png')

    def _log_validation_metric_values(self, current_iter, dataset_name, tb_logger):
        lines = [f'Validation {dataset_name} at iteration {current_iter}']
        for name, value in self.metric_results.items():
            best = self.best_metric_results[dataset_name][name]
            lines.append(f'\t # {name}: {value:.4f}\tBest: {best["val"]:.4f} @ {best["iter"]} iter')
            if tb_logger:
                tb_logger.add_scalar(f'metrics/{dataset_name}/{name}', value, current_iter)
        get_root_logger().info('\n'.join(lines))

    def save(self, epoch, current_iter):
        self.save_network([self.net_g, self.net_g_ema], 'net_g', current_iter, param_key=['params', 'params_ema'])
        self.save_network(self.net_d, 'net_d', current_iter)
        self.save_training_state(epoch, current_iter)
