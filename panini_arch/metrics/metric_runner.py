"""Run the metrics of ``val.metrics`` over a test set, skipping (not faking) those that cannot run.

Two kinds of registered metrics: BasicSR functions ``f(img, img2, **opt) -> float``
(averaged over images) and set metrics, classes with ``update(img, img2)`` and
``compute()`` (FID). A metric raising :class:`MetricNotComputed` (e.g. missing or
corrupt weights) is logged once and reported as not computed, with the reason. Any
other error of a metric on one image (NIQE's SVD on a flat image, ...) is recorded
as a failure of that metric on that image: its value is the mean over the other
images, and the failures are listed with their reasons.

Without ground truth (``update(img, None)``: a real-world set) only the no-reference
metrics run (NIQE, and FID with ``reference_stats``); the full-reference ones are
reported as ``{'value': None, 'needs_gt': True}``, not as failures.
"""
import inspect
import logging
from copy import deepcopy

from basicsr.utils.registry import METRIC_REGISTRY
from panini_arch.metrics.metric_common import MetricNotComputed

logger = logging.getLogger('basicsr')
NO_REFERENCE = ('calculate_niqe',)


def needs_gt(opt):
    """True for a full-reference metric: every metric but NIQE and FID with ``reference_stats``."""
    return opt['type'] not in NO_REFERENCE and not (opt['type'] == 'FID' and opt.get('reference_stats'))


class MetricRunner:
    """Accumulates every metric of an options ``val.metrics`` dict.

    Args:
        metric_opts (dict): name -> {type: registered name, **options}.
    """

    def __init__(self, metric_opts):
        self.functions, self.set_metrics, self.sums, self.counts, self.skipped = {}, {}, {}, {}, {}
        self.failures = {}  # metric name -> [(image, reason)]
        self.names = list(metric_opts or {})
        self.full_reference = {name for name, opt in (metric_opts or {}).items() if needs_gt(opt)}
        self.without_gt = set()  # full-reference metrics given an image without GT
        for name, opt in (metric_opts or {}).items():
            opt = deepcopy(opt)
            metric = METRIC_REGISTRY.get(opt.pop('type'))
            if not inspect.isclass(metric):
                self.functions[name] = (metric, opt)
                self.sums[name], self.counts[name] = 0.0, 0
                continue
            try:
                self.set_metrics[name] = metric(**opt)
            except MetricNotComputed as error:
                self._skip(name, error)

    def _skip(self, name, error):
        logger.error(str(error))
        self.skipped[name] = str(error)
        self.functions.pop(name, None)
        self.set_metrics.pop(name, None)

    def _fail(self, name, image, error):
        reason = f'{type(error).__name__}: {error}'
        logger.error(f'Metric {name} failed on {image}: {reason}')
        self.failures.setdefault(name, []).append((image, reason))

    def update(self, img, img2, image='image'):
        """Add one restored image and its GT (BGR, [0, 255], HWC; None: no GT, full-reference metrics skipped);
        ``image`` names it in failures."""
        for name, (metric, opt) in list(self.functions.items()):
            if img2 is None and name in self.full_reference:
                self.without_gt.add(name)
                continue
            try:
                value = float(metric(img=img, img2=img2, **opt))
            except MetricNotComputed as error:
                self._skip(name, error)
            except Exception as error:  # one image must not cost the metric on the others
                self._fail(name, image, error)
            else:
                self.sums[name] += value
                self.counts[name] += 1
        for name, metric in list(self.set_metrics.items()):
            if img2 is None and name in self.full_reference:
                self.without_gt.add(name)
                continue
            try:
                metric.update(img, img2)
            except MetricNotComputed as error:
                self._skip(name, error)
            except Exception as error:
                self._fail(name, image, error)

    def update_batch(self, imgs, imgs2, images):
        """Add a batch: lists of restored images and of their GTs (``imgs2`` None: no GT), named by ``images``."""
        for index, (img, image) in enumerate(zip(imgs, images)):
            self.update(img, None if imgs2 is None else imgs2[index], image)

    def results(self):
        """Dict name -> {'value': float} or {'value': None, 'not_computed': reason} or, for a full-reference metric
        given images without GT, {'value': None, 'needs_gt': True}; set metrics add 'details';
        a metric that failed on some images adds ``failed`` [{'image', 'reason'}] (its value is the mean over the
        others, None when it failed on all)."""
        results = {
            name: {'value': self.sums[name] / self.counts[name] if self.counts[name] else None}
            for name in self.functions
        }
        for name, metric in list(self.set_metrics.items()):
            if name in self.without_gt:
                continue
            try:
                results[name] = {'value': float(metric.compute()), 'details': metric.details}
            except MetricNotComputed as error:
                self._skip(name, error)
        results.update({name: {'value': None, 'needs_gt': True} for name in self.without_gt})
        results.update({name: {'value': None, 'not_computed': reason} for name, reason in self.skipped.items()})
        for name, failed in self.failures.items():
            results[name]['failed'] = [{'image': image, 'reason': reason} for image, reason in failed]
        return {name: results[name] for name in self.names}
