"""Run the metrics of ``val.metrics`` over a test set, skipping (not faking) those that cannot run.

Two kinds of registered metrics: BasicSR functions ``f(img, img2, **opt) -> float``
(averaged over images) and set metrics, classes with ``update(img, img2)`` and
``compute()`` (FID). A metric raising :class:`MetricNotComputed` (e.g. missing
weights) is logged once and reported as not computed, with the reason.
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
        self.functions, self.set_metrics, self.sums, self.skipped = {}, {}, {}, {}
        self.count = 0
        self.names = list(metric_opts or {})
        for name, opt in (metric_opts or {}).items():
            opt = deepcopy(opt)
            metric = METRIC_REGISTRY.get(opt.pop('type'))
            if not inspect.isclass(metric):
                self.functions[name] = (metric, opt)
                self.sums[name] = 0.0
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

    def update(self, img, img2):
        """Add one restored image and its GT (BGR, [0, 255], HWC)."""
        self.count += 1
        for name, (metric, opt) in list(self.functions.items()):
            try:
                self.sums[name] += float(metric(img=img, img2=img2, **opt))
            except MetricNotComputed as error:
                self._skip(name, error)
        for name, metric in list(self.set_metrics.items()):
            try:
                metric.update(img, img2)
            except MetricNotComputed as error:
                self._skip(name, error)

    def results(self):
        """Dict name -> {'value': float} or {'value': None, 'not_computed': reason}; set metrics add 'details'."""
        results = {name: {'value': self.sums[name] / max(self.count, 1)} for name in self.functions}
        for name, metric in list(self.set_metrics.items()):
            try:
                results[name] = {'value': float(metric.compute()), 'details': metric.details}
            except MetricNotComputed as error:
                self._skip(name, error)
        results.update({name: {'value': None, 'not_computed': reason} for name, reason in self.skipped.items()})
        return {name: results[name] for name in self.names}
