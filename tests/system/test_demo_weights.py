"""``scripts/demo.py --weights DIR``: random-weight files in the published layouts (small sizes) end to end."""
import os
import re

import pytest
import torch

import panini_arch  # noqa: F401  (before basicsr)
import demo_weights
from demo import main
from panini_arch.archs.gpen_arch import GPEN
from basicsr.utils.registry import ARCH_REGISTRY

from official_layouts import official_file, rule_state_dict, small_panini_layout

SMALL = {  # the published files' layouts at test sizes (published: 512 -> 1024 / 64 -> 1024, 512, 512)
    'GFPGANv1.4.pth': dict(type='GFPGANv1Clean', out_size=64, num_style_feat=32, channel_multiplier=2,
                           narrow=1 / 16, num_mlp=2, input_is_latent=True, different_w=True, sft_half=True,
                           fix_decoder=False, decoder_load_path=None),
    'GPEN-BFR-512.pth': dict(type='GPEN', size=64, narrow=1 / 16, style_dim=32, n_mlp=2),
}


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """panini_mfr_latest.pth and panini_sr_latest.pth (the released layout, 64 -> 128), GFPGANv1.4.pth
    (params_ema) and GPEN-BFR-512.pth (a bare state dict)."""
    folder = tmp_path / 'weights'
    folder.mkdir()
    for name in ('mfr', 'sr'):
        layout = small_panini_layout(name, in_size=64, out_size=128, narrow=1 / 16, num_style_feat=32, rrdb_channels=8)
        torch.save(official_file(rule_state_dict(layout, 'generator.')), folder / f'panini_{name}_latest.pth')
    torch.manual_seed(0)
    gfpgan = ARCH_REGISTRY.get('GFPGANv1Clean')(**{k: v for k, v in SMALL['GFPGANv1.4.pth'].items() if k != 'type'})
    torch.save({'params_ema': gfpgan.state_dict()}, folder / 'GFPGANv1.4.pth')
    torch.save(GPEN(**{k: v for k, v in SMALL['GPEN-BFR-512.pth'].items() if k != 'type'}).state_dict(),
               folder / 'GPEN-BFR-512.pth')
    published = demo_weights.test_options

    def small_options(name):
        opt = published(name)
        opt['network_g'], opt['val']['input_size'] = SMALL[name], 64
        return opt

    monkeypatch.setattr(demo_weights, 'test_options', small_options)
    return folder


@pytest.mark.slow
def test_quick_demo_with_weights_reports_each_column_and_its_file(weights_dir, tmp_path, capsys):
    report = main(['--weights', str(weights_dir), '--quick', '-o', str(tmp_path / 'demo')])
    assert f'Report: {report}' in capsys.readouterr().out
    with open(report, encoding='utf-8') as f:
        page = f.read()
    for src in re.findall(r'src="([^"]+)"', page):
        assert os.path.isfile(tmp_path / 'demo' / src), src
    for column, file in (('Panini-Net FR', 'panini_mfr_latest.pth'), ('Panini-Net SR16', 'panini_sr_latest.pth'),
                         ('GFPGAN v1.4', 'GFPGANv1.4.pth'), ('GPEN-BFR-512', 'GPEN-BFR-512.pth')):
        assert f'<th>{column}</th>' in page
        assert re.search(f'<li>{column}: [^<]*{re.escape(file)} ', page), column
    assert '<li>Table 4, Fig. 7 and the prior-weight sweep: Panini-Net FR</li>' in page
    faces = ('astronaut', 'grace_hopper', 'lfw099')
    scores = r'(<td>\d+\.\d\d</td>){5}(<td>-?[01]\.\d{3}</td>){5}</tr>'  # bicubic, FR, SR16, GFPGAN, GPEN
    assert len(re.findall(scores, page)) == len(faces)
    for name in faces:
        restored = tmp_path / 'demo' / 'images' / 'restore'
        assert all((restored / column / f'{name}.png').is_file()
                   for column in ('restored', 'bicubic', 'panini_net_sr16', 'gfpgan_v1_4', 'gpen_bfr_512'))
    assert len(re.findall(r'<tr><td>\d+</td><td>[\d.]+</td><td>[\d.]+ &plusmn;', page)) == 4  # Table 4's r
    assert 'Prior weight' in page and len(re.findall(r'<br>[\d.]+</td>', page)) == 2 * 5  # 2 faces x 5 biases
    assert 'Training curves' not in page


def test_weights_folder_without_panini_names_the_files_it_looks_for(tmp_path):
    (tmp_path / 'GPEN-BFR-512.pth').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match=r'holds no Panini-Net file.*panini_mfr_latest.pth'):
        demo_weights.find_weights(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='is not a folder'):
        demo_weights.find_weights(str(tmp_path / 'absent'))


def test_weights_mode_refuses_training_options(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(['--weights', str(tmp_path), '--panini_iters', '5'])
    assert '--weights trains nothing' in capsys.readouterr().err
