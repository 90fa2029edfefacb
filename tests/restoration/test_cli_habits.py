"""GFPGAN/CodeFormer command-line habits of ``panini-restore``: ``-s``, ``-w``, batched ``--aligned``
folders, ``--draw_box`` and the tiled RRDBNet background upsampler (tiny random nets throughout)."""
import cv2
import numpy as np
import pytest
import torch
from basicsr.archs.rrdbnet_arch import RRDBNet

from panini_arch.archs.presets import build_panini
from panini_arch.inference import main, parse_args
from panini_arch.restoration.background import BackgroundUpsampler, load_rrdbnet, tile_outputs
from panini_arch.restoration.face_detect import FaceDetector
from panini_arch.restoration.face_restorer import PaniniRestorer, prior_weight_to_bias

CPU = ['--arch', 'tiny', '--device', 'cpu']


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    """A seeded tiny Panini-Net saved as a checkpoint, so that separate runs use the same weights."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('net') / 'tiny.pth'
    torch.save({'params': build_panini('tiny').state_dict()}, path)
    return str(path)


def tiny_rrdbnet(scale, seed=0):
    """A random RRDBNet with one block and 8 features (receptive field radius ~19 px of its input grid)."""
    torch.manual_seed(seed)
    return RRDBNet(3, 3, scale=scale, num_feat=8, num_block=1, num_grow_ch=4).eval()


def tiled(net, img, tile, pad):
    """The parts of :func:`tile_outputs` put together: (1, 3, H * scale, W * scale)."""
    out = torch.full((1, 3, img.shape[2] * net.scale, img.shape[3] * net.scale), float('nan'))
    for (top, left), part in tile_outputs(net, img, tile, pad):
        out[:, :, top:top + part.shape[2], left:left + part.shape[3]] = part
    return out


def test_s_is_upscale_and_w_is_one_minus_prior_weight():
    assert parse_args(['-i', 'x', '-s', '3']).upscale == 3
    assert parse_args(['-i', 'x', '-w', '0.7']).prior_weight == pytest.approx(0.3)
    assert parse_args(['-i', 'x', '--fidelity_weight', '0.5']).prior_weight == 0.5
    assert parse_args(['-i', 'x', '--prior_weight', '0.2']).prior_weight == 0.2
    assert parse_args(['-i', 'x']).prior_weight is None
    # CodeFormer's direction: w = 0 trusts the prior (positive bias), w = 1 keeps the input (negative bias).
    assert prior_weight_to_bias(parse_args(['-i', 'x', '-w', '0']).prior_weight) > 13
    assert prior_weight_to_bias(parse_args(['-i', 'x', '-w', '1']).prior_weight) < -13


@pytest.mark.parametrize('args, message', [(['-w', '0.5', '--prior_weight', '0.5'], 'not allowed with'),
                                           (['-w', '1.5'], 'must be in [0, 1]'), (['-s', '0'], 'must be > 0'),
                                           (['--aligned', '--draw_box'], 'whole photos'),
                                           (['--aligned', '--bg_upsampler', 'realesrgan'], 'whole photos'),
                                           (['--bg_path', 'RealESRGAN_x2plus.pth'], '--bg_upsampler realesrgan'),
                                           (['--bg_tile', '-1'], 'must be >= 0')])
def test_bad_habit_combinations_are_refused(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        parse_args(['-i', 'x'] + args)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_aligned_folder_batched_across_files_equals_one_at_a_time(tmp_path, astronaut, tiny_checkpoint, monkeypatch):
    src = tmp_path / 'faces'
    src.mkdir()
    crops = [(60, 160, 130), (40, 150, 160), (80, 170, 110), (0, 0, 64), (60, 200, 96)]
    for idx, (top, left, side) in enumerate(crops):
        cv2.imwrite(str(src / f'f{idx}.png'), astronaut[top:top + side, left:left + side])
    cv2.imwrite(str(src / 'f2b.png'), astronaut[:50, :70])  # not square: fails alone, its batch goes on
    batches = []
    restore_faces = PaniniRestorer.restore_faces

    def counting(self, crops):
        batches.append(len(crops))
        return restore_faces(self, crops)

    monkeypatch.setattr(PaniniRestorer, 'restore_faces', counting)
    results = {}
    for size in (4, 1):
        batches.clear()
        out = tmp_path / f'out{size}'
        code = main(['-i', str(src), '-o', str(out), '--model_path', tiny_checkpoint, '--aligned',
                     '--batch_size', str(size)] + CPU)
        assert code == 1  # the non-square file
        results[size] = ({p.name: cv2.imread(str(p)).astype(int) for p in (out / 'restored_faces').iterdir()},
                         list(batches))
    assert results[4][1] == [3, 2] and results[1][1] == [1] * 5  # f0 f1 f2 (f2b fails) f3 | f4 ; one per file
    faces4, faces1 = results[4][0], results[1][0]
    assert sorted(faces4) == sorted(faces1) == [f'f{i}_00.png' for i in range(5)]
    for name in faces1:
        assert np.abs(faces4[name] - faces1[name]).max() <= 1, name  # float reordering may move a rounding
    assert len({faces1[name].tobytes() for name in faces1}) == 5


def test_draw_box_marks_the_detected_face(tmp_path, astronaut, tiny_checkpoint, capsys):
    cv2.imwrite(str(tmp_path / 'a.png'), astronaut)
    assert main(['-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '--model_path', tiny_checkpoint,
                 '--detector', 'haar', '--draw_box', '-s', '2'] + CPU) == 0
    result = cv2.imread(str(tmp_path / 'out' / 'restored_imgs' / 'a.png')).astype(int)
    face = FaceDetector('haar').detect(astronaut)[0]
    x0, y0, x1, y1 = ((face.box + 0.5) * 2 - 0.5).round().astype(int)
    green = (result == [0, 255, 0]).all(axis=2)
    assert green[y0, x0:x1].mean() > 0.9 and green[y0:y1, x1].mean() > 0.9
    assert not green[y0 + 4:y1 - 4, x0 + 4:x1 - 4].any()
    for x, y in ((face.landmarks + 0.5) * 2 - 0.5).round().astype(int):
        assert (result[y, x] == [0, 0, 255]).all()


@pytest.mark.parametrize('scale, pad', [(2, 24), (4, 24)])
def test_tiled_background_equals_untiled_away_from_the_border(scale, pad):
    net = tiny_rrdbnet(scale)
    img = torch.rand(1, 3, 94, 126, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = net(img)
    tiles = tiled(net, img, 16, pad)
    assert tiles.shape == whole.shape == (1, 3, 94 * scale, 126 * scale) and not tiles.isnan().any()
    margin = 4 * scale
    inner = (slice(None), slice(None), slice(margin, -margin), slice(margin, -margin))
    assert (tiles[inner] - whole[inner]).abs().max() < 1e-5
    assert (tiled(net, img, 16, 0)[inner] - whole[inner]).abs().max() > 1e-3  # the overlap is what matters
    assert torch.equal(tiled(net, img, 0, pad), whole)  # --bg_tile 0: one tile, the whole image


def test_background_upsampler_gives_the_asked_size_from_odd_photos():
    upsampler = BackgroundUpsampler(tiny_rrdbnet(2), torch.device('cpu'), tile=16, tile_pad=6)
    photo = np.random.default_rng(0).integers(0, 256, (31, 45, 3), dtype=np.uint8)
    assert upsampler(photo, 2).shape == (62, 90, 3)
    assert upsampler(photo, 3).shape == (93, 135, 3)
    assert upsampler(photo, 1.5).dtype == np.uint8


def test_realesrgan_weights_load_strictly_with_their_size_read_from_the_file(tmp_path):
    net = tiny_rrdbnet(2)
    path = tmp_path / 'RealESRGAN_x2plus.pth'
    torch.save({'params_ema': net.state_dict()}, path)
    loaded = load_rrdbnet(str(path))
    assert loaded.scale == 2 and len(loaded.body) == 1
    img = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        assert torch.equal(loaded(img), net(img))
    with pytest.raises(FileNotFoundError, match=r'--bg_path.*Real-ESRGAN/releases'):
        load_rrdbnet(str(tmp_path / 'missing.pth'))
    with pytest.raises(FileNotFoundError, match='needs --bg_path'):
        load_rrdbnet(None)
    extra = dict(net.state_dict(), **{'extra.weight': torch.zeros(1)})
    torch.save({'params_ema': extra}, path)
    with pytest.raises(RuntimeError, match=r'--bg_path.*do not fit.*extra\.weight.*Real-ESRGAN/releases'):
        load_rrdbnet(str(path))
    torch.save({'params_ema': {'conv.weight': torch.zeros(3, 3, 3, 3)}}, path)
    with pytest.raises(RuntimeError, match=r'does not hold RRDBNet weights.*--bg_path'):
        load_rrdbnet(str(path))
    path.write_bytes(b'PK\x03\x04 truncated')
    with pytest.raises(RuntimeError, match=r'--bg_path.*RealESRGAN_x2plus\.pth.*truncated'):
        load_rrdbnet(str(path))


def test_cli_realesrgan_background_replaces_lanczos(tmp_path, astronaut, tiny_checkpoint, capsys):
    small = cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / 'a.png'), small)
    weights = tmp_path / 'RealESRGAN_x2plus.pth'
    torch.save({'params_ema': tiny_rrdbnet(2).state_dict()}, weights)
    common = ['-i', str(tmp_path / 'a.png'), '--model_path', tiny_checkpoint, '--detector', 'haar'] + CPU
    assert main(common + ['-o', str(tmp_path / 'bg'), '--bg_upsampler', 'realesrgan', '--bg_path', str(weights),
                          '--bg_tile', '64', '--bg_tile_pad', '10']) == 0
    assert 'Background: RRDBNet x2' in capsys.readouterr().out
    assert main(common + ['-o', str(tmp_path / 'plain')]) == 0
    with_bg = cv2.imread(str(tmp_path / 'bg' / 'restored_imgs' / 'a.png')).astype(int)
    plain = cv2.imread(str(tmp_path / 'plain' / 'restored_imgs' / 'a.png')).astype(int)
    assert with_bg.shape == plain.shape == (320, 320, 3)
    assert np.abs(with_bg[:20, :20] - plain[:20, :20]).mean() > 5  # a random RRDBNet, not Lanczos, in the corner
    assert main(common + ['-o', str(tmp_path / 'x'), '--bg_upsampler', 'realesrgan']) == 2
    assert '--bg_path' in capsys.readouterr().err
