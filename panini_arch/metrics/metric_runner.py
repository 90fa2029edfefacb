"""Run the metrics of ``val.metrics`` over a test set, skipping (not faking) those that cannot run.

Two kinds of registered metrics: BasicSR functions ``f(img, img2, **opt) -> float``
(averaged over images; a function with a ``batched`` attribute, ``f.batched(imgs, imgs2,
**opt) -> list``, gets whole batches) and set metrics, classes with ``update(img, img2)``
(and optionally ``update_batch(imgs, imgs2)``) and ``compute()`` (FID, KID, Deg, LMD). A set
metric is built when the first image it can score arrives, so one that never runs never
builds its network. A metric raising :class:`MetricNotComputed` (e.g. missing or corrupt
weights) is logged once and reported as not computed, with the reason. Any other error of
a metric on one image (NIQE's SVD on a flat image, ...) is recorded as a failure of that
metric on that image: its value is the mean over the other images, and the failures are
listed with their reasons.

Images without ground truth (``img2`` None, a real-world set) are scored by the
no-reference metrics only (NIQE, FID with ``reference_stats``): a function needs the GT
when it has an ``img2`` parameter, a set metric when its ``needs_gt(opt)`` says so (default
yes). A full-reference metric that saw no GT at all is reported ``{'value': None,
'needs_gt': True}``, which is not a failure.
"""
import inspect
import logging
from copy import deepcopy

from basicsr.utils.registry import METRIC_REGISTRY
from panini_arch.metrics.metric_common import MetricNotComputed

logger = logging.getLogger('basicsr')


class MetricRunner:
    """Accumulates every metric of an options ``val.metrics`` dict.

    Args:
        metric_opts (dict): name -> {type: registered name, **options}.
    """

    def __init__(self, metric_opts):
        self.functions, self.set_classes, self.set_metrics, self.skipped = {}, {}, {}, {}
        self.sums, self.counts = {}, {}
        self.without_gt = {}  # metric name -> images it skipped for want of a GT
        self.failures = {}  # metric name -> [(image, reason)]
        self.names = list(metric_opts or {})
        for name, opt in (metric_opts or {}).items():
            opt = deepcopy(opt)
            metric = METRIC_REGISTRY.get(opt.pop('type'))
            if inspect.isclass(metric):
                self.set_classes[name] = (metric, opt)
            else:
                self.functions[name] = (metric, opt)
                self.sums[name], self.counts[name] = 0.0, 0

    def needs_gt(self, name):
        """Whether metric ``name`` compares with a GT image."""
        if name in self.functions:
            return 'img2' in inspect.signature(self.functions[name][0]).parameters
        metric, opt = self.set_classes[name]
        return metric.needs_gt(opt) if hasattr(metric, 'needs_gt') else True

    def _skip(self, name, error):
        logger.error(str(error))
        self.skipped[name] = str(error)
        self.functions.pop(name, None)
        self.set_classes.pop(name, None)
        self.set_metrics.pop(name, None)

    def _fail(self, name, image, error):
        reason = f'{type(error).__name__}: {error}'
        logger.error(f'Metric {name} failed on {image}: {reason}')
        self.failures.setdefault(name, []).append((image, reason))

    def _set_metric(self, name):
        """The set metric ``name``, built on first use."""
        if name not in self.set_metrics:
            metric, opt = self.set_classes[name]
            self.set_metrics[name] = metric(**opt)
        return self.set_metrics[name]

    def update(self, img, img2, image='image'):
        """Add one restored image and its GT (BGR, [0, 255], HWC; None: no GT); ``image`` names it in failures."""
        self.update_batch([img], [img2], [image])

    def update_batch(self, imgs, imgs2=None, images=None):
        """Add restored images and their GTs (lists of BGR [0, 255] HWC images; ``imgs2`` None or items None: no
        GT); ``images`` names them in failures. Gives the values :meth:`update` gives image by image."""
        imgs2 = list(imgs2) if imgs2 is not None else [None] * len(imgs)
        images = list(images) if images is not None else [f'image {i}' for i in range(len(imgs))]
        with_gt = [i for i, img2 in enumerate(imgs2) if img2 is not None]
        everything = list(range(len(imgs)))
        shared = {}  # features computed once per batch for the set metrics sharing a network
        for name in [name for name in self.names if name in self.functions or name in self.set_classes]:
            chosen = everything
            if self.needs_gt(name):
                chosen = with_gt
                if len(with_gt) < len(imgs):
                    self.without_gt[name] = self.without_gt.get(name, 0) + len(imgs) - len(with_gt)
            if not chosen:
                continue
            batch = ([imgs[i] for i in chosen], [imgs2[i] for i in chosen], [images[i] for i in chosen])
            try:
                if name in self.functions:
                    self._update_function(name, *batch)
                else:
                    self._update_set_metric(name, *batch, shared)
            except MetricNotComputed as error:
                self._skip(name, error)

    def _update_function(self, name, imgs, imgs2, images):
        metric, opt = self.functions[name]
        values = None
        if hasattr(metric, 'batched') and len(imgs) > 1:
            try:
                values = [float(value) for value in metric.batched(imgs, imgs2, **opt)]
            except MetricNotComputed:
                raise
            except Exception:  # scored image by image below, so the failure is put on its image
                values = None
        for index, (img, img2, image) in enumerate(zip(imgs, imgs2, images)):
            try:
                value = values[index] if values is not None else float(metric(img=img, img2=img2, **opt))
            except MetricNotComputed:
                raise
            except Exception as error:  # one image must not cost the metric on the others
                self._fail(name, image, error)
            else:
                self.sums[name] += value
                self.counts[name] += 1

    def _update_set_metric(self, name, imgs, imgs2, images, shared):
        metric = self._set_metric(name)
        if hasattr(metric, 'update_batch'):
            batch_kwargs = {'shared': shared} if 'shared' in inspect.signature(metric.update_batch).parameters else {}
            try:
                metric.update_batch(imgs, imgs2, **batch_kwargs)
                return
            except MetricNotComputed:
                raise
            except Exception:  # update_batch adds nothing when it fails: scored image by image below
                pass
        for img, img2, image in zip(imgs, imgs2, images):
            try:
                metric.update(img, img2)
            except MetricNotComputed:
                raise
            except Exception as error:
                self._fail(name, image, error)

    def results(self):
        """Dict name -> {'value': float} or {'value': None, 'not_computed': reason}; set metrics add 'details'.

        A full-reference metric given no image with a GT reads {'value': None, 'needs_gt': True}; given some
        images without one, its value covers the others and ``without_gt`` counts them. A metric that failed on
        some images adds ``failed`` [{'image', 'reason'}] (its value is the mean over the others, None when it
        failed on all).
        """
        results = {}
        for name in list(self.functions):
            if self.counts[name] == 0 and name in self.without_gt and name not in self.failures:
                results[name] = {'value': None, 'needs_gt': True}
            else:
                results[name] = {'value': self.sums[name] / self.counts[name] if self.counts[name] else None}
        for name in list(self.set_classes):
            if name not in self.set_metrics and name in self.without_gt and name not in self.failures:
                results[name] = {'value': None, 'needs_gt': True}
                continue
            try:
                metric = self._set_metric(name)
                results[name] = {'value': float(metric.compute()), 'details': metric.details}
            except MetricNotComputed as error:
                self._skip(name, error)
        results.update({name: {'value': None, 'not_computed': reason} for name, reason in self.skipped.items()})
        for name, count in self.without_gt.items():
            if 'needs_gt' not in results[name]:
                results[name]['without_gt'] = count
        for name, failed in self.failures.items():
            results[name]['failed'] = [{'image': image, 'reason': reason} for image, reason in failed]
        return {name: results[name] for name in self.names}
