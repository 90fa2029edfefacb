"""Evaluate a method on a test set: ``python scripts/test.py -opt options/test_*.yml``.

BasicSR's test pipeline with panini_arch registered (``panini_arch.test.main``);
results go to ``results/<name>/`` under the current directory: restored images in
``visualization/<dataset>/`` and the metric summary ``metrics_<dataset>.json``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from panini_arch.test import main  # noqa: E402

if __name__ == '__main__':
    main()
