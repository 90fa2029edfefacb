"""Time the conversion of a released-size Panini-FR checkpoint, and panini-restore on one aligned face.

Builds, in a temporary folder, a file in the layout of the authors' ``panini_mfr_latest.pth``
(about 1.5 GB): the generator and discriminator from the key lists in ``tests/fixtures/official``,
a VGG16-sized ``perceptual_loss.*`` part, and Adam state (``exp_avg``, ``exp_avg_sq``) for every
generator and discriminator parameter, as MMEditing saves it. Random weights.

Each measurement runs in its own child process (peak RSS = the child's ``VmHWM``, imports included):

- ``torch.load`` of the whole file without mmap (the peer: what reading the file costs naively);
- ``panini-convert`` of the file (mmap load, key map, checks, atomic writes of G and D);
- with ``--restore``: ``panini-restore --aligned`` on one 512x512 face with the converted file, and
  with the released-layout file itself (converted in memory).

    python scripts/benchmarks/bench_convert.py --threads 2 --restore
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEYS = os.path.join(REPO, 'tests', 'fixtures', 'official')
VGG16_FEATURES_22 = [(64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (256, 256), (512, 256),
                     (512, 512), (512, 512)]


def make_file(path):
    """Write a released-layout Panini-FR checkpoint to ``path``; returns its size in bytes."""
    import torch
    state, optimizer = {}, {}
    for part in ('mfr', 'discriminator'):
        with open(os.path.join(KEYS, f'official_{part}_keys.json'), encoding='utf-8') as f:
            shapes = json.load(f)
        for key, shape in shapes.items():
            if key.endswith('num_batches_tracked'):
                state[key] = torch.tensor(0)
            elif key.endswith('.kernel'):
                blur = torch.tensor([1., 3., 3., 1.])
                factor = 4 if key.startswith('generator.') else 1
                state[key] = factor * torch.outer(blur, blur) / 64
            elif key.endswith('running_var'):
                state[key] = torch.rand(shape) + 0.5
            else:
                state[key] = torch.randn(shape) * 0.05
        learned = [key for key in shapes if 'injected_noise' not in key and not key.endswith(
            ('kernel', 'running_mean', 'running_var', 'num_batches_tracked'))]
        name = 'generator' if part == 'mfr' else 'discriminator'
        optimizer[name] = {
            'state': {i: {'step': torch.tensor(800000.), 'exp_avg': torch.randn(shapes[k]) * 1e-4,
                          'exp_avg_sq': torch.rand(shapes[k]) * 1e-8} for i, k in enumerate(learned)},
            'param_groups': [{'lr': 1e-7, 'betas': (0.9, 0.99), 'eps': 1e-8, 'weight_decay': 0,
                              'amsgrad': False, 'params': list(range(len(learned)))}]}
    for i, (out_ch, in_ch) in enumerate(VGG16_FEATURES_22):
        state[f'perceptual_loss.vgg.{i}.weight'] = torch.randn(out_ch, in_ch, 3, 3) * 0.01
        state[f'perceptual_loss.vgg.{i}.bias'] = torch.zeros(out_ch)
    meta = {'mmedit_version': '0.14.0', 'exp_name': 'panini_mfr', 'epoch': 1, 'iter': 800000,
            'config': 'model = dict(type="Panini")', 'seed': 0}
    torch.save({'meta': meta, 'state_dict': state, 'optimizer': optimizer}, path)
    return os.path.getsize(path)


def child(code, threads):
    """Run ``code`` in a fresh Python (Linux); returns (seconds of ``code``, peak RSS MiB, stdout)."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
    program = (f'import torch, time; torch.set_num_threads({threads}); start = time.perf_counter()\n'
               f'{code}\n'
               'hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0]\n'
               'print("@@", time.perf_counter() - start, hwm)')
    done = subprocess.run([sys.executable, '-c', program], capture_output=True, text=True, check=True, cwd=REPO)
    line = [row for row in done.stdout.splitlines() if row.startswith('@@')][-1]
    _, seconds, rss_kib = line.split()
    return float(seconds), float(rss_kib) / 1024, done.stdout


def restore_child(model_path, face, out, threads):
    """Wall time and peak RSS (MiB) of ``panini-restore --aligned`` on ``face`` in a fresh process."""
    argv = ['-i', face, '-o', out, '--aligned', '--model_path', model_path, '--device', 'cpu']
    seconds, rss, _ = child(f'from panini_arch.inference import main\nmain({argv!r})', threads)
    return seconds, rss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--restore', action='store_true', help='also time panini-restore on one aligned face')
    parser.add_argument('--workdir', help='keep the files here instead of a temporary folder')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or tmp
        os.makedirs(work, exist_ok=True)
        official = os.path.join(work, 'panini_mfr_latest.pth')
        converted = os.path.join(work, 'panini_mfr_official.pth')
        size = make_file(official)
        print(f'released-layout file: {size / 2**30:.2f} GiB ({official})')
        load_s, load_rss, _ = child(f'torch.load({official!r}, map_location="cpu", weights_only=True)', args.threads)
        conv_s, conv_rss, out = child(
            'from panini_arch.convert import run\n'
            f'run({official!r}, {converted!r}, {os.path.join(work, "panini_mfr_official_d.pth")!r})', args.threads)
        print(out.split('@@')[0].rstrip())
        print(f'torch.load (whole file, no mmap): {load_s:.2f} s, peak RSS {load_rss:.0f} MiB')
        print(f'panini-convert: {conv_s:.2f} s ({conv_s / load_s:.2f}x the plain load), peak RSS {conv_rss:.0f} MiB '
              f'({conv_rss / load_rss:.2f}x)')
        if args.restore:
            import cv2
            face = os.path.join(work, 'face.png')
            cv2.imwrite(face, cv2.resize(cv2.imread(os.path.join(REPO, 'data', 'faces_tiny', '0000.png')), (512, 512),
                                         interpolation=cv2.INTER_CUBIC))
            conv_restore = restore_child(converted, face, os.path.join(work, 'out_converted'), args.threads)
            direct_restore = restore_child(official, face, os.path.join(work, 'out_direct'), args.threads)
            print(f'panini-restore, one aligned 512 face, converted file: {conv_restore[0]:.2f} s, '
                  f'peak RSS {conv_restore[1]:.0f} MiB')
            print(f'panini-restore, same face, the released-layout file directly: {direct_restore[0]:.2f} s '
                  f'({direct_restore[0] / conv_restore[0]:.2f}x), peak RSS {direct_restore[1]:.0f} MiB '
                  f'({direct_restore[1] / conv_restore[1]:.2f}x)')


if __name__ == '__main__':
    main()
