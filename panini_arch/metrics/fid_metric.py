"""FID of a restored set against its GT set, with BasicSR's FID Inception.

FID is a set metric: it is registered as a class with ``update(img, img2)``
per image and ``compute()`` at the end; ``FaceTestModel`` drives it
(BasicSR's per-image ``SRModel`` validation cannot use it).
"""
import logging
import unittest.mock

import numpy as np
import torch

from basicsr.utils.registry import METRIC_REGISTRY
from .metric_common import (MetricNotComputed, MetricWeightsError, image_to_tensor, load_metric_file, metric_device,
                            require_weights)

INCEPTION_SOURCE = ('Get pt_inception-2015-12-05-6726825d.pth (the TF FID Inception ported by pytorch-fid, '
                    'github.com/mseitzer/pytorch-fid/releases/tag/fid_weights) and pass its path.')
PAPER_SAMPLES = 1000  # CelebA-HQ test set of the paper (Tables 1-3)


def build_fid_inception(inception_path):
    """BasicSR's ``InceptionV3`` (pool3, 2048-d) with the FID weights read from a local file only.

    Returns:
        callable: (B, 3, H, W) RGB in [0, 1] -> (B, 2048) features.

    Raises:
        MetricWeightsError: ``inception_path`` missing.
    """
    import basicsr.archs.inception as basicsr_inception  # torchvision's Inception: loaded only for FID
    path = require_weights(inception_path, 'FID', 'inception_path', INCEPTION_SOURCE)
    state = load_metric_file(path, 'FID', 'inception_path', INCEPTION_SOURCE)
    # BasicSR reads LOCAL_FID_WEIGHTS with a plain torch.load when it exists, else downloads with load_url:
    # hide the local file and hand it the state read above in place of the download.
    with unittest.mock.patch.object(basicsr_inception, 'LOCAL_FID_WEIGHTS', ''), \
            unittest.mock.patch.object(basicsr_inception, 'load_url', lambda *args, **kwargs: state):
        try:
            net = basicsr_inception.InceptionV3([3], resize_input=True, normalize_input=True)
        except RuntimeError as error:
            raise MetricWeightsError(f'FID not computed: {path} (metric option `inception_path`) does not fit '
                                     f'the FID Inception: {error}. {INCEPTION_SOURCE}') from error
    net = net.eval().to(metric_device())

    @torch.no_grad()
    def features(x):
        return net(x.to(metric_device()))[0].flatten(1)

    return features


@METRIC_REGISTRY.register()
class FID:
    """Frechet Inception Distance between restored images and their GT images.

    Args:
        inception_path (str): local ``pt_inception-2015-12-05-6726825d.pth``.
        min_samples (int): fewer images than this are refused unless ``small_sample``;
            default 1000, the paper's test set. FID is biased upward for small sets
            (the covariance of 2048-d features is rank-deficient below 2049 images),
            so values from fewer images are not comparable with published ones.
        small_sample (bool): compute anyway below ``min_samples`` (at least 2 images),
            with a warning; the result is flagged in ``details``.
        extractor (callable | None): (B, 3, H, W) RGB [0, 1] -> (B, D) features; only
            for tests. None builds the FID Inception from ``inception_path``.
    """

    def __init__(self, inception_path=None, min_samples=PAPER_SAMPLES, small_sample=False, extractor=None):
        self.extractor = extractor if extractor is not None else build_fid_inception(inception_path)
        self.min_samples = min_samples
        self.small_sample = small_sample
        self.restored, self.reference = [], []
        self.details = {}

    def update(self, img, img2, input_order='HWC'):
        """Add one restored image and its GT (BGR, [0, 255])."""
        self.restored.append(self.extractor(image_to_tensor(img, input_order)).cpu().double())
        self.reference.append(self.extractor(image_to_tensor(img2, input_order)).cpu().double())

    def compute(self):
        """FID over all images added so far (lower is better)."""
        count = len(self.restored)
        if count < 2:
            raise MetricNotComputed(f'FID not computed: needs at least 2 images, got {count}')
        if count < self.min_samples and not self.small_sample:
            raise MetricNotComputed(f'FID not computed: {count} images < min_samples={self.min_samples}. Set the '
                                    'FID option small_sample: true for a biased small-sample FID.')
        if count < self.min_samples:
            logging.getLogger('basicsr').warning(
                f'FID from only {count} images (small_sample): biased upward, NOT comparable with published values '
                f'(paper: {PAPER_SAMPLES} images).')
        self.details = {'num_images': count, 'small_sample': count < self.min_samples}
        return frechet_distance(torch.cat(self.restored).numpy(), torch.cat(self.reference).numpy())


def frechet_distance(features, features2):
    """Frechet distance of Gaussians fitted to two (N, D) feature arrays (BasicSR's ``calculate_fid``)."""
    from basicsr.metrics.fid import calculate_fid  # imports BasicSR's Inception module
    mean, cov = features.mean(0), np.atleast_2d(np.cov(features, rowvar=False))
    mean2, cov2 = features2.mean(0), np.atleast_2d(np.cov(features2, rowvar=False))
    return float(calculate_fid(mean, cov, mean2, cov2))
