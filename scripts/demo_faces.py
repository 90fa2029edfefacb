"""A small real-face set built offline from images that ship with installed packages.

Sources: scikit-image's astronaut (Eileen Collins) and matplotlib's Grace Hopper
photo (colour, aligned to the FFHQ template with 5 landmarks measured once with
facenet-pytorch's MTCNN), and scikit-image's ``lfw_subset`` (100 grey 25x25 LFW
faces, upscaled). Augmentation: horizontal flips, small shifts, rotations and
scalings of the alignment, colour jitter, and random tints of the grey LFW faces
(otherwise one colour identity would be all the colour the net ever sees).
"""
import os

import cv2
import numpy as np
import skimage.data
from matplotlib import cbook

from panini_arch.restoration.face_align import face_template
from panini_arch.utils.image_io import list_images

# (x, y) left eye, right eye, nose, left and right mouth corner (MTCNN, p > 0.999).
ASTRONAUT_LANDMARKS = np.array([[205.0, 101.7], [246.8, 103.7], [224.7, 129.0], [201.7, 139.2], [245.3, 141.9]])
GRACE_HOPPER_LANDMARKS = np.array([[221.7, 192.2], [309.8, 186.1], [269.4, 239.2], [232.7, 279.6], [306.6, 275.9]])
LFW_FACES = 100  # lfw_subset(): the first 100 of its 200 crops are faces


def colour_photos():
    """{name: ((H, W, 3) uint8 BGR photo, (5, 2) landmarks)} for the two colour portraits."""
    astronaut = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    hopper = cv2.imread(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    return {'astronaut': (astronaut, ASTRONAUT_LANDMARKS), 'grace_hopper': (hopper, GRACE_HOPPER_LANDMARKS)}


def lfw_faces(size):
    """The 100 LFW faces as (size, size, 3) uint8 BGR (grey) images, bicubic-upscaled."""
    faces = skimage.data.lfw_subset()[:LFW_FACES]
    return [cv2.cvtColor(cv2.resize((f * 255).round().astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC),
                         cv2.COLOR_GRAY2BGR) for f in faces]


def jittered_alignment(photo, landmarks, size, rng, strength=1.0):
    """Align ``photo`` to the template at ``size`` with a random small similarity on top.

    Rotation up to 6 degrees, scale +-5 %, shift +-3 % of ``size`` (times ``strength``);
    the photo's own pixels fill the frame (no border padding).
    """
    target = face_template(size).astype(np.float32)
    affine = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), target, method=cv2.LMEDS)[0]
    angle, scale = rng.uniform(-6, 6) * strength, 1 + rng.uniform(-0.05, 0.05) * strength
    jitter = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    jitter[:, 2] += rng.uniform(-0.03, 0.03, 2) * size * strength
    combined = jitter @ np.vstack([affine, [0, 0, 1]])
    return cv2.warpAffine(photo, combined, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101)


def augment(face, rng):
    """Flip, small shift/rotation and colour jitter of a (S, S, 3) uint8 BGR face."""
    size = face.shape[0]
    if rng.random() < 0.5:
        face = face[:, ::-1]
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-5, 5), 1 + rng.uniform(-0.04, 0.04))
    matrix[:, 2] += rng.uniform(-0.03, 0.03, 2) * size
    face = cv2.warpAffine(np.ascontiguousarray(face), matrix, (size, size), borderMode=cv2.BORDER_REFLECT101)
    return colour_jitter(face, rng)


def colour_jitter(face, rng):
    """Brightness/contrast +-10 %, saturation +-15 %, hue +-4 degrees (uint8 BGR in and out)."""
    hsv = cv2.cvtColor(face, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[:, :, 0] = (hsv[:, :, 0] + rng.uniform(-2, 2)) % 180
    hsv[:, :, 1] *= rng.uniform(0.85, 1.15)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    mean = out.mean()
    out = (out - mean) * rng.uniform(0.9, 1.1) + mean * rng.uniform(0.9, 1.1)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def tint(face, rng):
    """Colour a grey (S, S, 3) uint8 BGR face: a skin-like chroma plus a smooth random chroma field (Lab)."""
    size = face.shape[0]
    lab = cv2.cvtColor(face, cv2.COLOR_BGR2LAB).astype(np.float32)
    field = cv2.resize(rng.normal(0, 14, (4, 4, 2)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    lab[:, :, 1] += rng.uniform(4, 20) + field[:, :, 0]
    lab[:, :, 2] += rng.uniform(8, 30) + field[:, :, 1]
    return cv2.cvtColor(np.clip(lab + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)


def write_folder(folder, faces):
    """Write named faces as PNG with a BasicSR ``meta_info.txt``; returns the folder."""
    os.makedirs(folder, exist_ok=True)
    lines = []
    for name, face in faces:
        cv2.imwrite(os.path.join(folder, f'{name}.png'), face)
        lines.append(f'{name}.png ({face.shape[0]},{face.shape[1]},3)\n')
    with open(os.path.join(folder, 'meta_info.txt'), 'w', encoding='utf-8') as f:
        f.writelines(lines)
    return folder


def build_face_set(out_dir, size=128, copies=8, test_lfw=12, seed=0):
    """Write ``out_dir/train`` and ``out_dir/test`` face folders (size x size PNG + meta_info.txt).

    Train: ``copies`` augmented alignments of the astronaut and augmented copies of
    the LFW faces not held out (``copies`` // 4 + 1 each: the first grey, the others
    tinted). Test (held out, never trained on): Grace Hopper and the last ``test_lfw``
    LFW faces.

    Returns:
        tuple: (train folder, test folder).
    """
    rng = np.random.default_rng(seed)
    photos = colour_photos()
    astronaut, landmarks = photos['astronaut']
    train = [(f'astronaut_{k:02d}', colour_jitter(jittered_alignment(astronaut, landmarks, size, rng), rng))
             for k in range(copies)]
    lfw = lfw_faces(size)
    for i, face in enumerate(lfw[:-test_lfw]):
        train += [(f'lfw{i:03d}_{k}', augment(tint(face, rng) if k else face, rng)) for k in range(copies // 4 + 1)]
    test = aligned_photos(photos, ('grace_hopper', ), size) + last_lfw_faces(lfw, test_lfw)
    return write_folder(os.path.join(out_dir, 'train'), train), write_folder(os.path.join(out_dir, 'test'), test)


def aligned_photos(photos, names, size):
    """[(name, face)] of the named colour photos aligned to the template at ``size`` (no jitter)."""
    rng = np.random.default_rng(0)  # unused by a zero-strength alignment
    return [(name, jittered_alignment(*photos[name], size, rng, strength=0)) for name in names]


def last_lfw_faces(lfw, count):
    """[(name, face)] of the last ``count`` LFW faces, named by their index in the subset."""
    return [(f'lfw{LFW_FACES - count + i:03d}', face) for i, face in enumerate(lfw[len(lfw) - count:])]


def shipped_faces(out_dir, size, num_lfw=4):
    """Every shipped colour photo and the last ``num_lfw`` LFW faces, aligned at ``size``, in ``out_dir``
    (PNG + meta_info.txt): the faces a pre-trained net restores, nothing held out. Returns the folder."""
    photos = colour_photos()
    faces = aligned_photos(photos, sorted(photos), size) + last_lfw_faces(lfw_faces(size), num_lfw)
    return write_folder(out_dir, faces)


def user_face_set(hq_dir, out_dir, size=128, test_fraction=0.1, copies=4, seed=0):
    """Split the user's aligned HQ faces (any square size) into augmented train / held-out test folders."""
    faces = [(os.path.splitext(os.path.basename(p))[0], cv2.imread(p, cv2.IMREAD_COLOR)) for p in list_images(hq_dir)]
    faces = [(n, cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)) for n, f in faces if f is not None]
    if len(faces) < 2:
        raise ValueError(f'--hq_dir {hq_dir} needs at least 2 readable face images, found {len(faces)}')
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(faces))
    num_test = max(1, int(round(len(faces) * test_fraction)))
    test = [faces[i] for i in sorted(order[:num_test])]
    train = [(f'{faces[i][0]}_{k}', augment(faces[i][1], rng)) for i in sorted(order[num_test:]) for k in range(copies)]
    return write_folder(os.path.join(out_dir, 'train'), train), write_folder(os.path.join(out_dir, 'test'), test)
