"""Restore faces in photos with a Panini-Net: detect, align, restore, paste back.

Everything here takes plain values (a built net, a ``torch.device``, numbers);
``panini_arch.inference`` turns the command line into them.
"""
import math

import cv2
import numpy as np
import torch
from basicsr.utils import img2tensor, tensor2img

from ..archs.precision import InferenceRunner
from .face_align import align_face
from .paste_back import crop_to_output, paste_face, resize_in_strips

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


def draw_faces(canvas, faces, upscale):
    """Draw each face's box (green) and 5 landmarks (red) in place on ``canvas``, the photo resized by ``upscale``.

    Args:
        canvas (ndarray): (H', W', 3) uint8 BGR output photo.
        faces (list[Face]): detections in input-photo pixels.
        upscale (float): output / input scale (pixel centres aligned, as ``cv2.resize``).
    """
    thickness = max(1, int(round(min(canvas.shape[:2]) / 400)))
    for face in faces:
        x0, y0, x1, y1 = ((face.box + 0.5) * upscale - 0.5).round().astype(int)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 255, 0), thickness)
        for x, y in ((face.landmarks + 0.5) * upscale - 0.5).round().astype(int):
            cv2.circle(canvas, (x, y), 2 * thickness, (0, 0, 255), -1)


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
        precision (str), channels_last (str): see ``panini_arch.archs.precision``.
        background (callable | None): ``background(img, upscale)`` -> the photo resized by ``upscale``
            (e.g. a ``BackgroundUpsampler``); None = Lanczos (``resize_in_strips``).
        draw_box (bool): draw each restored face's box and landmarks on the whole output photo.
    """

    def __init__(self, net, device, upscale=2, prior_weight=None, preserve_color=False, batch_size=4,
                 detector=None, only_center_face=False, precision='fp32', channels_last='auto', background=None,
                 draw_box=False):
        self.net = InferenceRunner(net, device, precision, channels_last)
        self.device = device
        self.in_size = net.in_size
        self.out_size = net.out_size
        self.upscale = upscale
        self.mask_bias = prior_weight_to_bias(prior_weight)
        self.preserve_color = preserve_color
        self.batch_size = batch_size
        self.detector = detector
        self.only_center_face = only_center_face
        self.background = background or resize_in_strips
        self.draw_box = draw_box

    @torch.no_grad()
    def restore_faces(self, crops):
        """Restore a list of (in, in, 3) uint8 BGR crops -> list of (out, out, 3) uint8 BGR."""
        restored = []
        for start in range(0, len(crops), self.batch_size):
            batch = crops[start:start + self.batch_size]
            lq = torch.stack(img2tensor([c.astype(np.float32) / 255 for c in batch], bgr2rgb=True, float32=True))
            out = self.net(lq * 2 - 1, mask_bias=self.mask_bias)
            faces = tensor2img(list(out.cpu()), rgb2bgr=True, min_max=(-1, 1))
            faces = faces if isinstance(faces, list) else [faces]
            if self.preserve_color:
                faces = [match_color(face, crop) for face, crop in zip(faces, batch)]
            restored.extend(faces)
        return restored

    def restore_aligned(self, img, name='image'):
        """Restore one already-aligned face: ``([crop], [restored face])`` uint8 BGR (see :meth:`aligned_crop`)."""
        crop = self.aligned_crop(img, name)
        return [crop], self.restore_faces([crop])

    def aligned_crop(self, img, name='image'):
        """The net input for one already-aligned face (any square size, resized to the input size).

        Returns:
            ndarray: (in, in, 3) uint8 BGR.

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
        return crop

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
        canvas = self.background(img, self.upscale)
        for face, (_, affine) in zip(restored, aligned):
            paste_face(canvas, *self._fit_face(face, affine))
        if self.draw_box:
            draw_faces(canvas, faces, self.upscale)
        return crops, restored, canvas

    def _fit_face(self, face, affine):
        """Pre-shrink a restored face to its size in the output (avoids aliasing) and its matrix."""
        crop_scale = math.sqrt(abs(np.linalg.det(affine[:, :2])))
        target = int(round(self.in_size * self.upscale / crop_scale))
        if target < face.shape[0]:
            face = cv2.resize(face, (target, target), interpolation=cv2.INTER_AREA)
        return face, crop_to_output(affine, self.in_size, face.shape[0], self.upscale)
