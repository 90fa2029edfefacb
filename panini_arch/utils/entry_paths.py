"""Names read from data files (``meta_info`` lines, LMDB keys) stay inside the folder they are joined to."""
import os


class OutsideRootError(ValueError):
    """A data entry names a file outside its root (absolute, or ``..`` leading out)."""


def escapes_root(name):
    """Whether the relative ``name`` joined to any folder leaves it: absolute, or ``..`` reaching above it."""
    norm = os.path.normpath(name)
    return os.path.isabs(name) or norm == os.pardir or norm.startswith(os.pardir + os.sep) or '\0' in name


def check_entries(names, root, source):
    """Raise :class:`OutsideRootError` naming ``source`` and the entries of ``names`` that leave ``root``.

    The check is on the names as written (``sub/../a.png`` stays inside; ``../a.png``, ``/etc/a.png``
    do not); links inside ``root`` are followed as the file system does.
    """
    bad = [name for name in names if escapes_root(name)]
    if bad:
        shown = ', '.join(repr(name) for name in bad[:5]) + (f' ... ({len(bad)} in all)' if len(bad) > 5 else '')
        raise OutsideRootError(f'{source}: entries must be paths inside {root}; refused {shown} (absolute or '
                               'leading out with ..)')
