"""The demo with published weights (``demo.py --weights DIR``): the files it looks for and the nets they make.

Panini-Net: the authors' released files (``panini_mfr_latest.pth``, ``panini_sr_latest.pth``; converted
in memory, the sizes read from the file) or ``panini-convert`` outputs (``panini_mfr_official.pth``,
``panini_sr_official.pth``; the sizes of ``options/test_panini_{fr,sr16}_official.yml``). Other methods,
each built from its test options file: GFPGAN v1.3 / v1.4 (``GFPGANv1.3.pth``, ``GFPGANv1.4.pth``;
``GFPGANv1Clean`` needs the optional ``gfpgan`` package) and GPEN (``GPEN-BFR-512.pth``).
"""
import os

from panini_arch.archs.presets import build_generator, read_network_g
from panini_arch.utils.safe_load import load_options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# file name -> (column title, test options file); a task's files in order of preference
PANINI_FILES = {
    'panini_mfr_latest.pth': ('Panini-Net FR', 'options/test_panini_fr_official.yml'),
    'panini_mfr_official.pth': ('Panini-Net FR', 'options/test_panini_fr_official.yml'),
    'panini_sr_latest.pth': ('Panini-Net SR16', 'options/test_panini_sr16_official.yml'),
    'panini_sr_official.pth': ('Panini-Net SR16', 'options/test_panini_sr16_official.yml'),
}
OTHER_FILES = {
    'GFPGANv1.4.pth': ('GFPGAN v1.4', 'options/test_gfpgan_v1.4.yml'),
    'GFPGANv1.3.pth': ('GFPGAN v1.3', 'options/test_gfpgan_v1.3.yml'),
    'GPEN-BFR-512.pth': ('GPEN-BFR-512', 'options/test_gpen_bfr_512.yml'),
}


def find_weights(folder):
    """``{file name: path}`` of the known files in ``folder``; FileNotFoundError naming them when none is."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'--weights {folder} is not a folder')
    found = {name: os.path.join(folder, name) for name in (*PANINI_FILES, *OTHER_FILES)
             if os.path.isfile(os.path.join(folder, name))}
    if not any(name in PANINI_FILES for name in found):
        raise FileNotFoundError(f'--weights {folder} holds no Panini-Net file; expected one of {sorted(PANINI_FILES)} '
                                '(the authors\' released files or panini-convert outputs, see README '
                                '"Use the authors\' weights"), optionally with ' + ', '.join(OTHER_FILES))
    return found


def test_options(name):
    """The test options (a dict) the known file ``name`` is used with."""
    table = PANINI_FILES if name in PANINI_FILES else OTHER_FILES
    return load_options(os.path.join(REPO, table[name][1]))


def load_panini(path):
    """A PaniniNet (eval, CPU) from a released file, converted in memory with the sizes the file has, or
    from a panini-convert output with the sizes of its official test options."""
    network_opt = read_network_g(os.path.join(REPO, PANINI_FILES[os.path.basename(path)][1]))
    return build_generator(network_opt, path, 'params_ema')


def load_methods(found):
    """The nets of the files found: (Panini-Nets, other methods, lines saying which file made which column).

    Returns:
        tuple: ``{title: PaniniNet}`` (at most one per task, the released file first),
        ``{title: (net, input size, forward kwargs)}`` for GFPGAN/GPEN, and ``list[str]``. A GFPGAN
        file without the ``gfpgan`` package is left out with a line saying why.
    """
    panini, others, lines = {}, {}, []
    for name, path in found.items():
        if name in PANINI_FILES:
            title = PANINI_FILES[name][0]
            if title in panini:
                lines.append(f'{name}: not used ({title} comes from another file)')
                continue
            panini[title] = load_panini(path)
            net = panini[title]
            lines.append(f'{title}: {path} ({net.in_size} -> {net.out_size})')
            continue
        title = OTHER_FILES[name][0]
        opt = test_options(name)
        try:
            net = build_generator(opt['network_g'], path, (opt.get('path') or {}).get('param_key_g'))
        except ImportError as error:
            lines.append(f'{title}: {path} not used: {error}')
            continue
        val = opt.get('val') or {}
        others[title] = (net, val['input_size'], dict(val.get('forward_kwargs') or {}))
        lines.append(f'{title}: {path} ({opt["network_g"]["type"]}, input {val["input_size"]})')
    return panini, others, lines
