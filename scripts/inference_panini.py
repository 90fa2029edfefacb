"""Restore faces in photos, folders or videos: ``python scripts/inference_panini.py -i IN -o OUT --model_path M``.

Same as the ``panini-restore`` console script; see ``panini_arch/inference.py``.
"""
import sys

from panini_arch.inference import main

if __name__ == '__main__':
    sys.exit(main())
