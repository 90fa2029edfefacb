"""Convert the authors' Panini-Net, MoCo and MMEditing StyleGAN2 checkpoints: ``python scripts/convert_official.py --help``.

See ``panini_arch/convert.py``.
"""
from panini_arch.convert import main

if __name__ == '__main__':
    main()
