"""Files written whole or not at all, and the SHA-256 kept beside a weight file.

Every writer of the package goes through :func:`replacing`: the data goes to a hidden temporary file in the
target's folder, which is renamed over the target only once complete. A reader sees either the previous file
or the complete new one; a kill leaves at most a stale ``.<name>.<pid>.tmp``.

* :func:`atomic_save`: ``torch.save`` (checkpoints, training states, converted weights) with ``<file>.sha256``
  beside it, which :func:`panini_arch.utils.safe_load.load_torch_file` checks.
* :func:`atomic_write_bytes`: encoded images (``panini-restore``).
* :func:`replacing` itself: files a library writes by name (``cv2.VideoWriter``).
"""
import contextlib
import os

import torch

from .safe_load import checksum_path, file_sha256


@contextlib.contextmanager
def replacing(path, keep_extension=False):
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block ends without error.

    Args:
        path (str | Path): the file to write.
        keep_extension (bool): end the temporary name with ``path``'s extension (``.<stem>.<pid>.tmp.mp4``),
            for writers that choose the format from the name; else ``.<name>.<pid>.tmp``.

    The temporary file is removed whatever happens.
    """
    folder, name = os.path.split(os.fspath(path))
    stem, extension = os.path.splitext(name) if keep_extension else (name, '')
    tmp_path = os.path.join(folder, f'.{stem}.{os.getpid()}.tmp{extension}')
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def atomic_write_bytes(data, path):
    """Write ``data`` (bytes) to ``path`` through :func:`replacing`."""
    with replacing(path) as tmp_path:
        with open(tmp_path, 'wb') as f:
            f.write(data)


def atomic_save(obj, path):
    """``torch.save(obj)`` to ``path`` through :func:`replacing`, with ``<path>.sha256`` beside it.

    torch is given a file object, so the records inside the zip are ``archive/...`` (given a path it names
    them after the file, process id included) and the same ``obj`` always gives the same bytes.
    """
    with replacing(path) as tmp_path:
        with open(tmp_path, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        write_checksum(tmp_path, path)


def write_checksum(data_path, path):
    """Write the SHA-256 of ``data_path`` to ``<path>.sha256`` atomically."""
    digest_path = checksum_path(path)
    tmp_path = f'{digest_path}.{os.getpid()}.tmp'
    with open(tmp_path, 'w', encoding='ascii') as f:
        f.write(f'{file_sha256(data_path)}  {os.path.basename(path)}\n')
    os.replace(tmp_path, digest_path)
