"""Eq. 10 for a whole batch in torch, on whatever device the batch is on (GPU when present).

Same model as ``degradation.py`` (see its docstring for the choices), per sample parameters:
blur + bilinear downsampling as two batched matrix products, Gaussian noise, 8-bit rounding,
JPEG through ``torchvision.io`` (libjpeg-turbo on the CPU, bit-exact with OpenCV's; nvJPEG on a GPU, see
:func:`codec_device`), bilinear resize to ``out_size``. The float blur/resize differ from OpenCV's
fixed-point code by rounding (PSNR to the OpenCV path in docs/data.md); no gradients are needed or
provided (rounding everywhere). The models run it in ``feed_data`` with
``degrade_on_device: true`` in the train dataset's options (``panini_arch/models/hand_over.py``).

Samples with different ``r`` have different low-resolution sizes; they share one zero-padded canvas
and every operator knows each sample's valid size.
"""
import warnings

import torch
import torchvision
from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg

TORCHVISION_VERSION = tuple(int(part) for part in torchvision.__version__.split('+')[0].split('.')[:2])


def axis_operators(n_in, n_out, sigma, kernel_size, n_in_max, n_out_max):
    """Per-sample dense (n_out_max, n_in_max) maps: Gaussian blur (sigma 0 = none) then bilinear resampling.

    Args:
        n_in, n_out (LongTensor (B,)): valid input / output lengths of each sample.
        sigma (Tensor (B,)): blur std in pixels.
        kernel_size (int): odd blur kernel size.
        n_in_max, n_out_max (int): canvas sizes; rows >= n_out and columns >= n_in stay zero.

    Returns:
        Tensor: (B, n_out_max, n_in_max), float32, on ``sigma``'s device. Same convention as
        ``cv2.resize(..., INTER_LINEAR)`` and ``cv2.filter2D`` (BORDER_REFLECT_101).
    """
    device = sigma.device
    batch = sigma.shape[0]
    n_in, n_out = n_in.to(device)[:, None], n_out.to(device)[:, None]
    o = torch.arange(n_out_max, device=device, dtype=torch.float64)[None]
    x = (o + 0.5) * (n_in / n_out) - 0.5
    x0 = x.floor()
    frac = torch.where(x0 < 0, torch.zeros_like(x), x - x0)
    x0 = x0.clamp(min=0).long()
    last = x0 >= n_in - 1
    frac = torch.where(last, torch.zeros_like(frac), frac)
    x0 = torch.where(last, n_in - 1, x0)
    src = torch.stack([x0, torch.minimum(x0 + 1, n_in - 1)], dim=-1)  # (B, n_out_max, 2)
    weights = torch.stack([1 - frac, frac], dim=-1)
    taps = torch.arange(kernel_size, device=device) - kernel_size // 2
    s = sigma.double()[:, None]
    g = torch.exp(-0.5 * (taps[None] / s.clamp(min=1e-12))**2)
    g = torch.where(s > 0, g, (taps[None] == 0).double())
    g = g / g.sum(dim=1, keepdim=True)
    cols = src[..., None] + taps  # (B, n_out_max, 2, K)
    period = (2 * n_in - 2).clamp(min=1)[..., None, None]
    cols = cols.abs() % period
    cols = torch.where(cols >= n_in[..., None, None], period - cols, cols)
    cols = torch.where(n_in[..., None, None] == 1, torch.zeros_like(cols), cols)
    vals = weights[..., None] * g[:, None, None, :]
    vals = vals * (o < n_out).double()[..., None, None]
    mat = torch.zeros(batch, n_out_max, n_in_max, dtype=torch.float64, device=device)
    mat.scatter_add_(2, cols.flatten(2), vals.flatten(2))
    return mat.float()


def codec_device(device):
    """Where torchvision's JPEG codec runs for images on ``device``.

    CUDA tensors are encoded and decoded on their GPU (nvJPEG) with torchvision >= 0.19, the first release
    whose ``encode_jpeg`` runs on CUDA and whose ``encode_jpeg``/``decode_jpeg`` take lists; anything else
    goes through libjpeg-turbo on the CPU, which is byte-identical to OpenCV's encoder.
    """
    if device.type == 'cuda' and TORCHVISION_VERSION >= (0, 19):
        return device
    return torch.device('cpu')


def jpeg_batch(x, quality, h, w):
    """JPEG round trip of 8-bit-valued RGB images (B, 3, H, W) in [0, 255] with valid sizes ``h``, ``w`` (B,).

    Each sample's valid region goes through ``torchvision.io.encode_jpeg``/``decode_jpeg`` at its integer
    quality (baseline, 4:2:0, as ``cv2.imencode``), on :func:`codec_device`; the batch is grouped by quality
    (one list per quality on CUDA). On the CPU the result equals OpenCV's ``imdecode(imencode(...))`` of the
    same pixels (BGR there, RGB here) bit for bit.

    Returns:
        Tensor: the decoded images, same shape, dtype and device; canvas outside each valid region and
        samples with quality >= 100 (the "no JPEG" convention of ``degradation.py``) unchanged.
    """
    out = x.clone()
    device = codec_device(x.device)
    pixels = x.round().clamp(0, 255).to(torch.uint8)
    qualities = quality.round().long().tolist()
    sizes = list(zip(h.tolist(), w.tolist()))
    for value in sorted(set(qualities)):
        if value >= 100:
            continue
        index = [b for b, q in enumerate(qualities) if q == value]
        crops = [pixels[b, :, :sizes[b][0], :sizes[b][1]].to(device).contiguous() for b in index]
        for b, image in zip(index, round_trip(crops, max(value, 1), device)):
            out[b, :, :sizes[b][0], :sizes[b][1]] = image.to(x.device, x.dtype)
    return out


def round_trip(crops, quality, device):
    """Encode and decode uint8 (3, h, w) RGB images on ``device`` at one ``quality``; list of decoded images.

    On CUDA the whole list goes through one call each way (torchvision's batched nvJPEG); should nvJPEG
    refuse the images, a ``RuntimeWarning`` says so and the CPU codec does them (the results come back to
    the crops' device). On the CPU one image at a time, which torchvision says costs the same and which every
    torchvision version takes.
    """
    if device.type == 'cuda':
        try:
            encoded = [data.cpu() for data in encode_jpeg(crops, quality=quality)]
            return decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device)
        except RuntimeError as error:
            sizes = sorted({tuple(crop.shape[1:]) for crop in crops})
            warnings.warn(f'nvJPEG failed on {len(crops)} image(s) of sizes {sizes} at quality {quality} '
                          f'({error}); the CPU codec (libjpeg-turbo) does them', RuntimeWarning)
    return [decode_jpeg(encode_jpeg(crop.cpu(), quality=quality), mode=ImageReadMode.RGB).to(crop.device)
            for crop in crops]


def sample_noise(shape, lh, lw, seeds, device):
    """Standard normal noise on a (B, C, H, W) canvas, sample ``b`` drawn from its own generator.

    Sample ``b`` gets ``torch.randn((C, lh[b], lw[b]))`` from a generator seeded with ``seeds[b]`` on ``device``
    (zeros elsewhere), so its noise depends on its seed and its size only, never on the rest of the batch.
    """
    noise = torch.zeros(shape, device=device)
    for b, (h, w, seed) in enumerate(zip(lh.tolist(), lw.tolist(), seeds.tolist())):
        generator = torch.Generator(device=device).manual_seed(int(seed))
        noise[b, :, :h, :w] = torch.randn((shape[1], h, w), generator=generator, device=device)
    return noise


def degrade_batch(gt, params, out_size, seeds, kernel_size=41):
    """Eq. 10 on a batch; deterministic given ``seeds``, each sample independent of the others.

    Args:
        gt (Tensor): (B, 3, H, W) RGB, uint8 or float in [0, 1], any device.
        params (Tensor): (B, 4) = r, sigma, delta, q per sample (``deg_params`` of the datasets).
        out_size (int): side of the square output.
        seeds (Tensor | Sequence[int]): (B,) per-sample noise seeds (``deg_seed`` of the datasets).
        kernel_size (int): odd blur kernel size.

    Returns:
        Tensor: (B, 3, out_size, out_size) float32 in [0, 1] on the 8-bit grid, on ``gt``'s device.
    """
    b, _, h, w = gt.shape
    device = gt.device
    gt = gt.float() / 255 if gt.dtype == torch.uint8 else gt.float()
    params = params.to(device=device, dtype=torch.float64)
    r, sigma, delta, quality = params.unbind(1)
    lh = (h / r).floor().clamp(min=1).long()
    lw = (w / r).floor().clamp(min=1).long()
    hmax, wmax = int(lh.max()), int(lw.max())
    full_h = torch.full((b, ), h, device=device)
    full_w = torch.full((b, ), w, device=device)
    rows = axis_operators(full_h, lh, sigma, kernel_size, h, hmax)
    cols = axis_operators(full_w, lw, sigma, kernel_size, w, wmax)
    low = rows[:, None] @ gt @ cols[:, None].transpose(2, 3)
    noise = sample_noise(low.shape, lh, lw, torch.as_tensor(seeds).cpu(), device)
    low = low + noise * (delta.float() / 255).view(b, 1, 1, 1)
    low = torch.round(low.clamp(0, 1) * 255)
    low = jpeg_batch(low, quality, lh, lw)
    zero = torch.zeros_like(sigma)
    out_len = torch.full((b, ), out_size, device=device)
    up_rows = axis_operators(lh, out_len, zero, 1, hmax, out_size)
    up_cols = axis_operators(lw, out_len, zero, 1, wmax, out_size)
    out = up_rows[:, None] @ low @ up_cols[:, None].transpose(2, 3)
    return torch.round(out.clamp(0, 255)) / 255
