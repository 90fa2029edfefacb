"""BasicSR's own ``parse_options`` made safe from inside the plugin: options after the plugin line, ``--force_yml``.

BasicSR 1.4.2's ``train.py``/``test.py`` read the options file with
``yaml.load(f, Loader=CLoader)``, a loader that builds any Python object a tag
names. The plugin line (``plugin: !!python/name:panini_arch.trainer.__name__``,
first in every shipped file) is what imports this package there. By then the
whole document is parsed into YAML nodes but only the entries above the plugin
line are built, and the loader builds the rest one node at a time.
:func:`secure_running_load` finds that loader on the call stack and switches it
to :class:`panini_arch.utils.safe_load.OptionsLoader`'s constructors: every
entry after the plugin line is built as ``panini-train`` builds it (plain
values; any other Python tag refused naming the file and line), once the
document passed the same size and alias-expansion bounds.

``--force_yml`` (both entry points): BasicSR turns each ``a:b=v`` into the
Python statement ``opt["a"]["b"]=value`` run with ``exec``, and evaluates a
value starting with ``[`` with ``eval``. :func:`literal_value` replaces the
value step (``ast.literal_eval`` for lists) and :func:`assign_forced` the
``exec`` name of ``basicsr.utils.options``: only ``opt["key"]...=value`` with
keys of letters, digits, ``_``, ``-`` and ``.`` is carried out; anything else
is refused naming the entry.

What the plugin cannot close: entries above the plugin line, and files
without one, are built by BasicSR's loader before any of this runs.
"""
import ast
import os
import re
import sys

import basicsr.utils.options as _options
import yaml

from ..models.option_checks import OptionError
from ..utils.safe_load import OptionsLoader, check_alias_expansion, check_options_size

_basicsr_postprocess_yml_value = _options._postprocess_yml_value
FORCED_STATEMENT = re.compile(r'opt((?:\["[A-Za-z0-9_.\-]+"\])+)=value')
FORCED_KEY = re.compile(r'\["([^"]+)"\]')


def literal_value(text):
    """BasicSR's ``--force_yml`` value rules without ``eval``: a ``[...]`` value must be a literal list."""
    if not text.startswith('['):
        return _basicsr_postprocess_yml_value(text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, list):
        raise OptionError(f'--force_yml value {text!r}: a value starting with [ must be a list of literal values '
                          '(numbers, quoted strings, True/False/None, lists); nothing is evaluated')
    return value


def assign_forced(statement):
    """Stand-in for ``exec`` in BasicSR's ``parse_options``: carry out ``opt["a"]["b"]=value`` and nothing else.

    ``opt`` and ``value`` are the caller's (``parse_options``) locals. Raises :class:`OptionError` for
    any other statement (a key holding quotes, brackets or code), naming it.
    """
    match = FORCED_STATEMENT.fullmatch(statement)
    if match is None:
        raise OptionError(f'--force_yml: refused {statement!r}; keys are names of letters, digits, _ - . '
                          'joined by ":" (train:ema_decay=0.999), values literals')
    caller = sys._getframe(1).f_locals
    keys = FORCED_KEY.findall(match.group(1))
    section = caller['opt']
    for key in keys[:-1]:
        section = section[key]
    section[keys[-1]] = caller['value']


def _caller_locals(function, check):
    """Locals of the nearest ``function`` on the call stack that pass ``check``, or None."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == function and check(frame.f_locals):
            return frame.f_locals
        frame = frame.f_back
    return None


def secure_running_load():
    """Build the rest of a YAML document being read by an unsafe loader as :class:`OptionsLoader` would.

    Called when the plugin is imported. Without a YAML loader on the stack (a plain ``import``) or
    with :class:`OptionsLoader` already, nothing happens.

    Raises:
        UnsafeOptionsError: the document is over the size or alias-expansion bounds.
    """
    document = _caller_locals('construct_document',
                              lambda names: isinstance(names.get('self'), yaml.constructor.BaseConstructor))
    if document is None or isinstance(document['self'], OptionsLoader):
        return
    loader, root = document['self'], document['node']
    parse = _caller_locals('parse_options', lambda names: isinstance(getattr(names.get('args'), 'opt', None), str))
    name = parse['args'].opt if parse is not None else '<options>'
    if os.path.isfile(name):
        check_options_size(name)
    check_alias_expansion(root, name)
    cls = type(loader)
    loader.__class__ = type(f'Safe{cls.__name__}', (cls, ), {
        'yaml_constructors': dict(OptionsLoader.yaml_constructors),
        'yaml_multi_constructors': dict(OptionsLoader.yaml_multi_constructors),
        'construct_plugin': OptionsLoader.construct_plugin,
        'refuse': OptionsLoader.refuse,
    })
    loader.name = name


def apply():
    """Make the running and every later BasicSR ``parse_options`` read options safely (see the module)."""
    _options._postprocess_yml_value = literal_value
    _options.exec = assign_forced
    secure_running_load()
