"""Comparison report: collect ``metrics_<dataset>.json`` summaries into one table and an image grid."""
import csv
import glob
import json
import os

import cv2
import numpy as np

from ..utils.image_io import read_photo
from .published import published

NOT_COMPUTED = 'not computed'


def load_runs(paths):
    """Read run summaries from results folders (every ``metrics_*.json`` inside) or JSON files.

    Returns:
        list[dict]: summaries written by ``FaceTestModel``, in the given order.

    Raises:
        FileNotFoundError: a path holds no summary.
    """
    runs = []
    for path in paths:
        files = [path] if os.path.isfile(path) else sorted(glob.glob(os.path.join(path, 'metrics_*.json')))
        if not files:
            raise FileNotFoundError(f'No metrics_*.json in {path}: run scripts/test.py -opt <options> first.')
        for file in files:
            with open(file, encoding='utf-8') as f:
                runs.append(_resolve_folders(json.load(f), file))
    return runs


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


def comparison_table(runs):
    """Rows of the comparison table (list of dicts, same keys), paper numbers beside ours.

    Columns: method, dataset, images, then per metric ``<metric>`` and, when the paper
    reports it for some run, ``<metric> (paper)``; then images/s, device and notes.
    """
    metrics = []
    for run in runs:
        metrics += [name for name in run['metrics'] if name not in metrics]
    rows = []
    for run in runs:
        row = {'method': run['method'], 'dataset': run['dataset'], 'images': run['num_images']}
        notes = ['RANDOM WEIGHTS (test only)'] if run.get('random_weights') else []
        for name in metrics:
            result = run['metrics'].get(name, {'value': None})
            row[name] = format_value(result['value'])
            if (result.get('details') or {}).get('small_sample'):
                notes.append(f'{name}: small-sample (N={result["details"]["num_images"]}), biased')
            if any(published(r.get('paper'), name) is not None for r in runs):
                paper_value = published(run.get('paper'), name)
                row[f'{name} (paper)'] = '-' if paper_value is None else format_value(paper_value)
        speed = run.get('images_per_second')
        row['images/s'] = 'n/a' if speed is None else f'{speed:.3f}'  # None: restored elsewhere
        row['device'] = run['device']
        row['notes'] = '; '.join(notes)
        rows.append(row)
    return rows


def not_computed_reasons(runs):
    """Unique 'not computed' reasons, as '<method> <metric>: reason' lines."""
    reasons = []
    for run in runs:
        for name, result in run['metrics'].items():
            if result.get('not_computed'):
                reasons.append(f'{run["method"]} / {name}: {result["not_computed"]}')
    return reasons


def write_markdown(rows, reasons, path):
    """Write the table (and the reasons for skipped metrics) as Markdown."""
    header = list(rows[0])
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(row[k]) for k in header) + ' |' for row in rows]
    lines.append('\nPaper: Panini-Net (AAAI 2022), CelebA-HQ 1000 test images; "-" = not reported there.')
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
    """Save a grid, one row per face: LQ | each run's result | GT (LQ and GT from the first run's folders).

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
        columns = [(f'LQ {stem}', first['lq_folder'])] + [(run['method'], run['results_folder']) for run in runs]
        columns.append(('GT', first['gt_folder']))
        rows.append([(label, read_photo(find_image(folder, stem))[0]) for label, folder in columns])
    grid = tile_grid(rows, cell)
    cv2.imwrite(path, grid)
    return grid
