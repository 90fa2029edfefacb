"""Command line: convert the authors' released checkpoints to BasicSR-layout files.

``panini-convert IN OUT [--discriminator OUT_D]`` (also ``python scripts/convert_official.py``).
The kind of IN is detected:

- ``panini_mfr_latest.pth`` / ``panini_sr_latest.pth`` -> OUT with ``params_ema`` and ``params``
  (a PaniniNet, for ``options/test_panini_{fr,sr16}_official.yml``); ``--discriminator`` also
  writes their StyleGAN2 discriminator (BasicSR ``StyleGAN2Discriminator``, key ``params``).
- ``moco_checkpoint_0199.pth.tar`` -> OUT in the layout of ``net_dre_<iter>.pth``: ``params`` is
  the bare DRE (``network_g.dre_path``), ``params_with_head`` the DRE with its MoCo head
  (UDRL's ``path.pretrain_network_g`` with ``param_key_g: params_with_head``).
- MMEditing's StyleGAN2 FFHQ file -> OUT, BasicSR's generator (``params_ema``), and with
  ``--discriminator`` the discriminator (``params``).

Files are written atomically (temporary file, then rename); an input is never overwritten.
"""
import argparse
import os
import sys

from .archs.arch_util import read_weights_file
from .archs.official_convert import KIND_NAMES, OfficialCheckpointError, convert
from .utils.atomic import atomic_save


def parse_args(argv=None):
    """Parse the command line (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('input', help="the authors' file (panini_mfr_latest.pth, panini_sr_latest.pth, "
                                      'moco_checkpoint_0199.pth.tar or MMEditing StyleGAN2 FFHQ)')
    parser.add_argument('output', help='converted generator (or DRE) file to write')
    parser.add_argument('--discriminator', metavar='OUT_D',
                        help='also write the StyleGAN2 discriminator here (Panini and StyleGAN2 files)')
    return parser.parse_args(argv)


def outputs(conversion):
    """``{role: checkpoint dict}`` to write, in BasicSR's layouts."""
    nets = conversion.networks
    if conversion.kind == 'moco':
        return {'output': {'params': nets['dre'].state_dict, 'params_with_head': nets['dre_with_head'].state_dict}}
    generator = nets['generator'].state_dict
    files = {'output': {'params_ema': generator, 'params': generator} if conversion.kind != 'stylegan2'
             else {'params_ema': generator}}
    if 'discriminator' in nets:
        files['discriminator'] = {'params': nets['discriminator'].state_dict}
    return files


def run(input_path, output_path, discriminator_path=None, echo=print):
    """Convert ``input_path``; write ``output_path`` (and ``discriminator_path``); report through ``echo``.

    Returns:
        Conversion: what was converted.

    Raises:
        FileNotFoundError, RuntimeError: missing or unreadable input.
        OfficialCheckpointError (ValueError): unknown layout, bad keys; an output equal to the input.
    """
    targets = {'output': output_path, 'discriminator': discriminator_path}
    for role, path in targets.items():
        if path is not None and os.path.exists(path) and os.path.samefile(path, input_path):
            raise OfficialCheckpointError(f'{role} {path} is the input file; choose another name')
    if discriminator_path is not None and os.path.abspath(discriminator_path) == os.path.abspath(output_path):
        raise OfficialCheckpointError(f'--discriminator {discriminator_path} is the same file as OUT')
    checkpoint = read_weights_file(input_path, 'official')
    conversion = convert(checkpoint, input_path, discriminator=discriminator_path is not None)
    if conversion.kind == 'moco' and discriminator_path is not None:
        raise OfficialCheckpointError(f'{input_path} is {KIND_NAMES["moco"]}: it has no discriminator')
    echo(f'{input_path}: {KIND_NAMES[conversion.kind]}')
    for role, network in conversion.networks.items():
        echo(f'  {role}: {network.type}({", ".join(f"{k}={v!r}" for k, v in network.options.items())}), '
             f'{len(network.state_dict)} tensors, {network.num_params:,} parameters')
    for line in conversion.dropped:
        echo(f'  dropped: {line}')
    if discriminator_path is None and conversion.kind != 'moco':
        echo('  the discriminator was not converted (pass --discriminator OUT_D to write it)')
    for role, checkpoint_out in outputs(conversion).items():
        path = targets[role]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_save(checkpoint_out, path)
        echo(f'  wrote {path} (keys {", ".join(checkpoint_out)})')
    return conversion


def main(argv=None):
    """Entry point of ``panini-convert``; exits 1 with the message on bad input."""
    args = parse_args(argv)
    try:
        run(args.input, args.output, args.discriminator)
    except (FileNotFoundError, RuntimeError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
