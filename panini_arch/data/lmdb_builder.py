"""Folder of images -> LMDB in BasicSR's layout, resumable.

Layout (what ``io_backend: {type: lmdb}`` and BasicSR's ``FileClient`` read)::

    faces.lmdb/
        data.mdb, lock.mdb
        meta_info.txt      one line per image: ``<relative name> (h,w,c)``, sorted by name

The key of ``a/0001.png`` is ``a/0001`` (name without extension). Values are the files' original
bytes (decoded pixels are therefore identical to the folder's). Files that do not decode (see
``face_source.decode_face``) are left out with a warning and reported in the return value.
"""
import os
from collections import Counter

import lmdb
from tqdm import tqdm

from ..utils.image_io import IMAGE_EXTENSIONS, list_images
from ..utils.output_paths import OutputGuard
from .face_source import BadImageError, decode_face
from .lmdb_store import open_lmdb_checked


def _key_of(name):
    key = os.path.splitext(name)[0].replace(os.sep, '/')
    if not key.isascii():
        raise ValueError(f'make_lmdb: file name {name!r} is not ASCII; LMDB keys in BasicSR are ASCII')
    return key


def make_lmdb(folder, lmdb_path, commit_every=200, progress=True):
    """Write every image of ``folder`` into ``lmdb_path`` (must end with ``.lmdb``).

    Rerunning after an interruption resumes: entries already committed (listed in the partial
    ``meta_info.txt`` and present in the database) are not read again.

    ``lmdb_path`` may not resolve into ``folder`` (links included); an existing store must be whole
    (:class:`panini_arch.data.lmdb_store.DamagedStoreError` otherwise: delete it and rerun).

    Returns:
        dict: ``written`` (int, new this run), ``kept`` (int, already there), ``bad`` (list of names).
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'make_lmdb: input folder not found: {folder}')
    if not str(lmdb_path).endswith('.lmdb'):
        raise ValueError(f"make_lmdb: output path must end with '.lmdb' (BasicSR layout), got {lmdb_path}")
    names = [os.path.relpath(path, folder) for path in list_images(folder, recursive=True)]
    if not names:
        raise ValueError(f'make_lmdb: no images ({", ".join(IMAGE_EXTENSIONS)}) in {folder}')
    keys = [_key_of(n) for n in names]
    if len(set(keys)) != len(keys):
        dup = sorted(k for k, n in Counter(keys).items() if n > 1)[:5]
        raise ValueError(f'make_lmdb: several files map to the same key (same name, other extension): {dup}')

    OutputGuard([folder, *(os.path.join(folder, n) for n in names)]).check(lmdb_path)
    if os.path.isfile(os.path.join(lmdb_path, 'data.mdb')):
        open_lmdb_checked(lmdb_path).close()  # a truncated store from an earlier run: named error, not SIGBUS
    os.makedirs(lmdb_path, exist_ok=True)
    meta_path = os.path.join(lmdb_path, 'meta_info.txt')
    total = sum(os.path.getsize(os.path.join(folder, n)) for n in names)
    env = lmdb.open(lmdb_path, map_size=max(int(total * 1.2), 1 << 26))
    with env.begin() as txn:
        stored = {k.decode('ascii') for k in txn.cursor().iternext(keys=True, values=False)}
    lines, name_set = {}, set(names)
    if os.path.isfile(meta_path):
        with open(meta_path, encoding='utf-8') as meta:
            for line in meta:
                name = line.split()[0] if line.strip() else None
                if name in name_set and _key_of(name) in stored:
                    lines[name] = line.rstrip('\n')
    kept, bad = len(lines), []
    todo = [n for n in names if n not in lines]
    with open(meta_path, 'a', encoding='utf-8') as meta:
        pending = []

        def commit():
            with env.begin(write=True) as txn:
                for name, data, _ in pending:
                    txn.put(_key_of(name).encode('ascii'), data)
            meta.write(''.join(line + '\n' for _, _, line in pending))
            meta.flush()
            lines.update((name, line) for name, _, line in pending)
            pending.clear()

        for name in tqdm(todo, desc='make_lmdb', unit='img', disable=not progress):
            with open(os.path.join(folder, name), 'rb') as f:
                data = f.read()
            try:
                h, w, c = decode_face(data, name).shape
            except BadImageError as err:
                tqdm.write(f'make_lmdb: skipped {err}')
                bad.append(name)
                continue
            pending.append((name, data, f'{name} ({h},{w},{c})'))
            if len(pending) >= commit_every:
                commit()
        commit()
    env.close()
    with open(meta_path, 'w', encoding='utf-8') as meta:
        meta.write(''.join(lines[n] + '\n' for n in names if n in lines))
    return {'written': len(lines) - kept, 'kept': kept, 'bad': bad}

