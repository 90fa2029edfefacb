"""Test with BasicSR's own pipeline, panini_arch registered first.

``python panini_arch/test.py -opt X.yml`` takes BasicSR's flags; results land
under ``results/`` in the current working directory.
"""
import os
import sys

if not __package__:  # run as a file: make the repository, not panini_arch/, importable
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import panini_arch.trainer  # noqa: E402,F401  (registers everything, then applies the trainer fixes)
from basicsr.test import test_pipeline  # noqa: E402
from panini_arch.models.face_test_model import EvaluationFailures  # noqa: E402
from panini_arch.models.option_checks import OptionError  # noqa: E402
from panini_arch.utils.safe_load import UnsafeOptionsError  # noqa: E402


def main():
    """Run ``basicsr.test.test_pipeline`` with the working directory as root path.

    An options file that is refused (a Python tag) or invalid (``option_checks``) stops with its
    message and exit status 2; an evaluation in which some images or metrics failed (the rest
    written) ends with the list and status 1.
    """
    try:
        test_pipeline(os.getcwd())
    except (UnsafeOptionsError, OptionError) as error:
        print(f'Error: {error}', file=sys.stderr)
        sys.exit(2)
    except EvaluationFailures as error:
        print(f'FAILED: {error}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
