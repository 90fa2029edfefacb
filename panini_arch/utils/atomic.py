"""Atomic, checksummed writes: a reader sees the previous file or the complete new one, never a partial one."""
import os

import torch

from .safe_load import checksum_path, file_sha256


def atomic_save(obj, path):
    """``torch.save`` to a hidden temporary file next to ``path``, then rename it over ``path``.

    A reader sees either the previous file or the complete new one, never a
    partial write; a kill leaves at most a stale ``.<name>.<pid>.tmp``. torch
    is given a file object, so the records inside the zip are ``archive/...``
    (given a path it names them after the file, process id included) and the
    same ``obj`` always gives the same bytes. The SHA-256 goes to ``<path>.sha256``
    (:func:`write_checksum`), which :func:`panini_arch.utils.safe_load.load_torch_file` checks.
    """
    folder, name = os.path.split(path)
    tmp_path = os.path.join(folder, f'.{name}.{os.getpid()}.tmp')
    try:
        with open(tmp_path, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        write_checksum(tmp_path, path)
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def write_checksum(data_path, path):
    """Write the SHA-256 of ``data_path`` to ``<path>.sha256`` atomically."""
    digest_path = checksum_path(path)
    tmp_path = f'{digest_path}.{os.getpid()}.tmp'
    with open(tmp_path, 'w', encoding='ascii') as f:
        f.write(f'{file_sha256(data_path)}  {os.path.basename(path)}\n')
    os.replace(tmp_path, digest_path)
