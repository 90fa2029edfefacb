"""Command line: restore faces in photos, folders of photos or videos with a Panini-Net.

Outputs (like GFPGAN's ``inference_gfpgan.py``) under ``-o``:
``cropped_faces/`` aligned input faces, ``restored_faces/`` network outputs,
``cmp/`` input | output side by side, ``restored_imgs/`` whole restored photos
(and ``<video>_restored.mp4`` for videos). A photo without a detected face is
passed through the background path only (resized by ``--upscale``) and listed
at the end. RGBA photos keep their alpha channel (resized alongside, saved as PNG).
"""
import argparse
import os
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from .archs.presets import PANINI_SOURCE, PRESETS, build_panini, load_checkpoint, read_network_g
from .restoration.face_detect import FaceDetector
from .restoration.face_restorer import PaniniRestorer
from .restoration.paste_back import resize_in_strips
from .utils.image_io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, list_images, read_photo


def parse_args(argv=None):
    """Parse the command line (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-i', '--input', required=True, help='image file, folder of images, or video file')
    parser.add_argument('-o', '--output', default='results', help='output folder')
    parser.add_argument('--model_path',
                        help='trained Panini-Net checkpoint (key params_ema, else params, else a bare state dict)')
    parser.add_argument('--arch', default='fr', choices=sorted(PRESETS),
                        help='network preset: fr (512->1024), sr16 and catconv (64->1024), tiny (64->128, tests)')
    parser.add_argument('--opt', help='BasicSR option file whose network_g builds the net (overrides --arch)')
    parser.add_argument('--random_weights', action='store_true',
                        help='TESTS/DEMOS ONLY: use an untrained net when no --model_path is given')
    parser.add_argument('--aligned', action='store_true', help='inputs are already aligned, cropped faces')
    parser.add_argument('--detector', default='mtcnn', choices=['mtcnn', 'retinaface'],
                        help='mtcnn ships its weights (offline); retinaface needs --detector_path')
    parser.add_argument('--detector_path', help="facexlib RetinaFace weight file, e.g. detection_Resnet50_Final.pth")
    parser.add_argument('--only_center_face', action='store_true', help='restore only the face nearest the centre')
    parser.add_argument('--upscale', type=float, default=2, help='scale of the whole output photo')
    parser.add_argument('--bg_upsampler', default='none', choices=['none'],
                        help='background path: none = Lanczos resize (done in strips, bounded memory)')
    parser.add_argument('--prior_weight', type=float, default=None,
                        help='0 = trust the input, 1 = trust the GAN prior, 0.5 or unset = learned DAFI masks '
                             '(mask_bias = logit(prior_weight))')
    parser.add_argument('--preserve_color', action='store_true',
                        help="keep the input face's low-frequency colour (Lab a/b), fixing colour shifts")
    parser.add_argument('--batch_size', type=int, default=4, help='faces per forward pass')
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    parser.add_argument('--ext', default='auto', choices=['auto', 'jpg', 'png'],
                        help='output image format; auto = the input format (PNG when there is alpha)')
    parser.add_argument('--suffix', default=None, help='suffix added to restored file names')
    return parser.parse_args(argv)


def list_inputs(path):
    """Image and video files under ``path`` (a file or a folder), sorted."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f'Input not found: {path}')
    return [Path(p) for p in list_images(path, extensions=IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)]


def select_device(name):
    """'cpu', 'cuda' or 'auto' (CUDA when available) -> torch.device."""
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda was asked for but CUDA is not available.')
    return torch.device(name)


def load_net(args):
    """The PaniniNet of ``--opt`` or ``--arch`` with the weights of ``--model_path`` (or random, with a warning)."""
    net = build_panini(read_network_g(args.opt) if args.opt else args.arch)
    if args.model_path:
        load_checkpoint(net, args.model_path, 'auto', 'Panini-Net', PANINI_SOURCE)
    elif args.random_weights:
        warnings.warn('RANDOM WEIGHTS: --random_weights builds an untrained Panini-Net. Its output is noise-like '
                      'and only good for tests and demos of the pipeline.', stacklevel=2)
    else:
        raise FileNotFoundError('No --model_path given. Pass a trained Panini-Net checkpoint '
                                '(scripts/demo.py trains a small one offline), or --random_weights for a pipeline '
                                'test with an untrained net.')
    return net


class OutputWriter:
    """Write GFPGAN-style output folders under ``root``."""

    def __init__(self, root, ext, suffix):
        self.root = Path(root)
        self.ext = ext
        self.suffix = f'_{suffix}' if suffix else ''
        for sub in ('cropped_faces', 'restored_faces', 'cmp', 'restored_imgs'):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def faces(self, stem, crops, restored):
        """Save aligned crops, restored faces and side-by-side comparisons."""
        for idx, (crop, face) in enumerate(zip(crops, restored)):
            size = face.shape[0]
            shown = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(self.root / 'cropped_faces' / f'{stem}_{idx:02d}.png'), crop)
            cv2.imwrite(str(self.root / 'restored_faces' / f'{stem}_{idx:02d}{self.suffix}.png'), face)
            cv2.imwrite(str(self.root / 'cmp' / f'{stem}_{idx:02d}.png'), np.concatenate([shown, face], axis=1))

    def photo(self, source, img, alpha):
        """Save a whole restored photo; with ``alpha`` (H', W') it becomes a 4-channel PNG."""
        ext = source.suffix.lower().lstrip('.') if self.ext == 'auto' else self.ext
        if alpha is not None or ext not in ('jpg', 'jpeg', 'png'):
            ext = 'png'
        if alpha is not None:
            img = np.concatenate([img, alpha[:, :, None]], axis=2)
        path = self.root / 'restored_imgs' / f'{source.stem}{self.suffix}.{ext}'
        cv2.imwrite(str(path), img)
        return path


def restore_image(restorer, writer, path, aligned):
    """Restore one image file; returns the number of faces restored."""
    img, alpha = read_photo(path)
    if aligned:
        crops, restored = restorer.restore_aligned(img)
        output, alpha = restored[0], None
    else:
        crops, restored, output = restorer.restore_photo(img)
        if alpha is not None:
            alpha = resize_in_strips(alpha, output.shape[0] / img.shape[0])
    writer.faces(path.stem, crops, restored)
    writer.photo(path, output, alpha)
    return len(restored)


def restore_video(restorer, writer, path, aligned):
    """Restore every frame of a video into ``restored_imgs/<stem>_restored.mp4``; returns faces restored."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f'Cannot open video {path}')
    fps = capture.get(cv2.CAP_PROP_FPS) or 25
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    out_path = writer.root / 'restored_imgs' / f'{path.stem}{writer.suffix or "_restored"}.mp4'
    video_writer = None
    faces = 0
    with tqdm(total=total, desc=f'{path.name}', unit='frame') as progress:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if aligned:
                _, restored = restorer.restore_aligned(frame)
                output = restored[0]
            else:
                _, restored, output = restorer.restore_photo(frame)
            faces += len(restored)
            if video_writer is None:
                size = (output.shape[1], output.shape[0])
                video_writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
            video_writer.write(output)
            progress.update()
    capture.release()
    if video_writer is not None:
        video_writer.release()
    return faces


def main(argv=None):
    """Entry point of ``panini-restore`` and ``scripts/inference_panini.py``; returns 0."""
    args = parse_args(argv)
    device = select_device(args.device)
    net = load_net(args)
    detector = None if args.aligned else FaceDetector(args.detector, device, args.detector_path)
    restorer = PaniniRestorer(net, device, upscale=args.upscale, prior_weight=args.prior_weight,
                              preserve_color=args.preserve_color, batch_size=args.batch_size, detector=detector,
                              only_center_face=args.only_center_face)
    writer = OutputWriter(args.output, args.ext, args.suffix)
    inputs = list_inputs(args.input)
    no_face, total_faces = [], 0
    for path in tqdm(inputs, desc='Restoring', unit='file'):
        restore = restore_video if path.suffix.lower() in VIDEO_EXTENSIONS else restore_image
        count = restore(restorer, writer, path, args.aligned)
        total_faces += count
        if count == 0:
            no_face.append(path.name)
    print(f'Restored {total_faces} face(s) in {len(inputs)} file(s); results in {os.path.abspath(args.output)}')
    if no_face:
        print(f'No face found (passed through the background path only): {", ".join(no_face)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
