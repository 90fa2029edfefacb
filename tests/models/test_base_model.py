"""The models' save, training state, resume, load and device placement are the package's base model's methods;
BasicSR's own models get them only when the options name one of them (``apply_to_basicsr_models``)."""
import json
import subprocess
import sys

import pytest

from panini_arch.models.base_model import PaniniBaseModel
from panini_arch.models.face_test_model import FaceTestModel
from panini_arch.models.panini_model import PaniniModel
from panini_arch.models.udrl_model import UDRLModel

METHODS = ('model_to_device', 'load_network', 'save_network', 'training_state', 'save_training_state',
           'resume_training')


@pytest.mark.parametrize('model', [PaniniModel, UDRLModel, FaceTestModel])
def test_every_model_inherits_the_package_base_model(model):
    assert issubclass(model, PaniniBaseModel)
    for name in METHODS:
        method = getattr(model, name)
        assert method.__module__.startswith('panini_arch.models.'), (model.__name__, name, method.__module__)
        assert getattr(PaniniBaseModel, name).__module__ == 'panini_arch.models.base_model'


PROBE = r'''
import json, sys
import panini_arch.trainer
import basicsr.models.base_model as base_model
from panini_arch.trainer.patches import use_package_base_model
seen = []
for model_type in sys.argv[1:]:
    use_package_base_model({'model_type': model_type})
    seen.append(base_model.BaseModel.save_network.__module__)
print(json.dumps(seen))
'''


def probe(*model_types):
    result = subprocess.run([sys.executable, '-c', PROBE, *model_types], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_basicsr_models_get_the_package_methods_only_when_the_options_name_one():
    """Options of the package's models leave BasicSR's ``BaseModel`` alone; ``SRModel`` options give it the
    package's methods (what ``panini-train``, ``panini-test`` and BasicSR's ``train.py`` with the plugin do)."""
    assert probe('PaniniModel', 'UDRLModel', 'FaceTestModel', 'SRModel') == [
        'basicsr.models.base_model', 'basicsr.models.base_model', 'basicsr.models.base_model',
        'panini_arch.models.base_model']
