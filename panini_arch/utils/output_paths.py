"""Outputs never land in the inputs: every output folder and file is resolved (links included) before writing.

A results folder can reach the inputs without naming them: ``-o out`` where
``out/restored_faces`` is a symbolic link into the photo folder, an output file
that is a link to an input, a results root inside the GT folder. With
``--overwrite`` that replaces the inputs. :class:`OutputGuard` holds the real
paths of the inputs (folders and files, each resolved with
``os.path.realpath``) and :meth:`OutputGuard.check` resolves an output path the
same way at the moment it is about to be written, refusing it with
:class:`OutputIntoInputError` when it is an input or lies inside an input
folder; :meth:`OutputGuard.check_root` also refuses a results folder that
contains an input.
"""
import os


class OutputIntoInputError(ValueError):
    """An output path that resolves to, into, or around an input."""


def _ancestors(path):
    """``path`` and every folder above it, innermost first (all real paths)."""
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


class OutputGuard:
    """The inputs of a run, by real path; :meth:`check` refuses outputs that resolve into them.

    Args:
        inputs (iterable[str | Path | None]): input folders and files (what the run reads); None is
            skipped. Missing ones are resolved as far as they exist.
    """

    def __init__(self, inputs):
        self.inputs = {}
        for path in filter(None, inputs):
            self.inputs.setdefault(os.path.realpath(path), os.fspath(path))
        self.holders = {}
        for real, name in self.inputs.items():
            for folder in _ancestors(os.path.dirname(real)):
                self.holders.setdefault(folder, name)

    def check(self, path):
        """Return ``path`` (an output file or folder) when it resolves outside every input.

        Raises:
            OutputIntoInputError: ``path`` resolves to an input or into an input folder.
        """
        real = os.path.realpath(path)
        for place in _ancestors(real):
            if place in self.inputs:
                where = 'is' if place == real else 'lies inside'
                raise OutputIntoInputError(
                    f'Output {path} {where} the input {self.inputs[place]} (resolved through links: {real}); '
                    'writing it could overwrite or mix with the inputs. Choose an output outside the input.')
        return path

    def check_root(self, path):
        """:meth:`check` for a results folder, which must not contain an input either."""
        real = os.path.realpath(path)
        name = self.inputs.get(real) or self.holders.get(real)
        if name is not None:
            raise OutputIntoInputError(
                f'Output folder {path} (resolved through links: {real}) is or contains the input {name}; results '
                'could overwrite or mix with the inputs. Choose an output folder outside the input.')
        return self.check(path)
