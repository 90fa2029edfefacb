"""Optional packages imported where they are used, with the install command when they are missing."""
import importlib

EXPORT_INSTALL = 'pip install -e ".[export]"  (onnx, onnxscript, onnxruntime)'
RETINAFACE_INSTALL = 'pip install -e ".[retinaface]"  (facexlib)'


def import_optional(module, install, purpose):
    """``importlib.import_module(module)``; ImportError naming ``purpose`` and the ``install`` command if missing."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f'{purpose} needs the optional package {module.split(".")[0]}: {install} '
                          f'(import failed: {error})') from error
