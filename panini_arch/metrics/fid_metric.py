"""FID and KID of a restored set, with BasicSR's FID Inception.

FID compares the restored set with its GT set or, with ``reference_stats``, with
precomputed statistics (BasicSR's/GFPGAN's ``inception_FFHQ_512.pth``, clean-fid's ``.npz``),
which needs no GT. KID compares the restored and GT sets without FID's bias on small sets.
Both are set metrics: classes with ``update(img, img2)`` per image (``update_batch`` for
lists) and ``compute()`` at the end; :class:`~.metric_runner.MetricRunner` drives them.
"""
import functools
import logging
import unittest.mock
import zipfile

import numpy as np
import torch

from basicsr.utils.registry import METRIC_REGISTRY
from panini_arch.utils.safe_load import load_torch_file
from .metric_common import (MetricNotComputed, MetricWeightsError, SetMetric, image_to_tensor, load_metric_file,
                            metric_device, require_weights, same_size_runs, unusable_file)

INCEPTION_SOURCE = ('Get pt_inception-2015-12-05-6726825d.pth (the TF FID Inception ported by pytorch-fid, '
                    'github.com/mseitzer/pytorch-fid/releases/tag/fid_weights) and pass its path.')
STATS_SOURCE = ("Use BasicSR's/GFPGAN's inception_FFHQ_512.pth (FFHQ at 512 px), a clean-fid .npz (mu, sigma), or "
                'make one from a folder of faces with `python scripts/make_fid_stats.py FOLDER OUT --size 512`.')
PAPER_SAMPLES = 1000  # CelebA-HQ test set of the paper (Tables 1-3)
# What a BasicSR stats file pickles besides plain values: numpy float arrays (numpy 1 and 2 module names).
_RECONSTRUCT = getattr(np, '_core', getattr(np, 'core', None)).multiarray._reconstruct
NUMPY_GLOBALS = [(_RECONSTRUCT, f'{module}.multiarray._reconstruct') for module in ('numpy.core', 'numpy._core')] + [
    np.ndarray, np.dtype] + [type(np.dtype(kind)) for kind in (np.float16, np.float32, np.float64)]


@functools.lru_cache(maxsize=2)
def build_fid_inception(inception_path, device='auto'):
    """BasicSR's ``InceptionV3`` (pool3, 2048-d) with the FID weights read from a local file only.

    Built once per (path, device): FID and KID share it.

    Returns:
        callable: (B, 3, H, W) RGB in [0, 1] -> (B, 2048) features.

    Raises:
        MetricWeightsError: ``inception_path`` missing or not the FID Inception.
    """
    import basicsr.archs.inception as basicsr_inception  # torchvision's Inception: loaded only for FID
    path = require_weights(inception_path, 'FID', 'inception_path', INCEPTION_SOURCE)
    device = metric_device(device)
    state = load_metric_file(path, 'FID', 'inception_path', INCEPTION_SOURCE)
    # BasicSR reads LOCAL_FID_WEIGHTS with a plain torch.load when it exists, else downloads with load_url:
    # hide the local file and hand it the state read above in place of the download.
    with unittest.mock.patch.object(basicsr_inception, 'LOCAL_FID_WEIGHTS', ''), \
            unittest.mock.patch.object(basicsr_inception, 'load_url', lambda *args, **kwargs: state):
        try:
            net = basicsr_inception.InceptionV3([3], resize_input=True, normalize_input=True)
        except (RuntimeError, TypeError, AttributeError) as error:
            raise MetricWeightsError(f'FID not computed: {path} (metric option `inception_path`) does not fit '
                                     f'the FID Inception: {error}. {INCEPTION_SOURCE}') from error
    net = net.eval().to(device)

    @torch.no_grad()
    def features(x):
        return net(x.to(device))[0].flatten(1)

    return features


def inception_features(extractor, imgs, input_order='HWC', shared=None):
    """(N, D) float64 features of a list of BGR [0, 255] images, batched by size, in order.

    ``shared`` (a dict living for one batch) lets FID and KID with the same extractor compute them once.
    """
    key = (id(extractor), tuple(id(img) for img in imgs), input_order)
    if shared is not None and key in shared:
        return shared[key]
    features = torch.cat([extractor(torch.cat([image_to_tensor(img, input_order) for img in run])).cpu().double()
                          for run in same_size_runs(imgs)])
    if shared is not None:
        shared[key] = features
    return features


def read_fid_stats(path):
    """Mean (D,) and covariance (D, D) float64 from a stats file, without running code from it.

    Layouts: ``torch.save({'mean': ndarray, 'cov': ndarray})`` (BasicSR, GFPGAN; numpy float arrays,
    or tensors), or a ``.npz`` with ``mu`` and ``sigma`` (clean-fid).

    Raises:
        MetricWeightsError: missing, unreadable, code-carrying, without those entries, mis-shaped or non-finite.
    """
    path = require_weights(path, 'FID', 'reference_stats', STATS_SOURCE, kind='stats file')

    def refuse(reason):
        return unusable_file(path, 'FID', 'reference_stats', STATS_SOURCE, reason, kind='stats file')

    try:
        if zipfile.is_zipfile(path) and all(name.endswith('.npy') for name in zipfile.ZipFile(path).namelist()):
            with np.load(path, allow_pickle=False) as npz:
                stats, keys = {name: npz[name] for name in npz.files}, ('mu', 'sigma')
        elif not hasattr(torch.serialization, 'safe_globals'):
            raise RuntimeError(f'reading numpy arrays weights-only needs torch >= 2.5 (this is {torch.__version__}); '
                               'save the statistics as a .npz with mu and sigma instead')
        else:
            with torch.serialization.safe_globals(NUMPY_GLOBALS):
                stats, keys = load_torch_file(path), ('mean', 'cov')
    except Exception as error:  # numpy and torch raise several types for corrupt or code-carrying files
        raise refuse(error) from error
    if not isinstance(stats, dict) or not all(key in stats for key in keys):
        found = sorted(map(str, stats)) if isinstance(stats, dict) else type(stats).__name__
        raise refuse(f'expected entries {keys}, found {found}')
    try:
        mean, cov = (np.asarray(stats[key].cpu() if torch.is_tensor(stats[key]) else stats[key], dtype=np.float64)
                     for key in keys)
    except (TypeError, ValueError) as error:
        raise refuse(f'{keys} are not numeric arrays: {error}') from error
    if mean.ndim != 1 or cov.shape != (len(mean), len(mean)):
        raise refuse(f'{keys[0]} must be (D,) and {keys[1]} (D, D); got {mean.shape} and {cov.shape}')
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        raise refuse('non-finite values')
    return mean, cov


def gaussian(features):
    """Mean and covariance of (N, D) features."""
    return features.mean(0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance(features, features2):
    """Frechet distance of Gaussians fitted to two (N, D) feature arrays (BasicSR's ``calculate_fid``)."""
    return stats_distance(features, *gaussian(features2))


def stats_distance(features, mean, cov):
    """BasicSR's ``calculate_fid`` between the Gaussian of (N, D) features and ``mean``, ``cov``."""
    from basicsr.metrics.fid import calculate_fid  # imports BasicSR's Inception module
    return float(calculate_fid(*gaussian(features), mean, cov))


class InceptionSetMetric(SetMetric):
    """Accumulates FID Inception features of the restored images and, when compared with them, of the GTs.

    Args:
        inception_path (str), device (str), extractor (callable | None): as :class:`FID`'s.
        with_reference (bool): also extract the GT images' features.
    """

    def __init__(self, inception_path, device, extractor, with_reference=True):
        self.extractor = extractor if extractor is not None else build_fid_inception(inception_path, device)
        self.with_reference = with_reference
        self.restored, self.reference = [], []
        self.details = {}

    def update_batch(self, imgs, imgs2, input_order='HWC', shared=None):
        """Add restored images and their GTs (lists of BGR [0, 255] images)."""
        self.restored.append(inception_features(self.extractor, imgs, input_order, shared))
        if self.with_reference:
            self.reference.append(inception_features(self.extractor, imgs2, input_order, shared))


@METRIC_REGISTRY.register()
class FID(InceptionSetMetric):
    """Frechet Inception Distance of restored images to their GT images or to precomputed statistics.

    Args:
        inception_path (str): local ``pt_inception-2015-12-05-6726825d.pth``.
        reference_stats (str | None): stats file (:func:`read_fid_stats`); the restored set is compared
            with it and no GT is needed. None: compared with the GT set.
        min_samples (int | None): fewer images than this are refused unless ``small_sample``. Default:
            1000 (the paper's test set) against the GT set; 2 against ``reference_stats``, since the
            published real-world sets (180 to 1711 faces) are scored against FFHQ statistics at their
            size. FID is biased upward for small sets; ``details['small_sample']`` flags sets under 1000.
        small_sample (bool): compute anyway below ``min_samples`` (at least 2 images), with a warning.
        device (str): 'auto' (CUDA when available), 'cpu' or 'cuda'.
        extractor (callable | None): (B, 3, H, W) RGB [0, 1] -> (B, D) features; only
            for tests. None builds the FID Inception from ``inception_path``.
    """

    def __init__(self, inception_path=None, reference_stats=None, min_samples=None, small_sample=False, device='auto',
                 extractor=None):
        self.stats = read_fid_stats(reference_stats) if reference_stats is not None else None
        super().__init__(inception_path, device, extractor, with_reference=self.stats is None)
        if min_samples is None:
            min_samples = PAPER_SAMPLES if self.stats is None else 2
        self.min_samples = min_samples
        self.small_sample = small_sample

    @staticmethod
    def needs_gt(opt):
        """FID needs the GT set unless it compares with ``reference_stats``."""
        return opt.get('reference_stats') is None

    def compute(self):
        """FID over all images added so far (lower is better)."""
        count = sum(len(features) for features in self.restored)
        if count < 2:
            raise MetricNotComputed(f'FID not computed: needs at least 2 images, got {count}')
        if count < self.min_samples and not self.small_sample:
            raise MetricNotComputed(f'FID not computed: {count} images < min_samples={self.min_samples}. Set the '
                                    'FID option small_sample: true for a biased small-sample FID, or use KID.')
        if count < self.min_samples:
            logging.getLogger('basicsr').warning(
                f'FID from only {count} images (small_sample): biased upward, NOT comparable with published values '
                f'(paper: {PAPER_SAMPLES} images).')
        self.details = {'num_images': count, 'small_sample': count < PAPER_SAMPLES}
        restored = torch.cat(self.restored).numpy()
        if self.stats is None:
            return frechet_distance(restored, torch.cat(self.reference).numpy())
        if self.stats[0].shape[0] != restored.shape[1]:
            raise MetricNotComputed(f'FID not computed: reference_stats hold {self.stats[0].shape[0]}-d statistics, '
                                    f'the Inception gives {restored.shape[1]}-d features')
        return stats_distance(restored, *self.stats)


def polynomial_mmd2(features, features2):
    """Unbiased squared MMD of two (m, d) and (n, d) feature sets, kernel k(x, y) = (x.y / d + 1)^3."""
    d = features.shape[1]
    k_xx, k_yy, k_xy = ((a @ b.T / d + 1) ** 3 for a, b in
                        ((features, features), (features2, features2), (features, features2)))
    m, n = len(features), len(features2)
    return ((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1)) + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
            - 2 * k_xy.sum() / (m * n))


def kernel_inception_distance(features, features2, subset_size=1000, subsets=100, seed=2020):
    """KID: :func:`polynomial_mmd2` of the two sets, or, when one is larger than ``subset_size``, the mean
    and standard deviation over ``subsets`` pairs of random subsets of that size (without replacement,
    ``np.random.RandomState(seed)``), as torch-fidelity computes it.

    Returns:
        tuple[float, float, int]: mean, standard deviation (0 for one set), number of subsets.
    """
    if len(features) <= subset_size and len(features2) <= subset_size:
        return float(polynomial_mmd2(features, features2)), 0.0, 1
    rng = np.random.RandomState(seed)
    size = min(subset_size, len(features), len(features2))
    values = [polynomial_mmd2(features[rng.choice(len(features), size, replace=False)],
                              features2[rng.choice(len(features2), size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values)), subsets


@METRIC_REGISTRY.register()
class KID(InceptionSetMetric):
    """Kernel Inception Distance between restored images and their GT images (lower is better).

    Unbiased, so usable on small sets where FID is refused (at least 2 images).

    Args:
        inception_path (str): local ``pt_inception-2015-12-05-6726825d.pth`` (the FID Inception).
        subset_size (int): sets larger than this are scored by random subsets of this size.
        subsets (int): number of random subsets then (torch-fidelity's default 100).
        seed (int): seed of the subsets (torch-fidelity's default 2020).
        device (str): 'auto' (CUDA when available), 'cpu' or 'cuda'.
        extractor (callable | None): as :class:`FID`'s, only for tests.
    """

    def __init__(self, inception_path=None, subset_size=1000, subsets=100, seed=2020, device='auto', extractor=None):
        super().__init__(inception_path, device, extractor)
        self.subset_size, self.subsets, self.seed = subset_size, subsets, seed

    def compute(self):
        """KID over all images added so far; ``details`` holds its standard deviation over subsets."""
        count = sum(len(features) for features in self.restored)
        if count < 2:
            raise MetricNotComputed(f'KID not computed: needs at least 2 images, got {count}')
        value, std, subsets = kernel_inception_distance(torch.cat(self.restored).numpy(),
                                                        torch.cat(self.reference).numpy(),
                                                        self.subset_size, self.subsets, self.seed)
        self.details = {'num_images': count, 'subsets': subsets, 'subset_size': min(count, self.subset_size),
                        'std': std}
        return value
