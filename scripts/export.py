"""Export a Panini-Net to TorchScript and ONNX with a numerical check: ``python scripts/export.py --help``.

See ``panini_arch/export.py``.
"""
from panini_arch.export import main

if __name__ == '__main__':
    main()
