"""The one place where files become Python objects: options YAML and torch weight files, no code run.

* :func:`load_options` reads a BasicSR options file with :class:`OptionsLoader`,
  YAML's safe loader plus exactly one kind of Python tag, this package's plugin
  line (``plugin: !!python/name:panini_arch.__name__`` or
  ``!!python/name:panini_arch.trainer.__name__``). That tag imports the named
  package, as PyYAML's full loader would, and gives its name. Any other Python
  tag (``!!python/object/apply:os.system``, ``!!python/name:os.system``, ...)
  or unknown tag raises :class:`UnsafeOptionsError` naming the file, the line
  and the tag, before anything in the file is built. A file larger than
  :data:`MAX_OPTIONS_BYTES` (1 MiB), or whose aliases (``*name``) would expand
  it by more than :data:`MAX_ALIAS_NODES` nodes (a "billion laughs" bomb), or
  refer to themselves, is refused the same way, before anything is built.
* :func:`load_torch_file` is ``torch.load(..., weights_only=True)`` passed
  explicitly, so neither an old torch default nor
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` makes it unpickle arbitrary objects;
  a file that needs them raises :class:`UnsafeWeightsError` naming it. When a
  ``<file>.sha256`` lies beside the file (the trainer writes one with every
  checkpoint and state) the file must match it (:class:`ChecksumError`).
"""
import hashlib
import importlib
import os
import pickle
import zipfile

import torch
import yaml

PYTHON_TAG = 'tag:yaml.org,2002:python/'
MAX_OPTIONS_BYTES = 1 << 20
MAX_ALIAS_NODES = 100_000
PLUGIN_TAGS = tuple(PYTHON_TAG + f'name:{module}.__name__' for module in ('panini_arch', 'panini_arch.trainer'))


class UnsafeOptionsError(ValueError):
    """An options file holds a YAML tag that would build arbitrary Python objects."""


class UnsafeWeightsError(pickle.UnpicklingError):
    """A weight or state file holds pickled objects other than tensors and plain values."""


def _short(tag):
    """``tag:yaml.org,2002:python/name:x`` -> ``!!python/name:x``, as it is written in a file."""
    return tag.replace('tag:yaml.org,2002:', '!!', 1)


class ChecksumError(RuntimeError):
    """A file does not match the SHA-256 written beside it when it was saved."""


class NonFiniteWeightsError(RuntimeError):
    """Weights or a training state hold NaN or infinite values (the message names the file and tensors)."""


def non_finite_keys(tree, prefix=''):
    """Dotted names of the floating-point tensors in ``tree`` (nested dicts, lists, tuples) not all finite."""
    if isinstance(tree, torch.Tensor):
        return [prefix] if tree.is_floating_point() and not torch.isfinite(tree).all() else []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else ()
    return [name for key, value in items for name in non_finite_keys(value, f'{prefix}.{key}' if prefix else str(key))]


def check_finite(tree, path, what='weights'):
    """Raise :class:`NonFiniteWeightsError` naming ``path`` and the tensors of ``tree`` with NaN or inf."""
    bad = non_finite_keys(tree)
    if bad:
        shown = ', '.join(bad[:8]) + (f', ... ({len(bad)} in all)' if len(bad) > 8 else '')
        raise NonFiniteWeightsError(f'{path}: {what} hold NaN or infinite values in {shown}; refused (a damaged or '
                                    'diverged file would give black or garbage outputs)')


class OptionsLoader(yaml.SafeLoader):
    """YAML's safe loader (plain, ordered dicts) that knows one Python tag, the plugin line."""

    def construct_plugin(self, suffix, node):
        """The plugin tag: import ``panini_arch`` (or ``panini_arch.trainer``), return its name."""
        tag = PYTHON_TAG + suffix
        if tag not in PLUGIN_TAGS:
            self.refuse(suffix, node)
        module = tag[len(PYTHON_TAG + 'name:'):-len('.__name__')]
        return importlib.import_module(module).__name__

    def refuse(self, suffix, node):
        """Raise :class:`UnsafeOptionsError` for ``node``'s tag (a multi-constructor: ``suffix`` is unused)."""
        accepted = ', '.join(_short(tag) for tag in PLUGIN_TAGS)
        raise UnsafeOptionsError(
            f'{self.name}, line {node.start_mark.line + 1}: refused YAML tag {_short(node.tag)}. Options files may '
            f'hold plain values only; the one Python tag accepted is the plugin line ({accepted}).')

    def construct_document(self, node):
        """Refuse an alias bomb (see :func:`check_alias_expansion`), then build the document."""
        check_alias_expansion(node, self.name)
        return super().construct_document(node)


def check_alias_expansion(root, name):
    """Raise :class:`UnsafeOptionsError` when aliases in the node tree ``root`` would add more than
    :data:`MAX_ALIAS_NODES` nodes once expanded, or make it recursive, or when it is nested too deeply
    to walk. Linear in the distinct nodes."""
    sizes, open_nodes = {}, set()

    def expanded(node):
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise UnsafeOptionsError(f'{name}, line {node.start_mark.line + 1}: refused a recursive alias (a '
                                     'node that contains itself); options files hold plain trees')
        open_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        sizes[id(node)] = 1 + sum(expanded(child) for child in children)
        open_nodes.discard(id(node))
        return sizes[id(node)]

    try:
        added = expanded(root) - len(sizes)
    except RecursionError:
        raise UnsafeOptionsError(f'{name}: refused; nested too deeply to read') from None
    if added > MAX_ALIAS_NODES:
        raise UnsafeOptionsError(f'{name}: refused; its aliases (*name) expand it by {added} nodes, more than the '
                                 f'{MAX_ALIAS_NODES} allowed (an alias bomb grows memory without bound)')


OptionsLoader.add_multi_constructor(PYTHON_TAG, OptionsLoader.construct_plugin)
OptionsLoader.add_multi_constructor('', OptionsLoader.refuse)


def check_options_size(path):
    """Raise :class:`UnsafeOptionsError` when the file ``path`` is over :data:`MAX_OPTIONS_BYTES`."""
    size = os.path.getsize(path)
    if size > MAX_OPTIONS_BYTES:
        raise UnsafeOptionsError(f'{path}: refused; {size} bytes, more than the {MAX_OPTIONS_BYTES} allowed in an '
                                 'options file')


def load_options_text(text, name='<options>'):
    """Parse options YAML held in a string; ``name`` is used in error messages."""
    if len(text) > MAX_OPTIONS_BYTES:
        raise UnsafeOptionsError(f'{name}: refused; {len(text)} characters, more than the {MAX_OPTIONS_BYTES} '
                                 'allowed in an options file')
    loader = OptionsLoader(text)
    loader.name = name
    try:
        return loader.get_single_data()
    except RecursionError:
        raise UnsafeOptionsError(f'{name}: refused; nested too deeply to read') from None
    finally:
        loader.dispose()


def load_options(path):
    """Read a BasicSR options file safely (see the module docstring).

    Raises:
        FileNotFoundError: no such file.
        UnsafeOptionsError: a tag other than the plugin line, a file over :data:`MAX_OPTIONS_BYTES`,
            an alias bomb.
        yaml.YAMLError: not valid YAML (the message names the file and line).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'Options file not found: {path}')
    check_options_size(path)
    with open(path, encoding='utf-8') as f:
        return load_options_text(f.read(MAX_OPTIONS_BYTES + 1), path)


def load_torch_file(path, map_location='cpu', mmap=None):
    """``torch.load(path, map_location, weights_only=True)``; tensors and plain values only, never code.

    Zip-format files (every ``torch.save`` since torch 1.6) are memory-mapped unless ``mmap`` is False:
    tensors nobody reads (an optimizer state, a discriminator) are never brought into memory.

    Raises:
        UnsafeWeightsError: the file pickles other objects (the message names the file).
        Exception: whatever torch raises for a missing, truncated or non-torch file.
    """
    verify_checksum(path)
    try:
        mmap = zipfile.is_zipfile(path) if mmap is None else mmap and zipfile.is_zipfile(path)
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines() if 'WeightsUnpickler error' in line]
        raise UnsafeWeightsError(f'{path} holds pickled objects that are not tensors or plain values, so it was not '
                                 f'loaded (weights-only loading never runs code from a file). '
                                 f'{lines[0] if lines else error}') from error


def has_checksum(path):
    """Whether ``<path>.sha256`` exists (a file without one is unverified)."""
    return os.path.isfile(checksum_path(path))


def checksum_path(path):
    """Where the SHA-256 of ``path`` is kept."""
    return f'{os.fspath(path)}.sha256'


def file_sha256(path):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(path):
    """Raise :class:`ChecksumError` when ``<path>.sha256`` exists and ``path`` does not match it."""
    digest_path = checksum_path(path)
    if not os.path.isfile(digest_path) or not os.path.isfile(path):
        return
    with open(digest_path, encoding='ascii') as f:
        expected = f.read().split()[0]
    if file_sha256(path) != expected:
        raise ChecksumError(f'{path} does not match its checksum {digest_path}: the file was changed or corrupted '
                            '(bit flip, partial copy) after it was saved')
