"""Each registered class declares its options once; the options check reads them through the registries."""
import pytest
from torch.utils import data

import panini_arch  # noqa: F401  (registers everything)
from basicsr.utils.registry import DATASET_REGISTRY, MODEL_REGISTRY
from panini_arch.data.panini_degradation_dataset import PaniniDegradationDataset
from panini_arch.models.option_checks import OptionError, check_options
from panini_arch.utils.option_spec import Option, option_value


def problems(opt):
    with pytest.raises(OptionError) as info:
        check_options(opt)
    return str(info.value)


class DeclaringDataset(data.Dataset):
    """A dataset known only through the registry and its declaration."""
    OPTIONS = {'window': Option(3, 'int', 1, 9)}


@pytest.fixture
def declaring_dataset():
    DATASET_REGISTRY.register(DeclaringDataset)
    yield 'DeclaringDataset'
    DATASET_REGISTRY._obj_map.pop('DeclaringDataset')


def test_the_check_reads_a_registered_dataset_declaration(declaring_dataset):
    section = {'type': declaring_dataset, 'batch_size_per_gpu': 1, 'window': 12, 'windw': 2}
    message = problems({'datasets': {'train': section}})
    assert 'datasets.train.window: must be >= 1 and <= 9, got 12' in message
    assert "datasets.train.windw: unknown option; did you mean 'window'?" in message
    section.update(window=9)
    section.pop('windw')
    check_options({'datasets': {'train': section}})


@pytest.mark.parametrize('model_type, key, value, expected', [
    ('PaniniModel', 'net_d_reg_every', 0, 'train.net_d_reg_every: must be >= 1, got 0'),
    ('UDRLModel', 'moco_m', 1.0, 'train.moco_m: must be >= 0 and < 1, got 1.0'),
    ('PaniniModel', 'moco_m', 0.5, "train.moco_m: unknown option"),  # UDRL's option, not PaniniModel's
])
def test_model_train_options_come_from_the_model_class(model_type, key, value, expected):
    opt = {'model_type': model_type, 'is_train': True, 'train': {'total_iter': 1, key: value}}
    assert expected in problems(opt)


def test_basicsr_models_keep_the_checks_declared_for_them():
    """``SRModel`` cannot declare: its schedule and ``ema_decay`` are declared by the check; other keys pass."""
    opt = {'model_type': 'SRModel', 'is_train': True, 'train': {'total_iter': 0, 'ema_decay': 2, 'anything': 1}}
    message = problems(opt)
    assert 'train.total_iter: must be >= 1, got 0' in message and 'train.ema_decay: must be >= 0 and <= 1' in message
    assert 'anything' not in message


def test_classes_read_their_defaults_from_their_declarations():
    model = MODEL_REGISTRY.get('UDRLModel')
    assert option_value({}, model.TRAIN_OPTIONS, 'queue_size') == 65536
    assert option_value({'queue_size': 8}, model.TRAIN_OPTIONS, 'queue_size') == 8
    dataset = PaniniDegradationDataset({'io_backend': {'type': 'synthetic', 'num': 2, 'seed': 0}, 'gt_size': 64,
                                        'phase': 'train'})
    declared = PaniniDegradationDataset.OPTIONS
    assert dataset.in_size == declared['in_size'].default and dataset.deg.seed == declared['seed'].default
    assert dataset.source.output_dtype == declared['output_dtype'].default


def test_the_test_model_val_options_come_from_its_declaration():
    opt = {'model_type': 'FaceTestModel', 'val': {'input_size': 0, 'num_workers': -1, 'batch_size': 2}}
    message = problems(opt)
    assert 'val.input_size: must be >= 1, got 0' in message and 'val.num_workers: must be >= 0, got -1' in message
    assert 'batch_size' not in message
    assert MODEL_REGISTRY.get('FaceTestModel').VAL_OPTIONS['batch_size'].default == 1
