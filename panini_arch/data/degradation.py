"""Eq. 10 of Panini-Net: ``X = JPEG_q((Y * k_sigma) downsampled by r + N_delta)``, resized to the input size.

Images here are numpy arrays, BGR, H x W x 3, float32 in [0, 1] or uint8.

Choices the paper leaves open (the GFPGAN family's, so results compare):

* ``k_sigma`` is an isotropic Gaussian, ``kernel_size`` x ``kernel_size`` (41), sigma in [0.1, 10],
  borders reflected as ``cv2.filter2D`` does (BORDER_REFLECT_101).
* "downsampled by r" is bilinear (``cv2.INTER_LINEAR``, half-pixel centres) to
  ``max(1, int(W / r))`` pixels a side, without extra anti-aliasing (the blur is the anti-aliasing).
* ``N_delta`` is white Gaussian noise with std ``delta`` on the 0-255 scale, drawn from the ``rng``
  passed to :func:`apply_degradation`, then clipped to [0, 1] and rounded to 8 bits.
* ``JPEG_q`` is OpenCV's encoder at integer quality ``q``; the result is resized bilinearly to the
  output size and stays on the 8-bit grid (as a stored LQ image would).

Speed: blur and downsampling are one linear map per axis, so they are applied as two sparse
matrix products that only compute the blurred pixels the bilinear sampler reads. The result
equals ``cv2.resize(cv2.filter2D(img, -1, k), size, cv2.INTER_LINEAR)`` up to float rounding.
Noise, JPEG and the final resize then run at the low resolution / in uint8.

:class:`DegradationOptions` parses and checks the dataset options that configure it (ranges,
kernel size, seeding, flips), once per dataset.
"""
import cv2
import numpy as np
import torch
from scipy import sparse

from ..utils.option_spec import Option, option_value
from .face_source import positive_int_option

DEFAULT_RANGES = {
    'downsample_range': (10.0, 200.0),
    'blur_sigma': (0.1, 10.0),
    'noise_range': (0.0, 25.0),
    'jpeg_range': (5, 50),
}
NEUTRAL_PARAMS = {'r': 1.0, 'sigma': 0.0, 'delta': 0.0, 'q': 100}
_PARAM_OF_KEY = {'downsample_range': 'r', 'blur_sigma': 'sigma', 'noise_range': 'delta', 'jpeg_range': 'q'}
_LOWEST = {'downsample_range': 1.0, 'blur_sigma': 0.0, 'noise_range': 0.0, 'jpeg_range': 1}


def _check_range(key, value):
    """Return ``value`` as a (low, high) tuple of floats; raise ValueError naming ``key`` if invalid."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f'Option {key!r} must be a [low, high] pair or null, got {value!r}') from None
    if not (np.isfinite(low) and np.isfinite(high)) or low > high or low < _LOWEST[key]:
        raise ValueError(f'Option {key!r} must satisfy {_LOWEST[key]} <= low <= high, got {value!r}')
    if key == 'jpeg_range' and (high > 100 or np.ceil(low) > np.floor(high)):
        raise ValueError(f'Option {key!r}: JPEG quality must hold an integer in [1, 100], got {value!r}')
    return low, high


def degradation_ranges(opt=None):
    """Validated ranges from an options dict.

    Args:
        opt (dict | None): may hold ``downsample_range``, ``blur_sigma``, ``noise_range``, ``jpeg_range``.
            A missing key takes :data:`DEFAULT_RANGES`; a key set to ``None`` switches its term off.

    Returns:
        dict: key -> (low, high) floats, or None for a switched-off term.
    """
    opt = opt or {}
    ranges = {}
    for key, default in DEFAULT_RANGES.items():
        value = opt.get(key, default)
        ranges[key] = None if value is None else _check_range(key, value)
    return ranges


def sample_degradation(rng, opt=None):
    """Draw one set of Eq. 10 parameters, each uniform in its range.

    Args:
        rng (np.random.Generator): the only source of randomness.
        opt (dict | None): ranges, see :func:`degradation_ranges`.

    Returns:
        dict: ``r`` (float, >= 1), ``sigma`` (float, 0 = no blur), ``delta`` (float, 0-255 scale),
        ``q`` (int, 1-100). Switched-off terms report the neutral value r=1, sigma=0, delta=0, q=100.
        Draws happen in this order, one each, also for switched-off terms, so switching one term off
        leaves the others' values unchanged for the same generator state.
    """
    ranges = degradation_ranges(opt)
    params = {}
    for key, name in _PARAM_OF_KEY.items():
        u = rng.random()
        bounds = ranges[key]
        if bounds is None:
            params[name] = NEUTRAL_PARAMS[name]
        elif name == 'q':  # uniform over the integers low..high
            low, high = int(np.ceil(bounds[0])), int(np.floor(bounds[1]))
            params[name] = min(low + int(u * (high - low + 1)), high)
        else:
            params[name] = float(bounds[0] + u * (bounds[1] - bounds[0]))
    return params


def gaussian_kernel1d(sigma, kernel_size=41):
    """Normalised 1-D Gaussian, shape (kernel_size,), float64; a 2-D isotropic kernel is its outer product."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f'kernel_size must be a positive odd integer, got {kernel_size}')
    x = np.arange(kernel_size) - kernel_size // 2
    g = np.exp(-0.5 * (x / sigma)**2)
    return g / g.sum()


def _reflect101(idx, n):
    """Map integer indices into [0, n) the way BORDER_REFLECT_101 does."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * n - 2
    idx = np.abs(idx) % period
    return np.where(idx >= n, period - idx, idx)


def axis_operator(n_in, n_out, sigma, kernel_size):
    """Sparse (n_out, n_in) float32 matrix: 1-D blur by ``sigma`` (0 = none), then bilinear resampling."""
    if n_out == n_in:
        src = np.arange(n_out)[:, None]
        weights = np.ones((n_out, 1))
    else:
        x = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        x0 = np.floor(x).astype(np.int64)
        frac = x - x0
        frac[x0 < 0] = 0
        x0[x0 < 0] = 0
        last = x0 >= n_in - 1
        frac[last] = 0
        x0[last] = n_in - 1
        src = np.stack([x0, np.minimum(x0 + 1, n_in - 1)], axis=1)
        weights = np.stack([1 - frac, frac], axis=1)
    if sigma > 0:
        g = gaussian_kernel1d(sigma, kernel_size)
        taps = np.arange(kernel_size) - kernel_size // 2
        cols = _reflect101(src[:, :, None] + taps, n_in)
        vals = weights[:, :, None] * g
    else:
        cols, vals = src, weights
    keep = vals > 1e-9 * vals.max()
    vals, cols = vals.reshape(n_out, -1), cols.reshape(n_out, -1)
    keep = keep.reshape(n_out, -1)
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    # duplicate columns (reflected taps, the two bilinear neighbours) add up in the product
    return sparse.csr_matrix((vals[keep].astype(np.float32), cols[keep], indptr), shape=(n_out, n_in))


def blur_downsample(img, sigma, r, kernel_size=41):
    """Gaussian blur then bilinear downsampling by ``r``, computed only where sampled.

    Args:
        img (np.ndarray): H x W x C, float32 (or uint8, converted).
        sigma (float): blur std in pixels; 0 switches the blur off.
        r (float): downsampling factor >= 1.
        kernel_size (int): odd blur kernel size.

    Returns:
        np.ndarray: float32, (max(1, int(H / r)), max(1, int(W / r)), C).
    """
    h, w, c = img.shape
    out_h, out_w = max(1, int(h / r)), max(1, int(w / r))
    if sigma <= 0 and (out_h, out_w) == (h, w):
        return img.astype(np.float32, copy=False)
    img = img.astype(np.float32, copy=False)
    rows = axis_operator(h, out_h, sigma, kernel_size) @ img.reshape(h, w * c)
    rows = np.ascontiguousarray(rows.reshape(out_h, w, c).transpose(1, 0, 2)).reshape(w, out_h * c)
    cols = axis_operator(w, out_w, sigma, kernel_size) @ rows
    return np.ascontiguousarray(cols.reshape(out_w, out_h, c).transpose(1, 0, 2))


def jpeg_roundtrip(img, quality):
    """Encode and decode a uint8 BGR image with OpenCV's JPEG at integer ``quality`` (1-100).

    The quality is passed as a Python int: opencv-python 5 rejects the float that basicsr 1.4.2 passes.
    """
    quality = int(quality)
    if not 1 <= quality <= 100:
        raise ValueError(f'JPEG quality must be in [1, 100], got {quality}')
    ok, buf = cv2.imencode('.jpg', img, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:
        raise RuntimeError(f'cv2.imencode failed for an image of shape {img.shape}')
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).reshape(img.shape)


def degrade_uint8(img, params, out_size, kernel_size=41, rng=None):
    """Eq. 10 on one image; 8-bit result.

    Args:
        img (np.ndarray): H x W x 3 BGR, uint8 or float32 in [0, 1].
        params (dict): ``r``, ``sigma``, ``delta``, ``q`` as returned by :func:`sample_degradation`.
        out_size (int): side of the square output.
        kernel_size (int): odd blur kernel size.
        rng (np.random.Generator | None): draws the noise; required when ``params['delta'] > 0``.

    Returns:
        np.ndarray: uint8, (out_size, out_size, 3).
    """
    scale = 255.0 if img.dtype == np.uint8 else 1.0
    low = blur_downsample(img, params['sigma'], params['r'], kernel_size)
    if params['delta'] > 0:
        if rng is None:
            raise ValueError('apply_degradation needs an rng (np.random.Generator) when delta > 0')
        noise = rng.standard_normal(low.shape, dtype=np.float32)
        low += noise * np.float32(params['delta'] * scale / 255.0)
    low = np.clip(low * np.float32(255.0 / scale), 0, 255)
    low = np.rint(low, out=low).astype(np.uint8)
    if params['q'] < 100:
        low = jpeg_roundtrip(low, params['q'])
    if low.shape[:2] != (out_size, out_size):
        low = cv2.resize(low, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
    return low


def apply_degradation(img, params, out_size, kernel_size=41, rng=None):
    """Eq. 10 on one image.

    Args:
        img (np.ndarray): H x W x 3 BGR, float32 in [0, 1] (uint8 accepted).
        params (dict): ``r``, ``sigma``, ``delta``, ``q`` (see :func:`sample_degradation`).
        out_size (int): side of the square output.
        kernel_size (int): odd blur kernel size (41).
        rng (np.random.Generator | None): draws the noise, so the result is fully determined by
            ``params`` and the generator state; required when ``delta > 0``.

    Returns:
        np.ndarray: float32, (out_size, out_size, 3), in [0, 1], on the 8-bit grid.
    """
    out = degrade_uint8(img, params, out_size, kernel_size, rng)
    return out.astype(np.float32) * np.float32(1 / 255.0)


def params_tensor(params):
    """float32 tensor (4,) = r, sigma, delta, q of a parameter dict."""
    return torch.from_numpy(np.array([params['r'], params['sigma'], params['delta'], params['q']], np.float32))


class DegradationOptions:
    """Options shared by the Panini datasets (parsed and checked once).

    Keys (defaults in :attr:`OPTIONS`): ``use_hflip``, ``deterministic``, ``seed``, ``blur_kernel_size``,
    ``downsample_range``, ``blur_sigma``, ``noise_range``, ``jpeg_range`` (see ``degradation.py``;
    null switches a term off), ``degrade_on_device`` (the one
    place of this switch): items then carry the uint8 HQ faces and what the model needs to run Eq. 10 itself
    (:meth:`device_fields`) instead of the degraded images.

    With ``deterministic: true`` sample ``i`` draws from ``np.random.default_rng([seed, i])``, so it is
    the same in every run, epoch, worker count and machine. Otherwise each call seeds its generator
    from torch's global generator, never from the OS: BasicSR seeds that from ``manual_seed`` (and
    torch gives every DataLoader worker its own seed from it), so two runs of the same options draw
    the same degradations; they differ between epochs and with the number of workers or processes.
    """

    OPTIONS = {
        'use_hflip': Option(False), 'deterministic': Option(False), 'seed': Option(0), 'blur_kernel_size': Option(41),
        'degrade_on_device': Option(False), **{key: Option(default) for key, default in DEFAULT_RANGES.items()},
    }

    def __init__(self, opt):
        self.use_hflip = bool(option_value(opt, self.OPTIONS, 'use_hflip'))
        self.deterministic = bool(option_value(opt, self.OPTIONS, 'deterministic'))
        self.seed = option_value(opt, self.OPTIONS, 'seed')
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f'Option seed must be a non-negative integer, got {self.seed!r}')
        self.kernel_size = positive_int_option(opt, 'blur_kernel_size', self.OPTIONS['blur_kernel_size'].default)
        if self.kernel_size % 2 == 0:
            raise ValueError(f'Option blur_kernel_size must be odd, got {self.kernel_size}')
        self.ranges = degradation_ranges(opt)
        self.on_device = bool(option_value(opt, self.OPTIONS, 'degrade_on_device'))

    def device_fields(self, params, seeds, in_size, source):
        """What ``panini_arch.models.hand_over.degrade_on_device`` needs besides the uint8 HQ faces.

        Returns:
            dict: ``deg_params`` float32 (4,); ``deg_seed`` int64 (len(seeds),), the noise seeds;
            ``lq_size`` (in_size), ``blur_kernel_size`` (int); ``mean``, ``std`` float32 (3,).
        """
        return dict(deg_params=params_tensor(params), deg_seed=torch.tensor(seeds, dtype=torch.int64),
                    lq_size=in_size, blur_kernel_size=self.kernel_size, **source.normalisation())

    def rng(self, index):
        """The generator for sample ``index``."""
        if self.deterministic:
            return np.random.default_rng([int(self.seed), int(index)])
        return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))

    def flip(self, img, rng):
        """Horizontal flip with probability 0.5 when ``use_hflip``; one draw from ``rng`` either way."""
        return cv2.flip(img, 1) if rng.random() < 0.5 and self.use_hflip else img


def draw_seed(rng):
    """A noise seed for the on-device chain, drawn from the sample's generator."""
    return int(rng.integers(2**62))
