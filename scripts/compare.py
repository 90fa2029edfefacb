"""Collect test runs into one comparison table (Markdown + CSV) and an image grid.

    python scripts/compare.py results/test_panini_fr results/test_gpen_bfr_512 results/test_gfpgan_v1.3 \
        --out results/comparison_mfr --faces 0000 0001 0002

Writes ``comparison.md``, ``comparison.csv`` and ``grid.png`` (LQ | each method | GT)
into ``--out``; the paper's numbers (Tables 1-3) stand beside ours and metrics that
could not be computed read "not computed" with the reason below the table. Runs measured
on different images are put side by side with a warning (printed and in the table file).
Works from any folder (the summaries' folders are resolved).
"""
import argparse
import os
import sys

from panini_arch.evaluation.report import (comparison_table, image_grid, image_set_warnings, load_runs,
                                           not_computed_reasons, write_csv, write_markdown)
from panini_arch.utils.image_io import list_images


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', help='results folders of scripts/test.py runs, or metrics_*.json files')
    parser.add_argument('--out', default='results/comparison', help='output folder')
    parser.add_argument('--faces', nargs='*', help='image names (no extension) for the grid; default: first 4')
    parser.add_argument('--num_faces', type=int, default=4, help='faces in the grid when --faces is not given')
    parser.add_argument('--cell', type=int, default=256, help='tile size of the grid in pixels')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    runs = load_runs(args.runs)
    os.makedirs(args.out, exist_ok=True)
    rows = comparison_table(runs)
    markdown = os.path.join(args.out, 'comparison.md')
    write_markdown(rows, not_computed_reasons(runs), markdown)
    warnings = image_set_warnings(runs)
    if warnings:
        with open(markdown, 'a', encoding='utf-8') as f:
            f.write('\n' + ''.join(f'**Warning**: {w}\n\n' for w in warnings))
        for warning in warnings:
            print(f'WARNING: {warning}', file=sys.stderr)
    write_csv(rows, os.path.join(args.out, 'comparison.csv'))
    with_images = [run for run in runs if run.get('results_folder')]
    if with_images:
        names = [os.path.splitext(os.path.basename(f))[0] for f in list_images(with_images[0]['results_folder'])]
        image_grid(with_images, args.faces or names[:args.num_faces], os.path.join(args.out, 'grid.png'), args.cell)
    print(open(os.path.join(args.out, 'comparison.md'), encoding='utf-8').read())
    print(f'Wrote {args.out}/comparison.md, comparison.csv' + (', grid.png' if with_images else ''))


if __name__ == '__main__':
    main()
