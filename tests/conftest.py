"""The pytest fixtures the tests share; the constants and functions they share are in ``helpers.py`` (this folder).

Test files sit in the folder of the package part they test (``archs/``, ``data/``, ``models/``,
``trainer/``, ``restoration/``, ``evaluation/``) or in ``system/`` (launchers, layers, tiny options,
reliability, packaging, demo, benchmark runners); ``fixtures/`` holds the stored test data.
"""
import os
import sys

import cv2
import numpy as np
import pytest
from skimage import data

import panini_arch  # noqa: F401  (first: makes basicsr importable)


@pytest.fixture(scope='session')
def pairs_root(tmp_path_factory):
    """Three 24x24 GT images and their 12x12 LQ versions (``gt/``, ``lq/``) for BasicSR's SRModel."""
    root = tmp_path_factory.mktemp('pairs')
    for sub in ('gt', 'lq'):
        os.makedirs(root / sub)
    rng = np.random.default_rng(0)
    for name in ('a', 'b', 'c'):
        image = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
        assert cv2.imwrite(str(root / 'gt' / f'{name}.png'), image)
        assert cv2.imwrite(str(root / 'lq' / f'{name}.png'), cv2.resize(image, (12, 12), interpolation=cv2.INTER_AREA))
    return str(root)


@pytest.fixture
def run_entry(tmp_path, monkeypatch):
    """``run_entry(main, opt_path)``: call an entry point's ``main`` with ``-opt opt_path`` in ``tmp_path``;
    returns its exit status (it must end with ``SystemExit``)."""

    def run_main(main, opt_path):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, 'argv', ['entry.py', '-opt', str(opt_path)])
        with pytest.raises(SystemExit) as info:
            main()
        return info.value.code

    return run_main


@pytest.fixture(scope='module')
def astronaut():
    """(512, 512, 3) uint8 BGR photo with one face (scikit-image's astronaut)."""
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
