"""Eq. 10 for a whole batch in torch, on whatever device the batch is on (GPU when present).

Same model as ``degradation.py`` (see its docstring for the choices), per sample parameters:
blur + bilinear downsampling as two batched matrix products, Gaussian noise, 8-bit rounding,
JPEG re-implemented with an 8x8 DCT (baseline IJG quantisation tables scaled by q, YCbCr 4:2:0,
edge-replicated padding to 16x16 MCUs, bilinear "fancy" chroma upsampling), bilinear resize to
``out_size``. Not bit-exact with OpenCV's integer JPEG codec, but equivalent (PSNR to the OpenCV path in
docs/data.md; this JPEG is closer to OpenCV's than BasicSR's ``DiffJPEG``, docs/benchmarks.md); no gradients
are needed or provided (rounding everywhere). The models run it in ``feed_data`` with
``train: degrade_on_device: true`` (``panini_arch/models/hand_over.py``).

Samples with different ``r`` have different low-resolution sizes; they share one zero-padded canvas
and every operator knows each sample's valid size.
"""
import math

import torch
import torch.nn.functional as F

# JPEG Annex K base quantisation tables (luminance, chrominance), row-major 8x8.
_LUMA_TABLE = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
    87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120,
    101, 72, 92, 95, 98, 112, 100, 103, 99
]
_CHROMA_TABLE = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99,
    99, 99, 99, 99
] + [99] * 32
_RGB_TO_YCC = [[0.299, 0.587, 0.114], [-0.168735892, -0.331264108, 0.5], [0.5, -0.418687589, -0.081312411]]
_YCC_TO_RGB = [[1.0, 0.0, 1.402], [1.0, -0.344136286, -0.714136286], [1.0, 1.772, 0.0]]


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


def jpeg_quant_tables(q):
    """IJG quality scaling of the base tables: (B,) qualities -> (B, 8, 8) luminance, chrominance tables."""
    q = q.double().clamp(1, 100)[:, None]
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)
    tables = []
    for base in (_LUMA_TABLE, _CHROMA_TABLE):
        base = torch.tensor(base, dtype=torch.float64, device=q.device)[None]
        tables.append(((base * scale + 50) / 100).floor().clamp(1, 255).view(-1, 8, 8).float())
    return tables


def _dct_matrix(device):
    k = torch.arange(8, dtype=torch.float64, device=device)
    mat = torch.cos((2 * k[None] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    mat[0] /= math.sqrt(2)
    return mat.float()


def _quantise_blocks(planes, table, dct):
    """Level-shifted planes (B, C, H, W), H and W multiples of 8 -> DCT, quantise, dequantise, inverse DCT."""
    b, c, h, w = planes.shape
    blocks = planes.view(b, c, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)
    coef = dct @ blocks @ dct.T
    t = table[:, None, None, None]
    coef = torch.round(coef / t) * t
    out = dct.T @ coef @ dct
    return out.permute(0, 1, 2, 4, 3, 5).reshape(b, c, h, w)


def _replicate_pad(x, h, w, mult):
    """Edge-replicate each sample's valid (h_b, w_b) region to fill a canvas rounded up to ``mult``."""
    b, c, hc, wc = x.shape
    hp, wp = -(-hc // mult) * mult, -(-wc // mult) * mult
    rows = torch.minimum(torch.arange(hp, device=x.device)[None], (h - 1)[:, None])
    cols = torch.minimum(torch.arange(wp, device=x.device)[None], (w - 1)[:, None])
    x = x.gather(2, rows[:, None, :, None].expand(b, c, hp, wc))
    return x.gather(3, cols[:, None, None, :].expand(b, c, hp, wp))


def jpeg_batch(x, quality, h, w):
    """JPEG round trip of 8-bit-valued RGB images (B, 3, H, W) in [0, 255] with valid sizes ``h``, ``w`` (B,).

    Returns the decoded images, rounded to integers, same shape; samples with quality >= 100 are returned
    unchanged (the "no JPEG" convention of ``degradation.py``).
    """
    b, _, hc, wc = x.shape
    device = x.device
    padded = _replicate_pad(x, h.to(device), w.to(device), 16)
    ycc = torch.einsum('ij,bjhw->bihw', torch.tensor(_RGB_TO_YCC, device=device), padded)
    ycc = torch.round(ycc + torch.tensor([0.0, 128.0, 128.0], device=device).view(1, 3, 1, 1)) - 128
    luma_table, chroma_table = jpeg_quant_tables(quality.to(device))
    dct = _dct_matrix(device)
    luma = _quantise_blocks(ycc[:, :1], luma_table, dct)
    chroma = _quantise_blocks(torch.round(F.avg_pool2d(ycc[:, 1:], 2)), chroma_table, dct)
    # libjpeg's fancy upsampling replicates the last real chroma sample (ceil(size / 2)), not the MCU padding
    chroma = _replicate_pad(chroma, (h.to(device) + 1) // 2, (w.to(device) + 1) // 2, 1)
    chroma = F.interpolate(chroma, scale_factor=2, mode='bilinear', align_corners=False)
    chroma = chroma[..., :luma.shape[2], :luma.shape[3]]
    rgb = torch.einsum('ij,bjhw->bihw', torch.tensor(_YCC_TO_RGB, device=device), torch.cat([luma, chroma], 1))
    rgb = torch.round(rgb + 128).clamp(0, 255)[..., :hc, :wc]
    return torch.where((quality.to(device) >= 100).view(b, 1, 1, 1), x, rgb)


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
