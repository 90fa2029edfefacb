"""The one weight loader, the authors'-layout converter at its edge, "which net, which weights", atomic writes."""
import argparse
import os

import pytest
import torch

import panini_arch  # noqa: F401  (registers the architectures)
from panini_arch.archs.official_convert import panini_generator, state_dict_for
from panini_arch.archs.presets import PRESETS, build_generator, build_panini
from panini_arch.inference import load_net, parse_args
from panini_arch.utils.atomic import atomic_save, atomic_write_bytes, replacing
from panini_arch.utils.safe_load import verify_checksum
from panini_arch.utils.weights import load_weights

from cli import add_net_args, net_from_args  # scripts/cli.py (pytest.ini puts scripts/ on the path)
from official_layouts import official_file, rule_state_dict, small_panini_layout

SMALL = dict(in_size=64, out_size=128, narrow=1 / 16, num_style_feat=32, rrdb_channels=8)


@pytest.fixture(scope='module')
def released(tmp_path_factory):
    """A file in the layout of the authors' ``panini_mfr_latest.pth`` at test sizes (64 -> 128)."""
    path = tmp_path_factory.mktemp('released') / 'panini_mfr_latest.pth'
    torch.save(official_file(rule_state_dict(small_panini_layout('mfr', **SMALL), 'generator.')), path)
    return str(path)


def test_the_generic_loader_converts_only_where_it_is_asked_to(released):
    """Without ``convert`` an authors' file is a file that does not fit; with it, the converted weights load."""
    converted = panini_generator(torch.load(released, weights_only=True), released)
    net = build_panini(dict(type='PaniniNet', **converted.options))
    with pytest.raises(RuntimeError, match='panini_mfr_latest.pth do not fit the network'):
        load_weights(net, released)
    assert load_weights(net, released, convert=state_dict_for) is net
    assert all(torch.equal(net.state_dict()[key], value) for key, value in converted.state_dict.items())


def test_which_net_takes_the_options_of_an_authors_file_whatever_the_arch(released):
    net = build_generator(dict(type='PaniniNet', **PRESETS['fr']), released, 'params_ema')
    assert (net.in_size, net.out_size) == (64, 128) and not net.training
    restored = load_net(parse_args(['-i', 'x', '--model_path', released]))  # --arch fr, the default
    assert (restored.in_size, restored.out_size) == (64, 128)
    parser = argparse.ArgumentParser()
    add_net_args(parser)
    analysed = net_from_args(parser.parse_args(['--model_path', released]))  # the analyses' --arch fr default
    assert (analysed.in_size, analysed.out_size) == (64, 128)
    for key, value in net.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value) and torch.equal(analysed.state_dict()[key], value), key


def test_other_files_still_need_the_options_they_were_trained_with(tmp_path):
    torch.save({'params_ema': build_panini('tiny').state_dict()}, tmp_path / 'tiny.pth')
    with pytest.raises(RuntimeError, match='tiny.pth do not fit the network.*pass the matching --arch'):
        load_net(parse_args(['-i', 'x', '--model_path', str(tmp_path / 'tiny.pth')]))
    assert load_net(parse_args(['-i', 'x', '--arch', 'tiny', '--model_path', str(tmp_path / 'tiny.pth')])).in_size == 64


def test_atomic_writes_keep_the_old_file_on_failure_and_leave_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / 'face.png'
    atomic_write_bytes(b'old', target)
    with pytest.raises(ZeroDivisionError):
        with replacing(target) as tmp_path_name:
            with open(tmp_path_name, 'wb') as f:
                f.write(b'partial')
            1 / 0
    assert target.read_bytes() == b'old' and os.listdir(tmp_path) == ['face.png']
    with replacing(tmp_path / 'clip.mp4', keep_extension=True) as name:
        assert name.endswith('.tmp.mp4') and os.path.basename(name).startswith('.clip.')
        open(name, 'wb').close()
    assert sorted(os.listdir(tmp_path)) == ['clip.mp4', 'face.png']


def test_atomic_save_gives_the_same_bytes_and_a_checksum(tmp_path):
    state = {'params': {'w': torch.arange(4.)}}
    atomic_save(state, tmp_path / 'a.pth')
    atomic_save(state, tmp_path / 'b.pth')
    assert (tmp_path / 'a.pth').read_bytes() == (tmp_path / 'b.pth').read_bytes()
    verify_checksum(tmp_path / 'a.pth')
    data = bytearray((tmp_path / 'a.pth').read_bytes())
    data[len(data) // 2] ^= 1  # one bit flipped
    (tmp_path / 'a.pth').write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match='does not match its checksum'):
        verify_checksum(tmp_path / 'a.pth')
