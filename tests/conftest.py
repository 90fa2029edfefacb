"""Helpers shared by the test modules."""
import sys

import pytest


@pytest.fixture
def run_entry(tmp_path, monkeypatch):
    """``run_entry(main, opt_path)``: call an entry point's ``main`` with ``-opt opt_path`` in ``tmp_path``;
    returns its exit status (it must end with ``SystemExit``)."""

    def run(main, opt_path):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, 'argv', ['entry.py', '-opt', str(opt_path)])
        with pytest.raises(SystemExit) as info:
            main()
        return info.value.code

    return run
