"""Command line: restore faces in photos, folders of photos or videos with a Panini-Net.

Outputs (like GFPGAN's ``inference_gfpgan.py``) under ``-o``:
``cropped_faces/`` aligned input faces, ``restored_faces/`` network outputs,
``cmp/`` input | output side by side, ``restored_imgs/`` whole restored photos
(and ``<video>_restored.mp4`` for videos). A photo without a detected face is
passed through the background path only (resized by ``--upscale``) and listed
at the end. RGBA photos keep their alpha channel (resized alongside, saved as PNG).

Nothing is overwritten or lost: ``-o`` may not hold the input; inputs whose stems
collide (``face.png``, ``face.jpg``) get their extension in the output name
(``face_png``, ``face_jpg``); an input whose restored photo is already in ``-o`` is
skipped and listed, unless ``--overwrite``; files are written whole or not at all
(temporary file, then rename). A file that cannot be read, restored or written is
reported with its reason, the others go on, and the exit status is 1 when any
failed (2 for a bad command line or set-up).
"""
import argparse
import os
import sys
import traceback
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from .archs.precision import CHANNELS_LAST_CHOICES, PRECISIONS
from .archs.presets import PANINI_SOURCE, PRESETS, build_generator, build_panini, panini_options, read_network_g
from .restoration.background import BackgroundUpsampler, load_rrdbnet
from .restoration.face_detect import DETECTORS, MIN_FACE_SIDE, YUNET_FILE, FaceDetector
from .restoration.face_restorer import PaniniRestorer
from .restoration.paste_back import resize_in_strips
from .utils.atomic import atomic_write_bytes, replacing
from .utils.image_io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, check_pixel_count, read_photo
from .utils.output_paths import OutputGuard
from .utils.safe_load import UnsafeOptionsError, UnsafeWeightsError


def _number(kind, low, text, inclusive=False):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a {kind.__name__}') from None
    if value < low or (value == low and not inclusive) or value != value:
        raise argparse.ArgumentTypeError(f'must be {">=" if inclusive else ">"} {low}, got {text}')
    return value


def positive_int(text):
    """argparse type: an int > 0."""
    return _number(int, 0, text)


def non_negative_int(text):
    """argparse type: an int >= 0."""
    return _number(int, 0, text, inclusive=True)


def positive_float(text):
    """argparse type: a finite float > 0."""
    value = _number(float, 0, text)
    if value == float('inf'):
        raise argparse.ArgumentTypeError(f'must be finite, got {text}')
    return value


def unit_float(text):
    """argparse type: a float in [0, 1]."""
    value = _number(float, 0, text, inclusive=True)
    if value > 1:
        raise argparse.ArgumentTypeError(f'must be in [0, 1], got {text}')
    return value


def name_suffix(text):
    """argparse type: a file-name suffix (no path separators)."""
    if not text or any(sep in text for sep in ('/', '\\', '\0')) or text in ('.', '..'):
        raise argparse.ArgumentTypeError(f'{text!r} cannot be part of a file name (no / or \\)')
    return text


def parse_args(argv=None):
    """Parse the command line (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-i', '--input', required=True, help='image file, folder of images, or video file')
    parser.add_argument('-o', '--output', default='results', help='output folder')
    parser.add_argument('--model_path',
                        help='trained Panini-Net checkpoint (key params_ema, else params, else a bare state dict), or '
                             "the authors' released file, which brings its own network options")
    parser.add_argument('--arch', default='fr', choices=sorted(PRESETS),
                        help='network preset: fr (512->1024), sr16 and catconv (64->1024), tiny (64->128, tests)')
    parser.add_argument('--opt', help='BasicSR option file whose network_g builds the net (overrides --arch)')
    parser.add_argument('--random_weights', action='store_true',
                        help='TESTS/DEMOS ONLY: use an untrained net when no --model_path is given')
    parser.add_argument('--aligned', action='store_true', help='inputs are already aligned, cropped faces')
    parser.add_argument('--detector', default='auto', choices=DETECTORS,
                        help='auto: the detector of --detector_path\'s file (.onnx YuNet, .pth RetinaFace), else '
                             'mtcnn when facenet-pytorch is installed, else haar (with a warning); '
                             'mtcnn: facenet-pytorch (pip install --no-deps facenet-pytorch==2.6.0), offline; '
                             'retinaface: facexlib (pip install -e ".[retinaface]") and --detector_path; '
                             f'yunet: OpenCV, needs --detector_path {YUNET_FILE}; '
                             'haar: OpenCV, always installed, rougher alignment')
    parser.add_argument('--detector_path', help=f'detector weight file: YuNet\'s {YUNET_FILE}, or facexlib\'s '
                                                'RetinaFace detection_Resnet50_Final.pth')
    parser.add_argument('--only_center_face', action='store_true', help='restore only the face nearest the centre')
    parser.add_argument('--draw_box', action='store_true',
                        help='draw the detected boxes and landmarks on the whole restored photo')
    parser.add_argument('-s', '--upscale', type=positive_float, default=2, help='scale of the whole output photo')
    parser.add_argument('--bg_upsampler', default='none', choices=['none', 'realesrgan'],
                        help='background path: none = Lanczos resize (done in strips, bounded memory); '
                             'realesrgan = BasicSR\'s RRDBNet with the weights of --bg_path, in tiles')
    parser.add_argument('--bg_path', help='Real-ESRGAN weight file for --bg_upsampler realesrgan, '
                                          'e.g. RealESRGAN_x2plus.pth')
    parser.add_argument('--bg_tile', type=non_negative_int, default=400,
                        help='background tile side in input pixels (0 = whole photo at once)')
    parser.add_argument('--bg_tile_pad', type=non_negative_int, default=10, help='overlap of the background tiles')
    weight = parser.add_mutually_exclusive_group()
    weight.add_argument('--prior_weight', type=unit_float, default=None,
                        help='0 = trust the input, 1 = trust the GAN prior, 0.5 or unset = learned DAFI masks '
                             '(mask_bias = logit(prior_weight))')
    weight.add_argument('-w', '--fidelity_weight', type=unit_float, default=None,
                        help='CodeFormer\'s direction: 0 = trust the GAN prior, 1 = keep the input; '
                             'the same as --prior_weight 1-w')
    parser.add_argument('--preserve_color', action='store_true',
                        help="keep the input face's low-frequency colour (Lab a/b), fixing colour shifts")
    parser.add_argument('--batch_size', type=positive_int, default=4, help='faces per forward pass')
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    parser.add_argument('--precision', default='fp32', choices=PRECISIONS,
                        help='fp32; bf16 autocast (faster, output differs by up to ~0.03 on [-1, 1]); fp16 (CUDA only)')
    parser.add_argument('--channels_last', default='auto', choices=CHANNELS_LAST_CHOICES,
                        help='NHWC layout: auto = where measured exact and faster (Panini-FR), on, off')
    parser.add_argument('--ext', default='auto', choices=['auto', 'jpg', 'png'],
                        help='output image format; auto = the input format (PNG when there is alpha)')
    parser.add_argument('--suffix', type=name_suffix, default=None, help='suffix added to restored file names')
    parser.add_argument('--overwrite', action='store_true',
                        help='restore inputs whose results are already in -o (default: skip and list them)')
    args = parser.parse_args(argv)
    if args.fidelity_weight is not None:
        args.prior_weight = 1 - args.fidelity_weight
    if args.aligned and (args.draw_box or args.bg_upsampler != 'none'):
        parser.error('--draw_box and --bg_upsampler act on whole photos; --aligned faces have neither boxes '
                     'nor a background')
    if args.bg_path and args.bg_upsampler == 'none':
        parser.error('--bg_path is used by --bg_upsampler realesrgan; pass that too')
    return args


def list_inputs(path):
    """``(inputs, ignored)``: image and video files under ``path`` (a file or a folder), sorted, and the
    names of the other files of the folder.

    Raises:
        FileNotFoundError: ``path`` does not exist, or the folder holds no image or video.
    """
    path = Path(path)
    if path.is_file():
        return [path], []
    if not path.is_dir():
        raise FileNotFoundError(f'Input not found: {path}')
    files = sorted(p for p in path.iterdir() if p.is_file())
    inputs = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS]
    if not inputs:
        extensions = ' '.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
        raise FileNotFoundError(f'No image or video in {path} (extensions {extensions})')
    return inputs, [p.name for p in files if p not in inputs]


def select_device(name):
    """'cpu', 'cuda' or 'auto' (CUDA when available) -> torch.device."""
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda was asked for but CUDA is not available.')
    return torch.device(name)


def load_net(args):
    """The PaniniNet of ``--opt`` or ``--arch`` with the weights of ``--model_path`` (or random, with a warning).

    An authors' Panini-FR/SR file brings its own network options (:func:`~.archs.presets.build_generator`).

    Raises:
        RuntimeError: the checkpoint does not fit; the message says to pass the matching ``--arch`` or ``--opt``.
    """
    network_opt = panini_options(read_network_g(args.opt) if args.opt else args.arch)
    if args.model_path:
        try:
            return build_generator(network_opt, args.model_path, 'auto', what='Panini-Net', source_hint=PANINI_SOURCE)
        except RuntimeError as error:
            if 'do not fit' not in str(error):
                raise
            raise RuntimeError(f'{error}. The checkpoint was trained with other network options: pass the matching '
                               '--arch preset, or the options file it was trained with as --opt.') from None
    if not args.random_weights:
        raise FileNotFoundError('No --model_path given. Pass a trained Panini-Net checkpoint '
                                '(scripts/demo.py trains a small one offline), or --random_weights for a pipeline '
                                'test with an untrained net.')
    warnings.warn('RANDOM WEIGHTS: --random_weights builds an untrained Panini-Net. Its output is noise-like '
                  'and only good for tests and demos of the pipeline.', stacklevel=2)
    return build_panini(network_opt)


def make_restorer(args):
    """The :class:`PaniniRestorer` the command line describes."""
    device = select_device(args.device)
    net = load_net(args)
    detector = background = None
    if not args.aligned:
        detector = FaceDetector(args.detector, device, args.detector_path)
        print(f'Face detector: {detector.description}')
    if args.bg_upsampler == 'realesrgan':
        background = BackgroundUpsampler(load_rrdbnet(args.bg_path), device, args.bg_tile, args.bg_tile_pad)
        print(f'Background: RRDBNet x{background.net.scale} from {args.bg_path} on {device}, '
              f'tiles {args.bg_tile or "off"} (overlap {args.bg_tile_pad})')
    return PaniniRestorer(net, device, upscale=args.upscale, prior_weight=args.prior_weight,
                          preserve_color=args.preserve_color, batch_size=args.batch_size, detector=detector,
                          only_center_face=args.only_center_face, precision=args.precision,
                          channels_last=args.channels_last, background=background, draw_box=args.draw_box)


def output_stems(inputs):
    """One distinct output stem per input: the file stem, or ``<stem>_<ext>`` where stems collide."""
    counts = {}
    for path in inputs:
        counts[path.stem.lower()] = counts.get(path.stem.lower(), 0) + 1
    stems, taken = {}, set()
    for path in inputs:
        stem = path.stem if counts[path.stem.lower()] == 1 else f'{path.stem}_{path.suffix.lstrip(".").lower()}'
        unique, n = stem, 1
        while unique.lower() in taken:
            n += 1
            unique = f'{stem}_{n}'
        taken.add(unique.lower())
        stems[path] = unique
    return stems


class OutputWriter:
    """Write GFPGAN-style output folders under ``root``; every file whole or not at all, none into the inputs.

    ``guard`` (:class:`panini_arch.utils.output_paths.OutputGuard`) resolves every folder and file
    (links included) before it is written; one that would land in the inputs raises.
    """

    def __init__(self, root, ext, suffix, guard):
        self.root = Path(guard.check_root(root))
        self.ext = ext
        self.suffix = f'_{suffix}' if suffix else ''
        self.guard = guard
        for sub in ('cropped_faces', 'restored_faces', 'cmp', 'restored_imgs'):
            guard.check(self.root / sub).mkdir(parents=True, exist_ok=True)

    def write(self, path, img):
        """Encode ``img`` for ``path``'s extension and write it atomically; OSError naming it on failure."""
        path = Path(self.guard.check(path))
        try:
            ok, data = cv2.imencode(path.suffix, img)
        except cv2.error as error:
            raise OSError(f'Cannot encode {path}: {error}') from None
        if not ok:
            raise OSError(f'Cannot encode {path}')
        try:
            atomic_write_bytes(data.tobytes(), path)
        except OSError as error:
            raise OSError(f'Cannot write {path}: {error.strerror or error}') from None

    def faces(self, stem, crops, restored):
        """Save aligned crops, restored faces and side-by-side comparisons."""
        for idx, (crop, face) in enumerate(zip(crops, restored)):
            size = face.shape[0]
            shown = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)
            self.write(self.root / 'cropped_faces' / f'{stem}_{idx:02d}.png', crop)
            self.write(self.root / 'restored_faces' / f'{stem}_{idx:02d}{self.suffix}.png', face)
            self.write(self.root / 'cmp' / f'{stem}_{idx:02d}.png', np.concatenate([shown, face], axis=1))

    def photo_ext(self, source, has_alpha):
        """Extension of the restored photo: the input's (or ``--ext``), PNG for alpha and other formats."""
        ext = source.suffix.lower().lstrip('.') if self.ext == 'auto' else self.ext
        return 'png' if has_alpha or ext not in ('jpg', 'jpeg', 'png') else ext

    def existing(self, stem):
        """Restored photos or videos already written for ``stem``."""
        names = {f'{stem}{self.suffix}', f'{stem}{self.suffix or "_restored"}'}
        folder = self.root / 'restored_imgs'
        return [p for p in folder.iterdir() if p.stem in names and not p.name.startswith('.')]

    def photo(self, source, stem, img, alpha):
        """Save a whole restored photo; with ``alpha`` (H', W') it becomes a 4-channel PNG."""
        if alpha is not None:
            img = np.concatenate([img, alpha[:, :, None]], axis=2)
        path = self.root / 'restored_imgs' / f'{stem}{self.suffix}.{self.photo_ext(source, alpha is not None)}'
        self.write(path, img)
        return path


def restore_image(restorer, writer, path, stem):
    """Restore the faces of one whole photo; returns (faces restored, note or None)."""
    img, alpha = read_photo(path)
    note = None
    crops, restored, output = restorer.restore_photo(img)
    if alpha is not None:
        alpha = resize_in_strips(alpha, output.shape[0] / img.shape[0])
    if not restored and min(img.shape[:2]) < MIN_FACE_SIDE:
        note = f'{img.shape[1]}x{img.shape[0]} px, too small to hold a detectable face (>= {MIN_FACE_SIDE} px)'
    writer.faces(stem, crops, restored)
    writer.photo(path, stem, output, alpha)
    return len(restored), note


def restore_aligned_images(restorer, writer, paths, stems):
    """Restore aligned face images together, ``restorer.batch_size`` faces per forward pass.

    The outputs are those of one file at a time. A file that cannot be read or written fails
    alone; a failed forward pass fails the files of the batch.

    Returns:
        list: ``(path, outcome)`` in input order; outcome is (faces restored, note or None) or the exception.
    """
    outcomes, ready = {}, []
    for path in paths:
        try:
            img, alpha = read_photo(path)
            note = None
            if img.shape[0] < restorer.in_size:
                note = f'{img.shape[1]}x{img.shape[0]} px face upsampled to the net input {restorer.in_size} px'
            ready.append((path, restorer.aligned_crop(img, str(path)), alpha, note))
        except Exception as error:  # reported for this file; the others go on
            outcomes[path] = error
    try:
        faces = restorer.restore_faces([crop for _, crop, _, _ in ready]) if ready else []
    except Exception as error:  # the whole batch failed: each of its files reports why
        outcomes.update((path, error) for path, *_ in ready)
        faces = []
    for (path, crop, alpha, note), face in zip(ready, faces):
        try:
            if alpha is not None:
                alpha = cv2.resize(alpha, face.shape[1::-1], interpolation=cv2.INTER_LINEAR)
            writer.faces(stems[path], [crop], [face])
            writer.photo(path, stems[path], face, alpha)
            outcomes[path] = (1, note)
        except Exception as error:  # reported for this file; the others go on
            outcomes[path] = error
    return [(path, outcomes[path]) for path in paths]


def restore_video(restorer, writer, path, stem, aligned):
    """Restore every frame of a video into ``restored_imgs/<stem>_restored.mp4``; returns (faces, None)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f'Cannot open video {path}')
    fps = capture.get(cv2.CAP_PROP_FPS) or 25
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    out_path = writer.guard.check(writer.root / 'restored_imgs' / f'{stem}{writer.suffix or "_restored"}.mp4')
    video_writer = None
    faces = frames = 0
    try:
        width, height = (int(capture.get(prop)) for prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
        check_pixel_count(width, height, str(path))
        with replacing(out_path, keep_extension=True) as tmp_path, \
                tqdm(total=total, desc=f'{path.name}', unit='frame') as progress:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                if aligned:
                    _, restored = restorer.restore_aligned(frame, f'{path} frame {frames}')
                    output = restored[0]
                else:
                    _, restored, output = restorer.restore_photo(frame)
                faces += len(restored)
                frames += 1
                if video_writer is None:
                    size = (output.shape[1], output.shape[0])
                    video_writer = cv2.VideoWriter(tmp_path, cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
                    if not video_writer.isOpened():
                        raise OSError(f'Cannot write video {out_path}')
                video_writer.write(output)
                progress.update()
            if video_writer is None:
                raise ValueError(f'No frame could be read from video {path}')
            video_writer.release()
            writer.guard.check(out_path)
    finally:
        capture.release()
    return faces, None


def group_inputs(inputs, aligned, batch_size):
    """Jobs ``(batched, paths)``: runs of aligned face images in groups of up to ``batch_size``, other inputs alone."""
    jobs = []
    for path in inputs:
        batched = aligned and path.suffix.lower() not in VIDEO_EXTENSIONS
        if batched and jobs and jobs[-1][0] and len(jobs[-1][1]) < batch_size:
            jobs[-1][1].append(path)
        else:
            jobs.append((batched, [path]))
    return jobs


def run_one(restorer, writer, path, stem, aligned):
    """Restore one photo or video; returns (faces restored, note or None), or the exception it raised."""
    try:
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            return restore_video(restorer, writer, path, stem, aligned)
        return restore_image(restorer, writer, path, stem)
    except Exception as error:  # one bad file must not cost the others; its reason is reported
        return error


def restore_all(restorer, writer, inputs, aligned, overwrite):
    """Restore every input, going on past failures; aligned face images go through the net in batches.

    Returns:
        dict: ``done`` [(name, faces)], ``no_face`` [(name, note)], ``notes`` [(name, note)],
        ``skipped`` [name], ``failed`` [(name, reason)].
    """
    report = {'done': [], 'no_face': [], 'notes': [], 'skipped': [], 'failed': []}
    stems = output_stems(inputs)
    todo = []
    for path in inputs:
        if not overwrite and writer.existing(stems[path]):
            report['skipped'].append(path.name)
        else:
            todo.append(path)
    with tqdm(total=len(todo), desc='Restoring', unit='file') as progress:
        for batched, paths in group_inputs(todo, aligned, restorer.batch_size):
            if batched:
                outcomes = restore_aligned_images(restorer, writer, paths, stems)
            else:
                outcomes = [(paths[0], run_one(restorer, writer, paths[0], stems[paths[0]], aligned))]
            for path, outcome in outcomes:
                record(report, path, outcome)
                progress.update()
    return report


def record(report, path, outcome):
    """Add one input's outcome ((faces, note) or an exception) to the report of :func:`restore_all`."""
    if isinstance(outcome, Exception):
        reason = str(outcome) or traceback.format_exception_only(type(outcome), outcome)[-1].strip()
        report['failed'].append((path.name, reason))
        tqdm.write(f'FAILED {path}: {reason}')
        return
    count, note = outcome
    report['done'].append((path.name, count))
    if count == 0:
        report['no_face'].append((path.name, note))
    elif note:
        report['notes'].append((path.name, note))


def print_report(report, total, output):
    """Print the summary of :func:`restore_all`: what was done, skipped and failed, and why."""
    faces = sum(count for _, count in report['done'])
    print(f'Restored {faces} face(s) in {len(report["done"])} of {total} file(s); results in {os.path.abspath(output)}')
    if report['no_face']:
        print('No face found (passed through the background path only): ' + ', '.join(
            name + (f' ({note})' if note else '') for name, note in report['no_face']))
    for name, note in report['notes']:
        print(f'Note: {name}: {note}')
    if report['skipped']:
        print(f'Skipped {len(report["skipped"])} file(s) already restored in {output} (--overwrite redoes them): '
              + ', '.join(report['skipped']))
    if report['failed']:
        print(f'FAILED {len(report["failed"])} of {total} file(s):')
        for name, reason in report['failed']:
            print(f'  {name}: {reason}')


def main(argv=None):
    """Entry point of ``panini-restore`` and ``scripts/inference_panini.py``.

    Returns:
        int: 0 when every file was restored (or skipped), 1 when any failed, 2 for a set-up error.
    """
    args = parse_args(argv)
    try:
        inputs, ignored = list_inputs(args.input)
        guard = OutputGuard([args.input, *inputs])
        guard.check_root(args.output)  # before the network is loaded
        restorer = make_restorer(args)
        writer = OutputWriter(args.output, args.ext, args.suffix, guard)
    except (OSError, ValueError, ImportError, RuntimeError, UnsafeOptionsError, UnsafeWeightsError) as error:
        print(f'Error: {error}', file=sys.stderr)
        return 2
    if ignored:
        print(f'Ignored (not an image or video): {", ".join(ignored)}')
    report = restore_all(restorer, writer, inputs, args.aligned, args.overwrite)
    print_report(report, len(inputs), args.output)
    return 1 if report['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
