"""Train with BasicSR's own pipeline, panini_arch registered first.

``python panini_arch/train.py -opt X.yml`` (or the ``panini-train`` console
script) takes BasicSR's flags: ``-opt``, ``--launcher none|pytorch|slurm``,
``--auto_resume``, ``--debug``, ``--local_rank`` (or ``--local-rank``) and
``--force_yml``. Experiments, logs and ``tb_logger/`` land under the current
working directory, as with BasicSR's ``train.py`` run from its checkout (BasicSR
uses the checkout root; an installed package has no such writable root).
"""
import os
import sys

if not __package__:  # run as a file: make the repository, not panini_arch/, importable
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import panini_arch.trainer  # noqa: E402,F401  (registers everything, then applies the trainer fixes)
from basicsr.train import train_pipeline  # noqa: E402
from panini_arch.models.option_checks import OptionError  # noqa: E402
from panini_arch.models.base_model import CheckpointSaveError, TrainingStateError  # noqa: E402
from panini_arch.trainer.run_folder import RunLockedError, release_run_folder  # noqa: E402
from panini_arch.utils.safe_load import NonFiniteWeightsError, UnsafeOptionsError  # noqa: E402


def main():
    """Run ``basicsr.train.train_pipeline`` with the working directory as root path.

    An options file that is refused (a Python tag) or invalid (``option_checks``, the run ``name``)
    stops with its message and exit status 2; an experiment folder held by another live training, a
    checkpoint that cannot be saved, an unusable training state and weights holding NaN or inf stop
    with their message and status 1. The run folder's lock is released however the run ends.
    """
    try:
        train_pipeline(os.getcwd())
    except (UnsafeOptionsError, OptionError) as error:
        print(f'Error: {error}', file=sys.stderr)
        sys.exit(2)
    except (RunLockedError, CheckpointSaveError, TrainingStateError, NonFiniteWeightsError) as error:
        print(f'Error: {error}', file=sys.stderr)
        sys.exit(1)
    finally:
        release_run_folder()


if __name__ == '__main__':
    main()
