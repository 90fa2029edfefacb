"""The package's layers: what ``import panini_arch`` loads and changes, and what ``panini_arch.trainer`` changes."""
import json
import subprocess
import sys

PROBE = r'''
import json, sys
import panini_arch
import basicsr.data.data_sampler as sampler
import basicsr.models.base_model as base_model
import basicsr.utils.dist_util as dist_util
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY


def trainer_state():
    return {
        'save_network': base_model.BaseModel.save_network.__module__,
        'model_to_device': base_model.BaseModel.model_to_device.__module__,
        'training_state': hasattr(base_model.BaseModel, 'training_state'),
        'sampler': sampler.EnlargedSampler.__module__,
        'init_dist': dist_util.init_dist.__module__,
        'load_resume_state': sys.modules['basicsr.train'].load_resume_state.__module__,
    }


heavy = sorted({name.split('.')[0] for name in sys.modules
                if name.split('.')[0] in ('gfpgan', 'lpips', 'facexlib', 'facenet_pytorch')}
               | {name for name in sys.modules if name == 'basicsr.archs.inception'})
registered = [name in registry for name, registry in (('PaniniNet', ARCH_REGISTRY), ('GFPGANv1Clean', ARCH_REGISTRY),
              ('GPEN', ARCH_REGISTRY), ('UDRLPairDataset', DATASET_REGISTRY), ('UDRLModel', MODEL_REGISTRY),
              ('FID', METRIC_REGISTRY))]
before = trainer_state()
import panini_arch.trainer
print(json.dumps({'heavy': heavy, 'registered': registered, 'before': before, 'after': trainer_state()}))
'''


def test_import_panini_arch_registers_without_heavy_imports_or_trainer_changes():
    result = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['heavy'] == []
    assert all(report['registered'])
    assert report['before'] == {
        'save_network': 'basicsr.models.base_model', 'model_to_device': 'basicsr.models.base_model',
        'training_state': False, 'sampler': 'basicsr.data.data_sampler', 'init_dist': 'basicsr.utils.dist_util',
        'load_resume_state': 'basicsr.train'}
    assert report['after'] == {
        'save_network': 'panini_arch.trainer.checkpoint', 'model_to_device': 'panini_arch.trainer.patches',
        'training_state': True, 'sampler': 'panini_arch.trainer.checkpoint', 'init_dist': 'panini_arch.trainer.patches',
        'load_resume_state': 'panini_arch.trainer.checkpoint'}


def test_gfpgan_imported_after_panini_arch_replaces_the_stand_in():
    code = ('import panini_arch, gfpgan\n'
            'from basicsr.utils.registry import ARCH_REGISTRY\n'
            "print(ARCH_REGISTRY.get('GFPGANv1Clean').__module__)\n")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'gfpgan.archs.gfpganv1_clean_arch'
