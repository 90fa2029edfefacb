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


def main():
    """Run ``basicsr.test.test_pipeline`` with the working directory as root path."""
    test_pipeline(os.getcwd())


if __name__ == '__main__':
    main()
