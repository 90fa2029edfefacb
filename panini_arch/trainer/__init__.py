"""BasicSR 1.4.2 trainer fixes, applied when this package is imported.

``panini_arch/train.py`` and ``panini_arch/test.py`` import it, and so does the
``plugin: !!python/name:panini_arch.trainer.__name__`` line of every shipped options
file, which is how BasicSR's own unmodified ``basicsr/train.py`` picks it up.
``import panini_arch`` alone does not apply them: building or running a network
leaves BasicSR's sampler and launchers as they are. BasicSR's ``BaseModel`` is left
alone unless the options' model is one of BasicSR's own
(:func:`panini_arch.trainer.patches.apply_to_basicsr_models`); the package's models
inherit their saving and resume from :class:`panini_arch.models.base_model.PaniniBaseModel`.

What is replaced and why: :mod:`panini_arch.trainer.patches` (CPU/torchrun
launch, ``--local-rank``), :mod:`panini_arch.trainer.checkpoint` (which
state to resume from, weights-only, the resuming sampler) and :mod:`panini_arch.trainer.basicsr_options`
(the rest of a file BasicSR's own scripts are reading, ``--force_yml``).
"""
import panini_arch  # noqa: F401  (makes basicsr importable and fills its registries first)

from .patches import apply

apply()

__all__ = ['apply']
