"""Collect test runs into comparison tables and an image grid (the ``panini-compare`` command).

    python scripts/compare.py results/test_panini_fr results/test_gpen_bfr_512 results/test_gfpgan_v1.3 \
        --out results/comparison_mfr --faces 0000 0001 0002

See ``panini_arch/evaluation/compare_command.py`` (``--help``) and docs/evaluation.md.
"""
from panini_arch.evaluation.compare_command import main

if __name__ == '__main__':
    main()
