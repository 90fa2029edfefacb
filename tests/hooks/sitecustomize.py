"""Loads ``training_hooks`` into every Python process started with this folder on PYTHONPATH.

The launcher tests put ``tests/hooks`` first on the PYTHONPATH of the training
processes they start (each torchrun rank too): options files may name no Python
module but the plugin, so the hooks come in through Python's start-up instead.
"""
import training_hooks  # noqa: F401
