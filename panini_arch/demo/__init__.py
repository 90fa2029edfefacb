"""The offline demo (``scripts/demo.py``): real faces from installed packages, a tiny DRE and
Panini-Net trained on CPU, and an HTML report of the restorations."""
