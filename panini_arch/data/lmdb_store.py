"""LMDB stores opened read-only and checked against their file size first, so a damaged one is an error, not SIGBUS.

LMDB maps ``data.mdb`` into memory and reads its B-tree pages from the map.
The last page a store uses is recorded in its meta page (``last_pgno``); when
the file is shorter than ``(last_pgno + 1) * page size`` (a partial copy, a
full disk, a download cut off), touching those pages kills the process with
SIGBUS, and no Python code can catch that. :func:`open_lmdb_checked` reads the
meta pages (LMDB reads them with ``pread``, not the map), compares, and raises
:class:`DamagedStoreError` naming the file and both sizes before any page is read.

BasicSR's own ``io_backend: {type: lmdb}`` (``FileClient``, used by
``PairedImageDataset``) goes through :class:`CheckedLmdbBackend` once the
trainer is applied; ``readonly``/``lock`` given in options are ignored there
(the store is always read-only and lock-free).
"""
import os

from basicsr.utils import file_client as _file_client


class DamagedStoreError(OSError):
    """An LMDB store that is not readable as it is: truncated, or not LMDB at all."""


def open_lmdb_checked(path):
    """``lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False)`` once its size is checked.

    Args:
        path (str): the ``*.lmdb`` folder holding ``data.mdb``.

    Raises:
        FileNotFoundError: no ``data.mdb`` in ``path``.
        DamagedStoreError: ``data.mdb`` is shorter than its pages, or not an LMDB file.
    """
    import lmdb
    data = os.path.join(path, 'data.mdb')
    if not os.path.isfile(data):
        raise FileNotFoundError(f'Not an LMDB folder (no data.mdb): {path}')
    try:
        env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False)
    except lmdb.Error as error:
        raise DamagedStoreError(f'{data}: not a readable LMDB store ({error}); rebuild it (make_lmdb) or copy it '
                                'again') from None
    page_size = env.stat()['psize']
    needed = (env.info()['last_pgno'] + 1) * page_size
    size = os.path.getsize(data)
    if size < needed:
        env.close()
        raise DamagedStoreError(f'{data}: truncated, {size} bytes but its pages need {needed} '
                                f'({needed // page_size} pages of {page_size} bytes); rebuild it (make_lmdb) or copy '
                                'it again')
    return env


class CheckedLmdbBackend(_file_client.LmdbBackend):
    """BasicSR's ``LmdbBackend`` with every store opened by :func:`open_lmdb_checked`."""

    def __init__(self, db_paths, client_keys='default', **kwargs):
        client_keys = [client_keys] if isinstance(client_keys, str) else list(client_keys)
        self.db_paths = [str(p) for p in (db_paths if isinstance(db_paths, (list, tuple)) else [db_paths])]
        if len(client_keys) != len(self.db_paths):
            raise ValueError(f'io_backend: client_keys and db_paths must have the same length, got '
                             f'{len(client_keys)} and {len(self.db_paths)}')
        self._client = {key: open_lmdb_checked(path) for key, path in zip(client_keys, self.db_paths)}


def apply():
    """Make BasicSR's ``FileClient`` open LMDB stores with :class:`CheckedLmdbBackend`."""
    _file_client.FileClient._backends['lmdb'] = CheckedLmdbBackend
