"""Score restorations made elsewhere (any method, any program) with the harness's metrics.

The restored images are matched to the GT by file-name stem, resized to the GT size under the
resize policy (:mod:`panini_arch.metrics.resize_policy`) and scored by :class:`MetricRunner`, exactly as
``FaceTestModel`` scores a network's outputs; the summary has the same fields, so
``scripts/compare.py`` tables it beside the harness's own runs. An image that cannot be read is
skipped, listed under ``failed`` with its reason, and reported once the summary of the rest is written.

Without a GT folder the restored folder is a real-world set: the no-reference metrics (NIQE, FID with
``reference_stats``) are computed and the full-reference ones are reported ``needs_gt``. Each image is
read once; the runner gets the images a batch at a time, with a progress bar and ETA.
"""
import json
import os

from basicsr.utils import tensor2img
from tqdm import tqdm

from ..metrics.metric_runner import MetricRunner
from ..metrics.resize_policy import resize_bicubic
from ..models.face_test_model import raise_failures
from ..utils.image_io import BadImageError, list_images
from ..utils.output_paths import OutputGuard
from .analysis import load_batch

DEFAULT_METRICS = {
    'psnr': dict(type='calculate_psnr', crop_border=0, test_y_channel=False),
    'ssim': dict(type='calculate_ssim', crop_border=0, test_y_channel=False),
}
NO_GT_METRICS = {'niqe': dict(type='calculate_niqe', crop_border=0)}


def images_by_stem(folder):
    """``{stem: path}`` of the images in ``folder``; ValueError when two files share a stem."""
    found = {}
    for path in list_images(folder):
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in found:
            raise ValueError(f'{folder} holds two images named {stem}: {os.path.basename(found[stem])} and '
                             f'{os.path.basename(path)}')
        found[stem] = path
    return found


def match_images(restored_dir, gt_dir):
    """Pairs (stem, restored path, GT path) by stem, and the stems found on one side only.

    Returns:
        tuple[list, list, list]: pairs, restored-only stems, GT-only stems.
    """
    restored, gt = images_by_stem(restored_dir), images_by_stem(gt_dir)
    pairs = [(stem, restored[stem], gt[stem]) for stem in sorted(set(restored) & set(gt))]
    return pairs, sorted(set(restored) - set(gt)), sorted(set(gt) - set(restored))


def read_pair(restored_path, gt_path):
    """Restored image resized to its GT's size, and the GT (BGR uint8 HWC; GT None when ``gt_path`` is None)."""
    restored = load_batch([restored_path])
    if gt_path is None:
        return tensor2img(restored[0]), None
    gt = load_batch([gt_path])
    return tensor2img(resize_bicubic(restored, gt.shape[-2:])[0]), tensor2img(gt[0])


def evaluate_outputs(restored_dir, gt_dir, name, results_root='results', metric_opts=None, dataset=None,
                     method=None, echo=print, batch_size=8):
    """Score ``restored_dir`` against ``gt_dir`` (None: no GT); write ``<results_root>/<name>/metrics_<dataset>.json``.

    Args:
        metric_opts (dict | None): ``val.metrics`` of a test options file (None: PSNR and SSIM, or NIQE
            without GT).
        dataset (str | None): dataset name in the summary and file name (default: the GT folder's name, or
            the restored folder's without GT).
        method (str | None): label in the comparison table (default: ``name``).
        batch_size (int): images handed to the metric runner at once.

    Returns:
        dict: the summary written.

    Raises:
        ValueError: no restored image matches a GT image (or, without GT, the folder holds no image); the
            summary would resolve into ``restored_dir`` or ``gt_dir``, links included
            (:class:`panini_arch.utils.output_paths.OutputIntoInputError`).
        EvaluationFailures: some images could not be read or some metric values failed; the summary of
            the rest was written first.
    """
    if gt_dir is None:
        pairs, restored_only, gt_only = [(s, p, None) for s, p in sorted(images_by_stem(restored_dir).items())], [], []
    else:
        pairs, restored_only, gt_only = match_images(restored_dir, gt_dir)
    if restored_only:
        echo(f'{len(restored_only)} restored image(s) without a GT image (not scored): {", ".join(restored_only)}')
    if gt_only:
        echo(f'{len(gt_only)} GT image(s) without a restored image (not scored): {", ".join(gt_only)}')
    if not pairs:
        raise ValueError(f'No image of {restored_dir} has a GT image of the same name in {gt_dir}' if gt_dir
                         else f'No image in {restored_dir}')
    dataset = dataset or os.path.basename(os.path.normpath(gt_dir or restored_dir))
    guard = OutputGuard([d for d in (restored_dir, gt_dir) if d])
    folder = guard.check(os.path.join(results_root, name))
    path = guard.check(os.path.join(folder, f'metrics_{dataset}.json'))
    if metric_opts is None:
        metric_opts = DEFAULT_METRICS if gt_dir else NO_GT_METRICS
    metrics = MetricRunner(metric_opts)
    done, failed = [], []
    with tqdm(total=len(pairs), unit='img', desc=name) as progress:
        for start in range(0, len(pairs), batch_size):
            restored, references, stems = [], [], []
            for stem, restored_path, gt_path in pairs[start:start + batch_size]:
                try:
                    img, img2 = read_pair(restored_path, gt_path)
                except (BadImageError, OSError) as error:
                    failed.append((stem, str(error)))
                    continue
                restored.append(img)
                references.append(img2)
                stems.append(stem)
            metrics.update_batch(restored, references if gt_dir else None, stems)
            done += stems
            progress.update(len(pairs[start:start + batch_size]))
    summary = {
        'name': name, 'method': method or name, 'paper': None, 'random_weights': False, 'dataset': dataset,
        'lq_folder': None, 'gt_folder': gt_dir, 'results_folder': restored_dir, 'num_images': len(done),
        'input_size': None, 'batch_size': None, 'device': 'restored elsewhere', 'images_per_second': None,
        'metrics': metrics.results(), 'images': done, 'failed': [{'image': stem, 'reason': reason}
                                                                  for stem, reason in failed],
        'unmatched': {'restored': restored_only, 'gt': gt_only},
    }
    os.makedirs(folder, exist_ok=True)
    with open(guard.check(path), 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
    echo(f'{name} on {dataset} ({len(done)} images): {json.dumps(summary["metrics"])}. Summary: {path}')
    raise_failures(dataset, len(done), failed, metrics.failures, path)
    return summary

