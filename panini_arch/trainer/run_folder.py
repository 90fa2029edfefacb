"""Where a run writes: its name is one folder name under a results root, and one live run holds it.

``panini_arch.trainer.patches`` installs these in BasicSR 1.4.2's launchers:

* :func:`check_output_names`: the options' ``name`` becomes ``experiments/<name>``, ``tb_logger/<name>`` and
  ``results/<name>``, so it must be one plain folder name: an empty name, ``.``/``..``, a path separator,
  an absolute path or a NUL is an :class:`~panini_arch.models.option_checks.OptionError` (exit 2), as is
  a ``<root>/<name>`` that is a symbolic link (writing there would write elsewhere); so must the
  dataset names and ``val.suffix``, which become parts of the saved images' paths.
* :func:`archive_and_create` (BasicSR's ``mkdir_and_rename``) and :func:`make_exp_dirs`: an existing run
  folder is renamed ``<name>_archived_<time>`` next to it, as BasicSR does, but only a folder directly
  under one of :data:`RESULTS_ROOTS`; the run's lock stays where it is.
* :class:`RunLock`: ``experiments/<name>/run.lock`` holds the process id, host and start time of the
  training that owns the folder (rank 0 only under torchrun). A second training of the same name
  stops with :class:`RunLockedError` naming the first; a lock whose process is gone (same host, no such
  process, or a process started after the lock) is taken over with a message, so ``--auto_resume``
  continues a killed run. The lock is removed when the run ends, also on an exception.
"""
import atexit
import json
import os
import socket
import sys
import time

from basicsr.utils import get_time_str
from basicsr.utils.dist_util import master_only

from ..models.option_checks import OptionError

RESULTS_ROOTS = ('experiments', 'tb_logger', 'results')
LOCK_NAME = 'run.lock'


class RunLockedError(RuntimeError):
    """Another live training holds the experiment folder."""


def name_problem(value):
    """Why ``value`` is not one plain folder name (None when it is)."""
    if not isinstance(value, str) or not value.strip():
        return 'is empty or not text'
    if value in ('.', '..'):
        return 'is . or ..'
    if any(sep and sep in value for sep in ('/', '\\', os.sep, os.altsep)) or os.path.isabs(value):
        return 'holds a path separator'
    if '\0' in value:
        return 'holds a NUL character'
    return None


def check_run_name(name, root_path='.'):
    """Raise :class:`OptionError` unless ``name`` is one folder name and no ``<root>/<name>`` is a link."""
    problem = name_problem(name)
    if problem:
        raise OptionError(f'name: {name!r} {problem}. The name becomes one folder under experiments/, tb_logger/ '
                          'and results/; use a plain folder name such as panini_fr_run1.')
    for root in RESULTS_ROOTS:
        folder = os.path.join(root_path, root, name)
        if os.path.islink(folder):
            raise OptionError(f'name: {folder} is a symbolic link; a run writes only into a real folder under '
                              f'{root}/ (remove the link or pick another name)')


def check_output_names(opt, root_path='.'):
    """:func:`check_run_name`, then the other options that become parts of output paths.

    ``datasets.<phase>.name`` (the folder of saved images, ``metrics_<name>.json``) and
    ``val.suffix`` (``<image>_<suffix>.png``) must be plain names too.
    """
    check_run_name(opt.get('name'), root_path)
    named = [(f'datasets.{phase}.name', dataset['name']) for phase, dataset in (opt.get('datasets') or {}).items()
             if isinstance(dataset, dict) and dataset.get('name') is not None]
    suffix = (opt.get('val') or {}).get('suffix')
    named += [('val.suffix', suffix)] if suffix else []
    problems = [f'{option}: {value!r} {name_problem(value)}' for option, value in named if name_problem(value)]
    if problems:
        raise OptionError('; '.join(problems) + '. These become parts of output file names; use plain names.')


def check_results_folder(path):
    """Raise ValueError unless ``path`` is ``<...>/<results root>/<name>`` and not a link (nothing else is moved)."""
    parent, name = os.path.split(os.path.normpath(os.path.abspath(path)))
    if os.path.basename(parent) not in RESULTS_ROOTS or os.path.islink(path):
        raise ValueError(f'Refusing to archive or create {path}: run folders are plain folders directly under one of '
                         f'{", ".join(r + "/" for r in RESULTS_ROOTS)}')
    check_run_name(name, os.path.dirname(parent))


def archive_and_create(path, keep=()):
    """BasicSR's ``mkdir_and_rename`` for run folders only: an existing ``path`` becomes ``<path>_archived_<time>``.

    Entries named in ``keep`` (the run's lock) stay in ``path``; the rest move to the archive (none: nothing
    is archived).
    """
    check_results_folder(path)
    entries = os.listdir(path) if os.path.isdir(path) else []
    moved = [entry for entry in entries if entry not in keep]
    if moved:
        archive = f'{path}_archived_{get_time_str()}'
        print(f'Path already exists. Rename it to {archive}', flush=True)
        if len(moved) == len(entries):
            os.rename(path, archive)
        else:
            os.makedirs(archive)
            for entry in moved:
                os.rename(os.path.join(path, entry), os.path.join(archive, entry))
    os.makedirs(path, exist_ok=True)


@master_only
def make_exp_dirs(opt):
    """BasicSR's ``make_exp_dirs``: archive and create the run folder (its lock kept), then its sub-folders.

    Only ``path`` entries inside the run folder are created (BasicSR creates every entry not named
    ``pretrain_network*``, ``resume*``, ``strict_load*`` or ``param_key*``, wherever it points).
    """
    path_opt = dict(opt['path'])
    root = path_opt.pop('experiments_root' if opt['is_train'] else 'results_root')
    archive_and_create(root, keep=(LOCK_NAME, ))
    inside = os.path.normpath(os.path.abspath(root)) + os.sep
    for key, path in path_opt.items():
        if isinstance(path, str) and os.path.normpath(os.path.abspath(path)).startswith(inside):
            os.makedirs(path, exist_ok=True)


def process_start(pid):
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None where unknown."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii') as f:
            return int(f.read().rsplit(')', 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(record):
    """Whether the process a lock names still runs (a pid reused by a newer process counts as gone)."""
    try:
        os.kill(record['pid'], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = record.get('proc_start')
    return started is None or process_start(record['pid']) in (None, started)


class RunLock:
    """``<folder>/run.lock`` held by this process (see the module docstring); :meth:`release` removes it."""

    held = None  # the lock this process holds (one training per process)

    def __init__(self, folder):
        self.path = os.path.join(folder, LOCK_NAME)
        self.record = {'pid': os.getpid(), 'host': socket.gethostname(), 'started': time.strftime('%Y-%m-%d %H:%M:%S'),
                       'proc_start': process_start(os.getpid()), 'command': ' '.join(sys.argv)}

    @classmethod
    def acquire(cls, folder):
        """Take the lock of ``folder`` (created if needed), taking over a dead run's; :class:`RunLockedError`."""
        if cls.held is not None and cls.held.path == os.path.join(folder, LOCK_NAME):
            return cls.held
        os.makedirs(folder, exist_ok=True)
        lock = cls(folder)
        if not lock._create():
            other = lock.read()
            same_host = other.get('host') == lock.record['host']
            if not isinstance(other.get('pid'), int) or not same_host or _alive(other):
                raise RunLockedError(
                    f'{folder} is in use by another training: pid {other.get("pid")} on host {other.get("host")}, '
                    f'started {other.get("started")} ({other.get("command")}). Wait for it or pick another name; '
                    f'if that run is gone (another host cannot be checked from here), delete {lock.path}.')
            print(f'Taking over {lock.path}: its run (pid {other["pid"]} on {other["host"]}, started '
                  f'{other.get("started")}) is no longer running.', flush=True)
            os.remove(lock.path)
            if not lock._create():
                raise RunLockedError(f'{folder} was locked by another training while this one took it over: '
                                     f'{lock.read()}')
        cls.held = lock
        atexit.register(lock.release)
        return lock

    def _create(self):
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(self.record, f)
        return True

    def read(self):
        """What the lock file holds ({} when unreadable: a half-written lock counts as a live one's)."""
        try:
            with open(self.path, encoding='utf-8') as f:
                record = json.load(f)
            return record if isinstance(record, dict) else {}
        except (OSError, ValueError):
            return {}

    def release(self):
        """Remove the lock file if it is still this process's."""
        if self.read().get('pid') == self.record['pid']:
            os.remove(self.path)
        if RunLock.held is self:
            RunLock.held = None


def claim_run_folder(opt, root_path):
    """Check ``opt['name']``; a training's rank 0 then takes the lock of ``experiments/<name>``."""
    check_run_name(opt.get('name'), root_path)
    if opt.get('is_train') and opt.get('rank', 0) == 0:
        RunLock.acquire(opt['path']['experiments_root'])


def release_run_folder():
    """Release the lock this process holds, if any."""
    if RunLock.held is not None:
        RunLock.held.release()
