"""``panini-compare`` (``scripts/compare.py``): collect test runs into comparison tables and an image grid.

    panini-compare results/test_panini_fr results/test_gpen_bfr_512 results/test_gfpgan_v1.3 \
        --out results/comparison_mfr --faces 0000 0001 0002

Takes the summaries of ``scripts/test.py`` and ``panini-eval`` runs (results folders or
``metrics_*.json`` files). Writes into ``--out``: ``comparison.md`` and ``comparison.csv`` (runs
with ground truth, columns in GFP-GAN's CelebA-Test order: LPIPS, FID, NIQE, Deg, LMD, PSNR, SSIM,
then the others), ``realworld.csv`` (runs without ground truth: FID and NIQE per set; also in
``comparison.md``) and ``grid.png`` (LQ | each method | GT, from the first run's dataset). Published
numbers stand beside ours; metrics that could not be computed read "not computed" with the reason
below the table, full-reference metrics of sets without GT "needs GT". Runs of one dataset measured
on different images are put side by side with a warning. A file that is not a summary (malformed
JSON) is named and skipped; the command then exits with status 1 after writing the tables of the rest.
"""
import argparse
import os
import sys

from ..utils.image_io import list_images
from .report import (comparison_table, has_gt, image_grid, image_set_warnings, load_runs, not_computed_reasons,
                     real_world_table, write_csv, write_markdown)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='panini-compare', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', help='results folders of scripts/test.py or panini-eval runs, or '
                                                'metrics_*.json files')
    parser.add_argument('--out', default='results/comparison', help='output folder')
    parser.add_argument('--faces', nargs='*', help='image names (no extension) for the grid; default: first 4')
    parser.add_argument('--num_faces', type=int, default=4, help='faces in the grid when --faces is not given')
    parser.add_argument('--cell', type=int, default=256, help='tile size of the grid in pixels')
    return parser.parse_args(argv)


def dataset_warnings(runs):
    """:func:`image_set_warnings` within each dataset (runs of different datasets are not compared)."""
    warnings = []
    for dataset in dict.fromkeys(run['dataset'] for run in runs):
        warnings += image_set_warnings([run for run in runs if run['dataset'] == dataset])
    return warnings


def write_grid(runs, args):
    """``grid.png`` from the runs of the first saved run's dataset; returns whether one was written."""
    with_images = [run for run in runs if run.get('results_folder')]
    if not with_images:
        return False
    with_images = [run for run in with_images if run['dataset'] == with_images[0]['dataset']]
    names = [os.path.splitext(os.path.basename(f))[0] for f in list_images(with_images[0]['results_folder'])]
    image_grid(with_images, args.faces or names[:args.num_faces], os.path.join(args.out, 'grid.png'), args.cell)
    return True


def main(argv=None):
    """Parse ``argv`` (default ``sys.argv[1:]``), write the tables and the grid; exit 1 on unreadable summaries."""
    args = parse_args(argv)
    try:
        runs, problems = load_runs(args.runs)
    except FileNotFoundError as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)
    for problem in problems:
        print(f'error: skipped {problem}', file=sys.stderr)
    if not runs:
        print('error: no run summary could be read', file=sys.stderr)
        sys.exit(1)
    os.makedirs(args.out, exist_ok=True)
    rows = comparison_table([run for run in runs if has_gt(run)]) if any(map(has_gt, runs)) else []
    real_world = real_world_table([run for run in runs if not has_gt(run)])
    markdown = os.path.join(args.out, 'comparison.md')
    write_markdown(rows, not_computed_reasons(runs), markdown, real_world)
    warnings = dataset_warnings(runs)
    if warnings:
        with open(markdown, 'a', encoding='utf-8') as f:
            f.write('\n' + ''.join(f'**Warning**: {w}\n\n' for w in warnings))
        for warning in warnings:
            print(f'WARNING: {warning}', file=sys.stderr)
    written = ['comparison.md']
    for table, name in ((rows, 'comparison.csv'), (real_world, 'realworld.csv')):
        if table:
            write_csv(table, os.path.join(args.out, name))
            written.append(name)
    if write_grid(runs, args):
        written.append('grid.png')
    print(open(markdown, encoding='utf-8').read())
    print(f'Wrote {args.out}/' + ', '.join(written))
    if problems:
        sys.exit(1)
