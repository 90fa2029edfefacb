"""Comparison report: collect ``metrics_<dataset>.json`` summaries into tables and an image grid.

Runs with ground truth form the main table, its metric columns in GFP-GAN's CelebA-Test order
(:data:`COLUMN_ORDER`, then any others); runs without ground truth (real-world sets: the summary's
``gt_folder`` is null) form the real-world table, FID and NIQE per set. Published rows
(:mod:`.published`) stand beside ours where the paper reports the dataset.
"""
import csv
import glob
import json
import os

import cv2
import numpy as np

from ..utils.image_io import read_photo
from .published import DATASET_RESULTS, REAL_WORLD, published

NOT_COMPUTED = 'not computed'
NEEDS_GT = 'needs GT'
COLUMN_ORDER = ('lpips', 'fid', 'niqe', 'deg', 'lmd', 'psnr', 'ssim')  # GFP-GAN's Table 1
REAL_WORLD_METRICS = (('fid', 'FID'), ('niqe', 'NIQE'))
REAL_WORLD_ORDER = ('LFW-Test', 'CelebChild-Test', 'WebPhoto-Test', 'WIDER-Test')
SUMMARY_KEYS = {'method': str, 'dataset': str, 'num_images': int, 'metrics': dict}


class SummaryError(ValueError):
    """A file that is not a run summary (not JSON, or without the fields the report reads)."""


def read_summary(file):
    """One run summary, its folders made absolute; :class:`SummaryError` naming ``file`` when malformed."""
    try:
        with open(file, encoding='utf-8') as f:
            run = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SummaryError(f'{file}: not a metrics summary (malformed JSON: {error})') from error
    if not isinstance(run, dict):
        raise SummaryError(f'{file}: not a metrics summary (a JSON {type(run).__name__}, not an object)')
    for key, kind in SUMMARY_KEYS.items():
        if not isinstance(run.get(key), kind):
            raise SummaryError(f'{file}: not a metrics summary (field {key!r} missing or not a {kind.__name__})')
    for name, result in run['metrics'].items():
        if not isinstance(result, dict) or 'value' not in result:
            raise SummaryError(f'{file}: not a metrics summary (metric {name!r} has no value)')
    return _resolve_folders(run, file)


def load_runs(paths):
    """Read run summaries from results folders (every ``metrics_*.json`` inside) or JSON files.

    Returns:
        tuple[list[dict], list[str]]: summaries written by ``FaceTestModel`` or ``evaluate_outputs``, in the
        given order, and one message per file that could not be read (naming it), which is skipped.

    Raises:
        FileNotFoundError: a path holds no summary.
    """
    runs, problems = [], []
    for path in paths:
        files = [path] if os.path.isfile(path) else sorted(glob.glob(os.path.join(glob.escape(path), 'metrics_*.json')))
        if not files:
            raise FileNotFoundError(f'No metrics_*.json in {path}: run scripts/test.py -opt <options> first.')
        for file in files:
            try:
                runs.append(read_summary(file))
            except (OSError, SummaryError) as error:
                problems.append(str(error))
    return runs, problems


def _resolve_folders(run, summary_path):
    """Relative folders of older summaries are relative to where scripts/test.py ran: two levels above
    ``results/<name>/metrics_*.json``; make them absolute so the report works from any folder."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(summary_path))))
    for key in ('lq_folder', 'gt_folder', 'results_folder'):
        if run.get(key) and not os.path.isabs(run[key]):
            run[key] = os.path.join(root, run[key])
    return run


def _few(names, shown=5):
    return ', '.join(names[:shown]) + (' ...' if len(names) > shown else '') if names else 'none'


def image_set_warnings(runs):
    """Warnings when the runs were not measured on the same images (their numbers are then not comparable)."""
    warnings = []
    first = runs[0]
    for run in runs[1:]:
        label = f"{run['method']} ({run['dataset']})"
        if 'images' in run and 'images' in first:
            ours, theirs = set(first['images']), set(run['images'])
            if ours != theirs:
                missing, extra = sorted(ours - theirs), sorted(theirs - ours)
                warnings.append(f"{label} covers other images than {first['method']}: {len(run['images'])} vs "
                                f"{len(first['images'])} images; missing {_few(missing)}, extra {_few(extra)}")
        elif run['num_images'] != first['num_images'] or run.get('gt_folder') != first.get('gt_folder'):
            warnings.append(f"{label} covers other images than {first['method']}: {run['num_images']} images of "
                            f"{run.get('gt_folder')} vs {first['num_images']} of {first.get('gt_folder')}")
    return warnings


def format_value(value):
    """Metric value as table text: 4 significant decimals, or 'not computed'."""
    if value is None:
        return NOT_COMPUTED
    return f'{value:.4f}' if abs(value) < 10 else f'{value:.2f}'


def format_result(result):
    """A metric's result dict as table text: its value, 'needs GT' or 'not computed'."""
    return NEEDS_GT if result.get('needs_gt') else format_value(result['value'])


def has_gt(run):
    """False for a run on a real-world set (no ground truth); older summaries always had GT."""
    return run.get('gt_folder', '') is not None


def metric_columns(runs):
    """Metric names of ``runs``: those of :data:`COLUMN_ORDER` first in its order, then the others as met."""
    names = []
    for run in runs:
        names += [name for name in run['metrics'] if name not in names]
    known = [name for name in COLUMN_ORDER if name in names]
    return known + [name for name in names if name not in known]


def comparison_table(runs):
    """Rows of the table of runs with GT (list of dicts, same keys), published numbers beside ours.

    Columns: method, dataset, images, then per metric (GFP-GAN's order first) ``<metric>`` and, when
    the Panini-Net paper reports it for some run, ``<metric> (paper)``; then images/s, device and notes.
    Rows of :data:`DATASET_RESULTS` follow for the datasets the paper reports (GFP-GAN's CelebA-Test).
    """
    metrics = metric_columns(runs)
    rows = []
    for run in runs:
        row = {'method': run['method'], 'dataset': run['dataset'], 'images': run['num_images']}
        notes = ['RANDOM WEIGHTS (test only)'] if run.get('random_weights') else []
        for name in metrics:
            result = run['metrics'].get(name, {'value': None})
            row[name] = format_result(result)
            if (result.get('details') or {}).get('small_sample'):
                notes.append(f'{name}: small-sample (N={result["details"]["num_images"]}), biased')
            if any(published(r.get('paper'), name) is not None for r in runs):
                paper_value = published(run.get('paper'), name)
                row[f'{name} (paper)'] = '-' if paper_value is None else format_value(paper_value)
        speed = run.get('images_per_second')
        row['images/s'] = 'n/a' if speed is None else f'{speed:.3f}'  # None: restored elsewhere
        row['device'] = run.get('device', 'n/a')
        row['notes'] = '; '.join(notes)
        rows.append(row)
    for dataset in dict.fromkeys(run['dataset'] for run in runs):
        for label, values in DATASET_RESULTS.get(dataset, {}).items():
            row = {key: '-' for key in rows[0]}
            row.update(method=label, dataset=dataset, notes='published')
            row.update({name: format_value(values[name]) for name in metrics if name in values})
            rows.append(row)
    return rows


def real_world_table(runs):
    """Rows of the real-world table (runs without GT): method, then ``<set> FID`` and ``<set> NIQE`` per set.

    One row per method (the runs of one method on several sets share it); :data:`REAL_WORLD`'s published
    rows follow. A set a method was not run on reads '-'.
    """
    found = list(dict.fromkeys(run['dataset'] for run in runs))
    sets = [name for name in REAL_WORLD_ORDER if name in found] + [name for name in found if name not in
                                                                   REAL_WORLD_ORDER]
    columns = [(dataset, metric, f'{dataset} {label}') for dataset in sets for metric, label in REAL_WORLD_METRICS]
    by_method = {}
    for run in runs:
        row = by_method.setdefault(run['method'], {'method': run['method'], **{column: '-' for *_, column in columns}})
        for dataset, metric, column in columns:
            if dataset == run['dataset'] and metric in run['metrics']:
                row[column] = format_result(run['metrics'][metric])
    rows = list(by_method.values())
    for label, values in REAL_WORLD.items():
        if any(dataset in values for dataset in sets):
            rows.append({'method': label, **{column: format_value(values[dataset][metric])
                                             if metric in values.get(dataset, {}) else '-'
                                             for dataset, metric, column in columns}})
    return rows


def not_computed_reasons(runs):
    """Unique 'not computed' reasons, as '<method> <metric>: reason' lines."""
    reasons = []
    for run in runs:
        for name, result in run['metrics'].items():
            if result.get('not_computed'):
                reasons.append(f'{run["method"]} / {name}: {result["not_computed"]}')
    return reasons


def markdown_table(rows):
    """Rows (dicts with the same keys) as Markdown table lines."""
    header = list(rows[0])
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return lines + ['| ' + ' | '.join(str(row[k]) for k in header) + ' |' for row in rows]


def write_markdown(rows, reasons, path, real_world_rows=None):
    """Write the table of runs with GT, the real-world table and the reasons for skipped metrics as Markdown."""
    lines = []
    if rows:
        lines += markdown_table(rows)
        lines.append('\nPaper: Panini-Net (AAAI 2022), CelebA-HQ 1000 test images; "-" = not reported there.')
        if any(row['notes'] == 'published' for row in rows):
            lines.append('Published rows: GFP-GAN (CVPR 2021), Table 1, CelebA-Test (3000 faces).')
    if real_world_rows:
        lines += ['', '## Real-world sets (no ground truth): FID against FFHQ statistics, NIQE', '']
        lines += markdown_table(real_world_rows)
        if any(row['method'] in REAL_WORLD for row in real_world_rows):
            lines.append('\nPublished rows: GFP-GAN (CVPR 2021), Table 2; "-" = not reported there.')
    if reasons:
        lines += ['', 'Not computed:', ''] + [f'- {reason}' for reason in reasons]
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')


def write_csv(rows, path):
    """Write the table as CSV."""
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def find_image(folder, stem):
    """Path of ``<stem>.*`` in ``folder``; FileNotFoundError naming both when absent."""
    matches = sorted(glob.glob(os.path.join(glob.escape(folder), f'{glob.escape(stem)}.*')))
    if not matches:
        raise FileNotFoundError(f'No image named {stem}.* in {folder}')
    return matches[0]


def labelled_tile(img, label, cell):
    """Resize a BGR image to cell x cell (bicubic) and put ``label`` above it; (cell + 24, cell, 3) uint8."""
    tile = cv2.resize(img, (cell, cell), interpolation=cv2.INTER_CUBIC)
    banner = np.full((24, cell, 3), 255, np.uint8)
    cv2.putText(banner, label[:cell // 8], (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([banner, tile])


def tile_grid(rows, cell=256):
    """Assemble rows of (label, BGR image) into one labelled grid (BGR uint8); images are resized to cell x cell."""
    return np.concatenate([np.concatenate([labelled_tile(img, label, cell) for label, img in row], axis=1)
                           for row in rows])


def image_grid(runs, stems, path, cell=256):
    """Save a grid, one row per face: LQ | each run's result | GT (LQ and GT from the first run's folders,
    each left out when that run has none: restored elsewhere, or a set without GT).

    Args:
        runs (list[dict]): summaries with ``results_folder`` (runs saved with ``save_img``).
        stems (list[str]): image names without extension.
        path (str): output PNG.
        cell (int): side of each tile in pixels.

    Returns:
        ndarray: the grid, BGR uint8.
    """
    first = runs[0]
    rows = []
    for stem in stems:
        columns = [(f'LQ {stem}', first['lq_folder'])] if first.get('lq_folder') else []
        columns += [(run['method'], run['results_folder']) for run in runs]
        columns += [('GT', first['gt_folder'])] if first.get('gt_folder') else []
        rows.append([(label, read_photo(find_image(folder, stem))[0]) for label, folder in columns])
    grid = tile_grid(rows, cell)
    cv2.imwrite(path, grid)
    return grid
