"""Test-only model: any registered face restoration net, batched, under one resize policy.

Options used (besides BasicSR's): ``network_g``; ``path.pretrain_network_g`` and
``path.param_key_g`` (null for a plain state dict); ``random_weights`` (tests only);
``method`` (label in reports); ``paper`` ({table, method} for published numbers);
``val.input_size`` (the method's input size); ``val.batch_size``; ``val.num_workers``;
``val.forward_kwargs``; ``val.metrics`` (per-image functions and set metrics such as FID);
``val.precision`` (fp32 | bf16 | fp16) and ``val.channels_last`` (auto | on | off), see
:mod:`panini_arch.archs.precision` (``scripts/test.py --precision``, ``--channels_last`` set them);
``val.output_size`` (sets without GT only: the size outputs are resized to; default the net's own).

A dataset without GT (BasicSR's ``SingleImageDataset``: only ``dataroot_lq``) is a real-world
set: the no-reference metrics are computed and the full-reference ones are reported ``needs_gt``
(:class:`MetricRunner`); the summary's ``gt_folder`` is null.

Writes ``<results_root>/visualization/<dataset>/<name>.png`` (restored at GT size) and
``<results_root>/metrics_<dataset>.json`` (metric values or "not computed" reasons, images/s), none of
them resolving into ``dataroot_lq``/``dataroot_gt``, links included
(:class:`panini_arch.utils.output_paths.OutputGuard`). The resize policy is :mod:`panini_arch.metrics.resize_policy`.

One bad item costs only itself: a pair that cannot be read (or restored, or saved)
is listed under ``failed`` with its reason, a metric failing on one image is
listed under that metric; everything else is still computed and written, and
then :class:`EvaluationFailures` is raised (``panini_arch/test.py`` exits 1). With
several test sets (the real-world options hold four) every set is evaluated and
written first: the failures of all of them are raised after the last.
"""
import json
import logging
import os
import time
from os import path as osp

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from basicsr.utils import imwrite, tensor2img
from basicsr.utils.registry import MODEL_REGISTRY
from panini_arch.archs.precision import InferenceRunner
from panini_arch.archs.presets import build_generator_from_opt
from panini_arch.data.item_errors import ItemsOrErrors, collate_items
from panini_arch.metrics.metric_runner import MetricRunner
from panini_arch.metrics.resize_policy import restore
from panini_arch.utils.output_paths import OutputGuard, OutputIntoInputError

from ..utils.option_spec import Option
from .base_model import PaniniBaseModel
from .option_checks import check_options

logger = logging.getLogger('basicsr')


class EvaluationFailures(RuntimeError):
    """Some items or metrics failed; the summary file was written with the rest."""


def raise_failures(dataset_name, done, failed, metric_failures, summary_path):
    """Raise :class:`EvaluationFailures` listing every failed item (``(name, reason)``) and metric, if any."""
    lines = [f'  {name}: {reason}' for name, reason in failed]
    lines += [f'  metric {metric} on {image}: {reason}' for metric, items in metric_failures.items()
              for image, reason in items]
    if lines:
        raise EvaluationFailures(f'{dataset_name}: {done} image(s) evaluated, {len(failed)} failed to be read '
                                 f'or saved, {sum(map(len, metric_failures.values()))} metric value(s) failed '
                                 f'(everything else is in {summary_path}):\n' + '\n'.join(lines))


@MODEL_REGISTRY.register()
class FaceTestModel(PaniniBaseModel):
    """Evaluates ``network_g`` on paired LQ/GT folders; see the module docstring for options."""

    VAL_OPTIONS = {
        'input_size': Option(None, 'int', 1),
        'batch_size': Option(1, 'int', 1),
        'num_workers': Option(0, 'int', 0),
        'output_size': Option(None, 'int', 1),
        'precision': Option('fp32'), 'channels_last': Option('auto'), 'forward_kwargs': Option({}), 'metrics': Option(),
    }

    def __init__(self, opt):
        check_options(opt)
        super().__init__(opt)
        val_opt = opt['val']
        self.net_g = InferenceRunner(build_generator_from_opt(opt), self.device, self.val_option('precision'),
                                     self.val_option('channels_last'))
        self.input_size = val_opt['input_size']
        self.sets_left = len(opt.get('datasets') or {})  # failures are raised after the last set
        self.set_failures = []

    @torch.no_grad()
    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        """Restore every image of ``dataloader.dataset``, save them, compute metrics, write the JSON summary.

        Returns:
            dict: the summary written to ``metrics_<dataset>.json``.
        """
        val_opt = self.opt['val']
        dataset = dataloader.dataset
        dataset_name = dataset.opt['name']
        loader = DataLoader(ItemsOrErrors(dataset), batch_size=self.val_option('batch_size'), shuffle=False,
                            num_workers=self.val_option('num_workers'), collate_fn=collate_items)
        metrics = MetricRunner(val_opt.get('metrics'))
        guard = OutputGuard([dataset.opt.get('dataroot_lq'), dataset.opt.get('dataroot_gt')])
        image_folder = osp.join(self.opt['path']['visualization'], dataset_name)
        if save_img:
            guard.check(image_folder)  # before any work: a results folder linked into the inputs
        net_seconds, done, failed = 0.0, [], []
        progress = tqdm(total=len(dataset), unit='img', desc=self.opt['name'])
        for batch, errors in loader:
            failed.extend(errors)
            progress.update(len(errors))
            if batch is None:
                continue
            gts = batch.get('gt')
            start = time.perf_counter()
            output = restore(self.net_g, batch['lq'].to(self.device), self.input_size,
                             self.val_option('output_size') if gts is None else gts.shape[-2:],
                             **self.val_option('forward_kwargs'))
            if self.device.type == 'cuda':
                torch.cuda.synchronize()
            net_seconds += time.perf_counter() - start
            restored, references, names = [], [], []
            for index, (result, lq_path) in enumerate(zip(output.cpu(), batch['lq_path'])):
                restored_img = tensor2img(result)
                if save_img:
                    try:
                        imwrite(restored_img,
                                guard.check(osp.join(image_folder, f'{osp.splitext(osp.basename(lq_path))[0]}.png')))
                    except (OSError, OutputIntoInputError) as error:
                        failed.append((lq_path, f'cannot save the restored image: {error}'))
                        continue
                restored.append(restored_img)
                references.append(None if gts is None else tensor2img(gts[index]))
                names.append(osp.basename(lq_path))
                done.append(osp.splitext(osp.basename(lq_path))[0])
            metrics.update_batch(restored, None if gts is None else references, names)
            progress.update(len(output))
        progress.close()
        summary = self._summary(dataset, metrics.results(), len(done), net_seconds, image_folder if save_img else None)
        summary['images'] = done
        summary['failed'] = [{'image': name, 'reason': reason} for name, reason in failed]
        summary_path = guard.check(osp.join(self.opt['path']['results_root'], f'metrics_{dataset_name}.json'))
        with open(summary_path, 'w', encoding='utf-8') as f:
            json.dump(summary, f, indent=2)
        logger.info(f'{self.opt["name"]} on {dataset_name}: {json.dumps(summary["metrics"])}; '
                    f'{summary["images_per_second"]:.3f} images/s ({summary["device"]}). Summary: {summary_path}')
        try:
            raise_failures(dataset_name, len(done), failed, metrics.failures, summary_path)
        except EvaluationFailures as error:
            self.set_failures.append(str(error))
        self.sets_left -= 1
        if self.sets_left <= 0 and self.set_failures:
            raise EvaluationFailures('\n'.join(self.set_failures))
        return summary

    def _summary(self, dataset, metric_results, count, net_seconds, image_folder):
        return {
            'name': self.opt['name'],
            'method': self.opt.get('method', self.opt['network_g']['type']),
            'paper': self.opt.get('paper'),
            'random_weights': bool(self.opt.get('random_weights', False)),
            'dataset': dataset.opt['name'],
            'lq_folder': _absolute(dataset.opt.get('dataroot_lq')),
            'gt_folder': _absolute(dataset.opt.get('dataroot_gt')),
            'results_folder': _absolute(image_folder),
            'num_images': count,
            'input_size': self.input_size,
            'batch_size': self.val_option('batch_size'),
            'precision': self.net_g.precision,
            'channels_last': self.net_g.channels_last,
            'device': torch.cuda.get_device_name() if self.device.type == 'cuda' else f'cpu ({os.cpu_count()} cores, '
                      f'{torch.get_num_threads()} threads)',
            'images_per_second': count / max(net_seconds, 1e-9),
            'metrics': metric_results,
        }


def _absolute(folder):
    """``folder`` as an absolute path (None stays None), so a summary is read the same from any folder."""
    return osp.abspath(folder) if folder else folder
