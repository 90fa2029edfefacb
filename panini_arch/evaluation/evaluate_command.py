"""``panini-eval`` (``scripts/evaluate_outputs.py``): score a folder of restored faces made by any method.

    panini-eval --restored DIR [--gt DIR] --name NAME [--opt options/test_X.yml]

Files are matched by name stem (``0001.png`` restored <-> ``0001.jpg`` GT); unmatched files are
listed and not scored. Restored images are resized to the GT size as in the resize policy
(docs/evaluation.md). Without ``--gt`` the folder is a real-world set: no-reference metrics (NIQE,
FID with ``reference_stats``) are computed and full-reference ones are listed as needing GT.
Writes ``results/NAME/metrics_<dataset>.json``, the file ``scripts/test.py`` writes, so
``panini-compare results/NAME ...`` tables it beside the harness's runs. ``--opt`` takes the
metrics (``val.metrics``) and the dataset name from a test options file; without it PSNR and SSIM
are computed (NIQE without ``--gt``). An unreadable image is skipped and listed (``failed`` in the
JSON); the command then exits with status 1 after writing the summary of the others.
"""
import argparse
import os
import sys

from ..models.face_test_model import EvaluationFailures
from ..utils.safe_load import load_options
from .external import evaluate_outputs


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def options_dataset(opt, folder):
    """Dataset name from test options: the only one, else the one named like ``folder`` (None: ``folder``'s name)."""
    names = [dataset.get('name') for dataset in (opt.get('datasets') or {}).values() if isinstance(dataset, dict)]
    if len(names) == 1:
        return names[0]
    folder_name = os.path.basename(os.path.normpath(folder))
    return folder_name if folder_name in names else None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='panini-eval', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--restored', required=True, help='folder of restored images')
    parser.add_argument('--gt', help='folder of ground-truth images (none: a real-world set without GT)')
    parser.add_argument('--name', required=True, help='run name: results/NAME/')
    parser.add_argument('--opt', help='test options file whose val.metrics and dataset name are used')
    parser.add_argument('--dataset', help="dataset name (default: --opt's dataset, or the one of its datasets "
                                          "named like the GT (or restored) folder; else that folder's name)")
    parser.add_argument('--method', help='label in the comparison table (default: NAME)')
    parser.add_argument('--results_root', default='results', help='folder that receives NAME/')
    parser.add_argument('--batch_size', type=_positive_int, default=8, help='images handed to the metrics at once')
    return parser.parse_args(argv)


def main(argv=None):
    """Parse ``argv`` (default ``sys.argv[1:]``), score, write the summary; exit 1 on failures."""
    args = parse_args(argv)
    metric_opts, dataset = None, args.dataset
    if args.opt:
        opt = load_options(args.opt)
        metric_opts = (opt.get('val') or {}).get('metrics')
        dataset = dataset or options_dataset(opt, args.gt or args.restored)
    try:
        evaluate_outputs(args.restored, args.gt, args.name, args.results_root, metric_opts, dataset, args.method,
                         batch_size=args.batch_size)
    except (FileNotFoundError, OSError, ValueError, EvaluationFailures) as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)
