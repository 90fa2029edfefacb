"""Restore faces in photos with a Panini-Net: detect, align, restore, paste back."""
import math
import warnings

import cv2
import numpy as np
import torch
from basicsr.archs import build_network
from basicsr.utils import img2tensor, tensor2img

from ..archs.arch_util import load_state_dict_file, without_weight_paths
from .face_align import align_face, crop_to_output, paste_face, resize_in_strips
from .face_detect import FaceDetector
from .safe_load import load_options

PRESETS = {
    'fr': dict(in_size=512, out_size=1024),
    'sr16': dict(in_size=64, out_size=1024, degradation_input='learned', rrdb_channels=64, num_rrdb=23,
                 cbam_reduction=8),
    'tiny': dict(in_size=64, out_size=128, num_style_feat=64, narrow=1 / 16, rrdb_channels=4, num_rrdb=1),
}
PRIOR_LOGIT_LIMIT = math.log(1e6)
MIN_ALIGNED_SIDE = 16


def prior_weight_to_bias(prior_weight):
    """Map ``--prior_weight`` p in [0, 1] to the DAFI ``mask_bias`` logit(p).

    Each DAFI mask is a two-way softmax, i.e. m = sigmoid(z_prior - z_input);
    adding logit(p) multiplies the odds of trusting the GAN prior by p / (1 - p).
    So p = 0.5 keeps the learned masks, p -> 0 trusts the input, p -> 1 trusts
    the prior (the bias is clipped to +-ln(1e6) ~ 13.8). None = no bias.
    """
    if prior_weight is None:
        return None
    if not 0 <= prior_weight <= 1:
        raise ValueError(f'prior_weight must be in [0, 1], got {prior_weight}')
    p = min(max(prior_weight, 1e-6), 1 - 1e-6)
    return float(np.clip(math.log(p / (1 - p)), -PRIOR_LOGIT_LIMIT, PRIOR_LOGIT_LIMIT))


def build_panini(arch='fr', opt_path=None):
    """Build an untrained PaniniNet from a preset name or a BasicSR option file's ``network_g``."""
    if opt_path is not None:
        net_opt = dict(load_options(opt_path)['network_g'])
    else:
        if arch not in PRESETS:
            raise ValueError(f'Unknown arch {arch!r}; choose one of {sorted(PRESETS)}')
        net_opt = dict(type='PaniniNet', **PRESETS[arch])
    return build_network(without_weight_paths(net_opt))


def load_panini_weights(net, model_path):
    """Load ``params_ema``, else ``params``, else the file as a bare state dict, into ``net``.

    Raises:
        RuntimeError: the weights do not fit ``net``; the message says to pass the matching
            ``--arch`` or the training options file with ``--opt``.
    """
    source = 'Train one with panini-train, or run scripts/demo.py, which trains a small one offline.'
    for key in ('params_ema', 'params', None):
        try:
            return load_state_dict_file(net, model_path, key, 'Panini-Net', source)
        except KeyError:
            continue
        except RuntimeError as error:
            if 'do not fit' not in str(error):
                raise
            raise RuntimeError(f'{error}. The checkpoint was trained with other network options: pass the '
                               'matching --arch preset, or the options file it was trained with as --opt.') from None


def match_color(restored, reference, sigma_ratio=1 / 32):
    """Give ``restored`` the low-frequency colour (Lab a, b) of ``reference``; keep its lightness.

    Args:
        restored (ndarray): (S, S, 3) uint8 BGR network output.
        reference (ndarray): (s, s, 3) uint8 BGR network input (any size).
        sigma_ratio (float): Gaussian low-pass sigma as a fraction of S.

    Returns:
        ndarray: (S, S, 3) uint8 BGR.
    """
    size = restored.shape[0]
    reference = cv2.resize(reference, (size, size), interpolation=cv2.INTER_CUBIC)
    lab_out = cv2.cvtColor(restored.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    lab_ref = cv2.cvtColor(reference.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    sigma = max(size * sigma_ratio, 1.0)
    low_out = cv2.GaussianBlur(lab_out[:, :, 1:], (0, 0), sigma)
    low_ref = cv2.GaussianBlur(lab_ref[:, :, 1:], (0, 0), sigma)
    lab_out[:, :, 1:] += low_ref - low_out
    bgr = cv2.cvtColor(lab_out, cv2.COLOR_Lab2BGR)
    return np.clip(bgr * 255 + 0.5, 0, 255).astype(np.uint8)


class PaniniRestorer:
    """Restore aligned faces or whole photos.

    Args:
        net (nn.Module): a PaniniNet (input (B, 3, in, in) RGB in [-1, 1] ->
            (B, 3, out, out)); ``net.in_size``/``net.out_size`` give the sizes.
        device (torch.device): where the net runs.
        upscale (float): whole photos are resized by this factor.
        prior_weight (float | None): see ``prior_weight_to_bias``.
        preserve_color (bool): apply ``match_color`` to every restored face.
        batch_size (int): faces per forward pass.
        detector (FaceDetector | None): needed for whole photos.
        only_center_face (bool): keep only the face nearest the photo centre.
    """

    def __init__(self, net, device, upscale=2, prior_weight=None, preserve_color=False, batch_size=4,
                 detector=None, only_center_face=False):
        self.net = net.to(device).eval()
        self.device = device
        self.in_size = net.in_size
        self.out_size = net.out_size
        self.upscale = upscale
        self.mask_bias = prior_weight_to_bias(prior_weight)
        self.preserve_color = preserve_color
        self.batch_size = batch_size
        self.detector = detector
        self.only_center_face = only_center_face

    @torch.no_grad()
    def restore_faces(self, crops):
        """Restore a list of (in, in, 3) uint8 BGR crops -> list of (out, out, 3) uint8 BGR."""
        restored = []
        for start in range(0, len(crops), self.batch_size):
            batch = crops[start:start + self.batch_size]
            lq = torch.stack(img2tensor([c.astype(np.float32) / 255 for c in batch], bgr2rgb=True, float32=True))
            out = self.net(lq.to(self.device) * 2 - 1, mask_bias=self.mask_bias)
            faces = tensor2img(list(out.cpu()), rgb2bgr=True, min_max=(-1, 1))
            faces = faces if isinstance(faces, list) else [faces]
            if self.preserve_color:
                faces = [match_color(face, crop) for face, crop in zip(faces, batch)]
            restored.extend(faces)
        return restored

    def restore_aligned(self, img, name='image'):
        """Restore one already-aligned face (any square size, resized to the input size).

        Returns:
            tuple: ([crop], [restored face]) as uint8 BGR arrays.

        Raises:
            ValueError: ``img`` (``name`` in the message) is not square, or smaller than
                :data:`MIN_ALIGNED_SIDE`: aligned faces are square crops, and stretching
                or blowing up anything else gives a meaningless result.
        """
        height, width = img.shape[:2]
        if height != width:
            raise ValueError(f'{name}: {width}x{height} px is not square; --aligned takes square, aligned face '
                             'crops (leave out --aligned to detect and align the faces of a photo)')
        if height < MIN_ALIGNED_SIDE:
            raise ValueError(f'{name}: {width}x{height} px is too small for an aligned face '
                             f'(at least {MIN_ALIGNED_SIDE} px)')
        crop = img
        if img.shape[:2] != (self.in_size, self.in_size):
            interpolation = cv2.INTER_AREA if img.shape[0] > self.in_size else cv2.INTER_CUBIC
            crop = cv2.resize(img, (self.in_size, self.in_size), interpolation=interpolation)
        return [crop], self.restore_faces([crop])

    def restore_photo(self, img):
        """Detect, align, restore and paste back every face of a whole photo.

        Args:
            img (ndarray): (H, W, 3) uint8 BGR.

        Returns:
            tuple: crops list, restored faces list, output photo
            (round(H*upscale), round(W*upscale), 3) uint8 BGR. No face -> empty
            lists and the resized photo.
        """
        if self.detector is None:
            raise RuntimeError('Whole photos need a face detector; pass one or use aligned mode.')
        faces = self.detector.detect(img)
        if self.only_center_face and faces:
            center = np.array([img.shape[1], img.shape[0]]) / 2
            faces = [min(faces, key=lambda f: np.linalg.norm((f.box[:2] + f.box[2:]) / 2 - center))]
        aligned = [align_face(img, face.landmarks, self.in_size) for face in faces]
        crops = [crop for crop, _ in aligned]
        restored = self.restore_faces(crops) if crops else []
        canvas = resize_in_strips(img, self.upscale)
        for face, (_, affine) in zip(restored, aligned):
            paste_face(canvas, *self._fit_face(face, affine))
        return crops, restored, canvas

    def _fit_face(self, face, affine):
        """Pre-shrink a restored face to its size in the output (avoids aliasing) and its matrix."""
        crop_scale = math.sqrt(abs(np.linalg.det(affine[:, :2])))
        target = int(round(self.in_size * self.upscale / crop_scale))
        if target < face.shape[0]:
            face = cv2.resize(face, (target, target), interpolation=cv2.INTER_AREA)
        return face, crop_to_output(affine, self.in_size, face.shape[0], self.upscale)


def select_device(name):
    """'cpu', 'cuda' or 'auto' (CUDA when available) -> torch.device."""
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda was asked for but CUDA is not available.')
    return torch.device(name)


def make_restorer(args):
    """Build a ``PaniniRestorer`` from parsed command-line options (see ``panini_arch.inference``)."""
    device = select_device(args.device)
    net = build_panini(args.arch, args.opt)
    if args.model_path:
        load_panini_weights(net, args.model_path)
    elif args.random_weights:
        warnings.warn('RANDOM WEIGHTS: --random_weights builds an untrained Panini-Net. Its output is noise-like '
                      'and only good for tests and demos of the pipeline.', stacklevel=2)
    else:
        raise FileNotFoundError('No --model_path given. Pass a trained Panini-Net checkpoint '
                                '(scripts/demo.py trains a small one offline), or --random_weights for a pipeline '
                                'test with an untrained net.')
    detector = None if args.aligned else FaceDetector(args.detector, device, args.detector_path)
    return PaniniRestorer(net, device, upscale=args.upscale, prior_weight=args.prior_weight,
                          preserve_color=args.preserve_color, batch_size=args.batch_size, detector=detector,
                          only_center_face=args.only_center_face)
