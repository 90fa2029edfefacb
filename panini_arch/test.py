"""Test with BasicSR's own pipeline, panini_arch registered first.

``python panini_arch/test.py -opt X.yml`` takes BasicSR's flags, plus
``--precision fp32|bf16|fp16`` and ``--channels_last auto|on|off``, which set
``val.precision`` / ``val.channels_last`` (through BasicSR's ``--force_yml``);
results land under ``results/`` in the current working directory.
"""
import argparse
import os
import sys

if not __package__:  # run as a file: make the repository, not panini_arch/, importable
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import panini_arch.trainer  # noqa: E402,F401  (registers everything, then applies the trainer fixes)
from basicsr.test import test_pipeline  # noqa: E402
from panini_arch.archs.precision import CHANNELS_LAST_CHOICES, PRECISIONS  # noqa: E402
from panini_arch.models.face_test_model import EvaluationFailures  # noqa: E402
from panini_arch.models.option_checks import OptionError  # noqa: E402
from panini_arch.utils.output_paths import OutputIntoInputError  # noqa: E402
from panini_arch.utils.safe_load import NonFiniteWeightsError, UnsafeOptionsError  # noqa: E402


def precision_to_force_yml(argv):
    """Rewrite ``--precision``/``--channels_last`` in ``argv`` (no program name) as ``--force_yml`` entries."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--precision', choices=PRECISIONS)
    parser.add_argument('--channels_last', choices=CHANNELS_LAST_CHOICES)
    ours, rest = parser.parse_known_args(argv)
    forced = [f'val:{key}={value}' for key, value in vars(ours).items() if value is not None]
    if not forced:
        return rest
    if '--force_yml' in rest:
        at = rest.index('--force_yml') + 1
        return rest[:at] + forced + rest[at:]
    return rest + ['--force_yml'] + forced


def main():
    """Run ``basicsr.test.test_pipeline`` with the working directory as root path.

    An options file that is refused (a Python tag) or invalid (``option_checks``, the run ``name``), or a
    results folder that resolves into the inputs, stops with its message and exit status 2; weights
    holding NaN or inf stop with the file and tensors named and status 1, before any image is scored;
    an evaluation in which some images or metrics failed (the rest written) ends with the list and
    status 1.
    """
    sys.argv[1:] = precision_to_force_yml(sys.argv[1:])
    try:
        test_pipeline(os.getcwd())
    except (UnsafeOptionsError, OptionError, OutputIntoInputError) as error:
        print(f'Error: {error}', file=sys.stderr)
        sys.exit(2)
    except NonFiniteWeightsError as error:
        print(f'Error: {error}', file=sys.stderr)
        sys.exit(1)
    except EvaluationFailures as error:
        print(f'FAILED: {error}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
