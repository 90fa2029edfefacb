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
            if inspect.isclass(metric):
                self._guard(name, lambda: self.set_metrics.__setitem__(name, metric(**opt)))
            else:
                self.functions[name] = (metric, opt)
                self.sums[name] = 0.0

    def _guard(self, name, call):
        try:
            return call()
        except MetricNotComputed as error:
            logger.error(str(error))
            self.skipped[name] = str(error)
            self.functions.pop(name, None)
            self.set_metrics.pop(name, None)
            return None

    def update(self, img, img2):
        """Add one restored image and its GT (BGR, [0, 255], HWC)."""
        self.count += 1
        for name, (metric, opt) in list(self.functions.items()):
            value = self._guard(name, lambda: metric(img=img, img2=img2, **opt))
            if value is not None:
                self.sums[name] += float(value)
        for name, metric in list(self.set_metrics.items()):
            self._guard(name, lambda: metric.update(img, img2))

    def results(self):
        """Dict name -> {'value': float} or {'value': None, 'not_computed': reason} (+ 'details')."""
        results = {name: {'value': self.sums[name] / max(self.count, 1)} for name in self.functions}
        for name, metric in list(self.set_metrics.items()):
            value = self._guard(name, metric.compute)
            if value is not None:
                results[name] = {'value': float(value), 'details': metric.details}
        results.update({name: {'value': None, 'not_computed': reason} for name, reason in self.skipped.items()})
        return {name: results[name] for name in self.names}
