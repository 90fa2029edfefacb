"""Evaluate a method on a test set: ``python scripts/test.py -opt options/test_*.yml``.

BasicSR's test pipeline with panini_arch registered (``panini_arch.test.main``);
results go to ``results/<name>/`` under the current directory: restored images in
``visualization/<dataset>/`` and the metric summary ``metrics_<dataset>.json``.
"""
from panini_arch.test import main

if __name__ == '__main__':
    main()
