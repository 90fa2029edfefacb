"""Score a folder of restored faces made by any method with the harness's metrics.

    python scripts/evaluate_outputs.py --restored DIR --gt DIR --name NAME [--opt options/test_X.yml]

Files are matched by name stem (``0001.png`` restored <-> ``0001.jpg`` GT); unmatched files are
listed and not scored. Restored images are resized to the GT size as in the resize policy
(docs/evaluation.md). Writes ``results/NAME/metrics_<dataset>.json``, the file ``scripts/test.py``
writes, so ``scripts/compare.py results/NAME ...`` tables it beside the harness's runs. ``--opt``
takes the metrics (``val.metrics``) and the dataset name from a test options file; without it PSNR
and SSIM are computed. An unreadable image is skipped and listed (``failed`` in the JSON); the
script then exits with status 1 after writing the summary of the others.
"""
import argparse
import sys

from panini_arch.evaluation.external import evaluate_outputs
from panini_arch.models.face_test_model import EvaluationFailures
from panini_arch.utils.safe_load import load_options


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--restored', required=True, help='folder of restored images')
    parser.add_argument('--gt', required=True, help='folder of ground-truth images')
    parser.add_argument('--name', required=True, help='run name: results/NAME/')
    parser.add_argument('--opt', help='test options file whose val.metrics and dataset name are used')
    parser.add_argument('--dataset', help='dataset name (default: from --opt, else the GT folder name)')
    parser.add_argument('--method', help='label in the comparison table (default: NAME)')
    parser.add_argument('--results_root', default='results', help='folder that receives NAME/')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    metric_opts, dataset = None, args.dataset
    if args.opt:
        opt = load_options(args.opt)
        metric_opts = (opt.get('val') or {}).get('metrics')
        dataset = dataset or next(iter((opt.get('datasets') or {}).values()), {}).get('name')
    try:
        evaluate_outputs(args.restored, args.gt, args.name, args.results_root, metric_opts, dataset, args.method)
    except (FileNotFoundError, OSError, ValueError, EvaluationFailures) as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
