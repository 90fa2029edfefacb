"""How a registered class declares the options it reads, once: default, kind and range.

A class lists its options as ``{key: Option(...)}`` (``OPTIONS`` of a dataset, ``TRAIN_OPTIONS`` of a
model, for its ``train:`` section), reads each through :func:`option_value`, and
:func:`panini_arch.models.option_checks.check_options` finds the same table through the registry, to refuse
unknown keys and numbers out of range before anything is built.
"""
from typing import NamedTuple


class Option(NamedTuple):
    """One option.

    Attributes:
        default: the value when the key is absent.
        kind (str | None): ``'int'`` or ``'float'`` for a number; None for anything else (a section, a
            name, a flag), which the class checks itself.
        low, high (float | None): the range of a number (None: unbounded).
        low_open, high_open (bool): the bound itself is excluded.
    """
    default: object = None
    kind: str = None
    low: float = None
    high: float = None
    low_open: bool = False
    high_open: bool = False


def option_value(opt, options, key):
    """``opt[key]``, or the default that ``options`` (a class's declaration) gives ``key`` when it is absent."""
    return (opt or {}).get(key, options[key].default)
