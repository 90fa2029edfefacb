"""panini-restore loses nothing: inputs never overwritten, outputs never collide, bad files cost only themselves.

In process, with the tiny untrained net and --aligned 64 px faces (or the Haar detector on tiny photos).
"""
import hashlib
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import TINY_NET_ARGS
from panini_arch.inference import main

TINY = [*TINY_NET_ARGS, '--detector', 'haar']


def face(seed, size=64):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), (5, 5), 0)


def checksums(folder):
    return {p: hashlib.sha256(open(os.path.join(folder, p), 'rb').read()).hexdigest()
            for p in sorted(os.listdir(folder)) if os.path.isfile(os.path.join(folder, p))}


def restore(*args):
    with pytest.warns(UserWarning, match='RANDOM WEIGHTS'):
        return main([str(a) for a in args] + TINY)


def test_output_folder_holding_the_input_is_refused_and_inputs_stay_unchanged(tmp_path, capsys):
    photos = tmp_path / 'out' / 'restored_imgs'
    photos.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(photos / f'{i}.png'), face(i))
    before = checksums(photos)
    for output in (tmp_path / 'out', photos):
        assert main(['-i', str(photos), '-o', str(output)] + TINY) == 2
        assert 'contains the input' in capsys.readouterr().err
    assert main(['-i', str(photos / '0.png'), '-o', str(tmp_path / 'out')] + TINY) == 2
    assert checksums(photos) == before


def test_colliding_stems_get_distinct_outputs_keeping_the_extension(tmp_path, capsys):
    src = tmp_path / 'in'
    src.mkdir()
    cv2.imwrite(str(src / 'face.png'), face(0))
    cv2.imwrite(str(src / 'face.jpg'), face(1))
    assert restore('-i', src, '-o', tmp_path / 'out', '--aligned') == 0
    written = sorted(os.listdir(tmp_path / 'out' / 'restored_imgs'))
    assert written == ['face_jpg.jpg', 'face_png.png']
    assert sorted(os.listdir(tmp_path / 'out' / 'restored_faces')) == ['face_jpg_00.png', 'face_png_00.png']
    assert 'Restored 2 face(s) in 2 of 2 file(s)' in capsys.readouterr().out


def test_existing_results_are_skipped_unless_overwrite(tmp_path, capsys):
    src = tmp_path / 'in'
    src.mkdir()
    cv2.imwrite(str(src / 'a.png'), face(0))
    out = tmp_path / 'out'
    assert restore('-i', src, '-o', out, '--aligned') == 0
    result = out / 'restored_imgs' / 'a.png'
    result.write_bytes(b'kept')  # marks the earlier result
    cv2.imwrite(str(src / 'b.png'), face(1))
    capsys.readouterr()
    assert restore('-i', src, '-o', out, '--aligned') == 0
    text = capsys.readouterr().out
    assert 'Skipped 1 file(s) already restored' in text and 'a.png' in text and result.read_bytes() == b'kept'
    assert (out / 'restored_imgs' / 'b.png').is_file()
    assert restore('-i', src, '-o', out, '--aligned', '--overwrite') == 0
    assert cv2.imread(str(result)).shape == (128, 128, 3)


def test_bad_files_are_reported_and_every_good_file_is_written(tmp_path, capsys):
    src = tmp_path / 'in'
    src.mkdir()
    for name in ('a.png', 'm.jpg', 'z.png'):
        cv2.imwrite(str(src / name), face(len(name)))
    (src / 'empty.png').write_bytes(b'')
    data = cv2.imencode('.jpg', face(5))[1].tobytes()
    (src / 'cut.jpg').write_bytes(data[:len(data) // 2])
    frames = [Image.fromarray(face(i)) for i in range(2)]
    frames[0].save(src / 'anim.gif', save_all=True, append_images=frames[1:])
    cv2.imwrite(str(src / 'wide.png'), face(6)[:32])
    (src / 'notes.txt').write_text('not an image')
    assert restore('-i', src, '-o', tmp_path / 'out', '--aligned') == 1
    text = capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / 'out' / 'restored_imgs')) == ['a.png', 'm.jpg', 'z.png']
    assert 'FAILED 4 of 7 file(s)' in text and 'Ignored (not an image or video): notes.txt' in text
    for name, reason in (('empty.png', 'empty'), ('cut.jpg', 'truncated JPEG'), ('anim.gif', '2 frames'),
                         ('wide.png', 'not square')):
        assert any(name in line and reason in line for line in text.splitlines()), (name, text)


def test_failed_write_is_a_failure_and_leaves_no_partial_file(tmp_path, capsys):
    src = tmp_path / 'in'
    src.mkdir()
    cv2.imwrite(str(src / 'a.png'), face(0))
    cv2.imwrite(str(src / 'b.png'), face(1))
    out = tmp_path / 'out'
    (out / 'restored_faces' / 'a_00.png').mkdir(parents=True)  # the target cannot be written
    assert restore('-i', src, '-o', out, '--aligned') == 1
    text = capsys.readouterr().out
    assert 'FAILED 1 of 2' in text and 'a_00.png' in text
    assert (out / 'restored_imgs' / 'b.png').is_file() and not (out / 'restored_imgs' / 'a.png').exists()
    assert not [p for p in out.rglob('*.tmp')]


@pytest.mark.parametrize('args, option', [(['--upscale', '0'], '--upscale'), (['--batch_size', '0'], '--batch_size'),
                                          (['--upscale', 'nan'], '--upscale'), (['--prior_weight', '2'], '--prior_weight'),
                                          (['--suffix', 'a/b'], '--suffix')])
def test_bad_command_line_values_name_the_option(tmp_path, capsys, args, option):
    with pytest.raises(SystemExit) as info:
        main(['-i', str(tmp_path), '-o', str(tmp_path / 'out')] + TINY + args)
    err = capsys.readouterr().err
    assert info.value.code == 2 and 'error: argument' in err and f'{option}:' in err  # -s/--upscale: an alias


def test_empty_input_folder_is_an_error(tmp_path, capsys):
    (tmp_path / 'in').mkdir()
    assert main(['-i', str(tmp_path / 'in'), '-o', str(tmp_path / 'out')] + TINY) == 2
    assert 'No image or video in' in capsys.readouterr().err


def test_tiny_photos_get_a_message_and_pass_through(tmp_path, capsys):
    src = tmp_path / 'in'
    src.mkdir()
    cv2.imwrite(str(src / 'dot.png'), face(0, 1))
    cv2.imwrite(str(src / 'strip.png'), face(1)[:5, :3])
    assert restore('-i', src, '-o', tmp_path / 'out', '--upscale', '1') == 0
    text = capsys.readouterr().out
    assert 'dot.png (1x1 px, too small' in text and 'strip.png (3x5 px, too small' in text
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'out' / 'restored_imgs' / 'strip.png')), face(1)[:5, :3])


def test_aligned_rgba_keeps_its_alpha_and_tiny_aligned_face_is_refused(tmp_path, capsys):
    src = tmp_path / 'in'
    src.mkdir()
    alpha = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))
    cv2.imwrite(str(src / 'cut.png'), np.dstack([face(0), alpha]))
    cv2.imwrite(str(src / 'speck.png'), face(1, 8))
    assert restore('-i', src, '-o', tmp_path / 'out', '--aligned') == 1
    result = cv2.imread(str(tmp_path / 'out' / 'restored_imgs' / 'cut.png'), cv2.IMREAD_UNCHANGED)
    assert result.shape == (128, 128, 4)
    assert np.abs(result[:, :, 3].astype(int) - cv2.resize(alpha, (128, 128))).max() <= 1
    assert 'speck.png' in capsys.readouterr().out
