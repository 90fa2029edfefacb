"""One-command offline demo: real faces -> UDRL-pretrained DRE -> tiny Panini-Net -> HTML report.

    python scripts/demo.py                 # full demo, about 6 minutes on 2 CPU cores
    python scripts/demo.py --quick         # CI smoke run, a minute or two
    python scripts/demo.py --hq_dir faces  # your own aligned HQ faces instead of the shipped ones
    python scripts/demo.py --weights DIR   # no training: the published weights found in DIR

Nothing is downloaded: the faces ship with scikit-image and matplotlib, and every
network starts from random weights (a tiny 64 -> 128 Panini-FR), so the result
shows the method working end to end, not published-quality restoration.

With ``--weights DIR`` nothing is trained: the authors' Panini-Net files in DIR (see
``demo_weights.py`` for the names) restore the shipped faces, give Table 4's theta curve,
Fig. 7 and a prior-weight sweep, with GFPGAN and GPEN beside them when their files are there.
"""
import argparse
import os
import re
import time
from collections import OrderedDict

from demo_evaluate import fusion_examples, load_trained, method_columns, prior_sweep, restoration_table, theta_curve
from demo_faces import build_face_set, shipped_faces, user_face_set
from demo_report import plot_curves, theta_plot, write_report
from demo_training import count_images, panini_options, run_training, udrl_options
from demo_weights import find_weights, load_methods

RANGE_KEYS = ('downsample_range', 'blur_sigma', 'noise_range', 'jpeg_range')
THETA_FIXED = {'sigma': 0.5, 'delta': 10, 'q': 40}  # Table 4 holds sigma, delta, q fixed and varies r
MODES = {
    'full': dict(copies=8, test_lfw=12, udrl_iters=150, udrl_batch=16, udrl_val_degradations=32, panini_iters=1200,
                 batch_size=2, val_times=5, fusion_faces=4),
    'quick': dict(copies=1, test_lfw=3, udrl_iters=3, udrl_batch=8, udrl_val_degradations=4, panini_iters=3,
                  batch_size=1, val_times=1, fusion_faces=2),
}
# The templates' r in [1.25, 25] at 128 px (the paper's [10, 200] at 1024) leaves most faces at 5-15
# pixels, which a net trained for minutes on ~100 faces cannot restore; Panini-Net in the demo keeps
# the paper's r in [10, 64] (LQ faces of 16-102 px) with its full blur, noise and JPEG ranges. The DRE
# is pre-trained as in the tiny UDRL options (16x16 inputs, full range): on 32x32 inputs and the
# milder range 150-400 steps left its degradation retrieval at chance.
DEMO_RANGES = {'downsample_range': [1.25, 8]}
PANINI_LR = 2e-3  # the paper's 1e-4 is for 800k iterations; a few hundred need a larger step
PAPER_DOWNSAMPLE = (10, 200)  # Eq. 10's r for 1024-pixel faces, scaled to the net's output size
WEIGHTS_MODES = {'full': dict(num_lfw=4, fusion_faces=3), 'quick': dict(num_lfw=1, fusion_faces=2)}


def parse_args(argv=None):
    """Parse the command line (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-o', '--output', default='demo_output', help='output folder (report: index.html)')
    parser.add_argument('--quick', action='store_true', help='a minute-or-two smoke run (CI)')
    parser.add_argument('--hq_dir', help='folder of aligned HQ faces to use instead of the shipped real faces')
    parser.add_argument('--udrl_iters', type=int, help='DRE pre-training iterations (default by mode)')
    parser.add_argument('--panini_iters', type=int, help='Panini-Net training iterations (default by mode)')
    parser.add_argument('--weights', help='folder of published weights: no training, the authors\' Panini-Net '
                        '(and GFPGAN / GPEN when found) on the shipped faces')
    parser.add_argument('--biases', type=float, nargs='+', default=[-4, -2, 0, 2, 4],
                        help='--weights: DAFI mask_bias values of the prior-weight sweep')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.weights and (args.hq_dir or args.udrl_iters or args.panini_iters):
        parser.error('--weights trains nothing: it takes no --hq_dir, --udrl_iters or --panini_iters')
    return args


class Stages:
    """Time named stages and print each as it finishes."""

    def __init__(self):
        self.seconds = OrderedDict()

    def run(self, name, func, *args, **kwargs):
        print(f'== {name} ...', flush=True)
        start = time.perf_counter()
        result = func(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - start
        print(f'== {name}: {self.seconds[name]:.1f} s', flush=True)
        return result


def main(argv=None):
    """Run every stage; returns the path of ``index.html``."""
    args = parse_args(argv)
    if args.weights:
        return demo_with_weights(args)
    mode = dict(MODES['quick' if args.quick else 'full'])
    mode.update({k: v for k, v in (('udrl_iters', args.udrl_iters), ('panini_iters', args.panini_iters)) if v})
    root = os.path.abspath(args.output)
    work = os.path.join(root, 'work')
    os.makedirs(work, exist_ok=True)
    stages = Stages()
    total_start = time.perf_counter()

    faces_dir = os.path.join(work, 'faces')
    if args.hq_dir:
        train_dir, test_dir = stages.run('faces', user_face_set, args.hq_dir, faces_dir, copies=max(mode['copies'], 1),
                                         seed=args.seed)
    else:
        train_dir, test_dir = stages.run('faces', build_face_set, faces_dir, copies=mode['copies'],
                                         test_lfw=mode['test_lfw'], seed=args.seed)

    udrl = udrl_options(train_dir, test_dir, mode['udrl_iters'], mode['udrl_batch'], mode['udrl_val_degradations'])
    udrl_run = stages.run('UDRL pre-training of the DRE', run_training, udrl, work)
    dre_path = udrl_run['models'] / 'net_dre_latest.pth'

    panini = panini_options(train_dir, test_dir, mode['panini_iters'], dre_path, udrl['datasets']['train']['in_size'],
                            PANINI_LR, mode['batch_size'], mode['val_times'], ranges=DEMO_RANGES)
    panini_run = stages.run('Panini-Net training', run_training, panini, work)

    net = load_trained(panini['network_g'], panini_run['models'] / 'net_g_latest.pth')
    ranges = {key: panini['datasets']['train'][key] for key in RANGE_KEYS}
    eval_dir = os.path.join(root, 'images')
    rows = stages.run('restoring held-out faces', restoration_table, net, test_dir, os.path.join(eval_dir, 'restore'),
                      ranges)
    theta = stages.run('theta vs r (Table 4)', theta_curve, net, test_dir, os.path.join(eval_dir, 'theta'),
                       THETA_FIXED)
    fusion = stages.run('Y / Y_IFE / Y_GPB (Fig. 7)', fusion_examples, net,
                        [row['lq'] for row in rows[:mode['fusion_faces']]], os.path.join(eval_dir, 'fusion'))

    psnr = sum(r['psnr'] for r in rows) / len(rows)
    psnr_bicubic = sum(r['psnr_bicubic'] for r in rows) / len(rows)
    summary = [
        f'faces: {count_images(train_dir)} training images, {len(rows)} held-out test faces '
        f'({"--hq_dir " + args.hq_dir if args.hq_dir else "astronaut, Grace Hopper, LFW subset"})',
        f'UDRL: {mode["udrl_iters"]} iterations; Panini-Net (tiny, 64 -> 128, random init): '
        f'{mode["panini_iters"]} iterations of batch {mode["batch_size"]}, lr {PANINI_LR:g}, L1 + GAN losses',
        f'Panini-Net degradations (training and test): Eq. 10 at {net.out_size} px, '
        + ', '.join(f'{key} {ranges[key]}' for key in RANGE_KEYS),
        f'mean PSNR on held-out faces: Panini-Net {psnr:.2f} dB vs bicubic {psnr_bicubic:.2f} dB '
        f'({psnr - psnr_bicubic:+.2f} dB)',
        'This is a tiny net trained for minutes on ~100 faces: it shows the pipeline, not published quality.',
    ]
    stages.seconds['total'] = time.perf_counter() - total_start
    curves_plot = plot_curves({'UDRL (DRE)': udrl_run, 'Panini-Net': panini_run},
                              os.path.join(eval_dir, 'training_curves.png'))
    theta_png = theta_plot(theta, os.path.join(eval_dir, 'theta.png'))
    report = write_report(root, summary, rows, fusion, theta, theta_png, curves_plot, stages.seconds)
    return finish(report, summary, stages)


def finish(report, summary, stages):
    """Print the summary, the time per stage and the report's path; returns the path."""
    print('\n'.join(summary))
    for name, seconds in stages.seconds.items():
        print(f'  {name:<32s} {seconds:7.1f} s')
    print(f'Report: {report}')
    return report


def column_key(title):
    """A method's title as a row key and folder name: 'GFPGAN v1.4' -> 'gfpgan_v1_4'."""
    return re.sub(r'[^a-z0-9]+', '_', title.lower()).strip('_')


def demo_with_weights(args):
    """``--weights``: the published nets on the shipped faces, no training; returns the path of ``index.html``."""
    mode = WEIGHTS_MODES['quick' if args.quick else 'full']
    root = os.path.abspath(args.output)
    eval_dir = os.path.join(root, 'images')
    stages = Stages()
    total_start = time.perf_counter()
    panini, others, weight_lines = stages.run('loading weights', load_methods, find_weights(args.weights))
    (title, net), *more_panini = panini.items()
    faces = stages.run('faces', shipped_faces, os.path.join(root, 'work', 'faces'), net.out_size, mode['num_lfw'])
    ranges = {'downsample_range': [r * net.out_size / 1024 for r in PAPER_DOWNSAMPLE]}
    restore_dir = os.path.join(eval_dir, 'restore')
    rows = stages.run(f'restoring the faces with {title}', restoration_table, net, faces, restore_dir, ranges,
                      seed=args.seed)
    titled = {other: (other_net, other_net.in_size, {}) for other, other_net in more_panini}
    titled.update(others)
    stages.run('the other methods', method_columns, rows, {column_key(t): m for t, m in titled.items()}, restore_dir)
    theta = stages.run('theta vs r (Table 4)', theta_curve, net, faces, os.path.join(eval_dir, 'theta'), THETA_FIXED,
                       seed=args.seed)
    lq_paths = [row['lq'] for row in rows[:mode['fusion_faces']]]
    fusion = stages.run('Y / Y_IFE / Y_GPB (Fig. 7)', fusion_examples, net, lq_paths, os.path.join(eval_dir, 'fusion'))
    biases = sorted(args.biases)
    sweep = stages.run('prior-weight sweep', prior_sweep, net, lq_paths, os.path.join(eval_dir, 'sweep'), biases)
    summary = [f'faces: {len(rows)} shipped faces (astronaut, Grace Hopper, LFW subset) aligned at {net.out_size} px, '
               f'degraded by Eq. 10 with r in {ranges["downsample_range"]} and the paper\'s blur, noise and JPEG '
               'ranges',
               f'Table 4, Fig. 7 and the prior-weight sweep: {title}',
               'which weights made each column:'] + weight_lines
    stages.seconds['total'] = time.perf_counter() - total_start
    columns = {'bicubic': 'bicubic', 'restored': title, **{column_key(t): t for t in titled}}
    report = write_report(root, summary, rows, fusion, theta, theta_plot(theta, os.path.join(eval_dir, 'theta.png')),
                          None, stages.seconds, columns, (sweep, biases), 'panini-arch demo with published weights',
                          'Shipped faces')
    return finish(report, summary, stages)


if __name__ == '__main__':
    main()
