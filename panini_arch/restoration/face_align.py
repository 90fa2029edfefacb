"""Align faces to the FFHQ 5-point template (coordinates are (x, y) pixels, images numpy (H, W, C))."""
import cv2
import numpy as np

# Left eye, right eye, nose tip, left and right mouth corner of an FFHQ face
# at 512 x 512 (the template facexlib's FaceRestoreHelper aligns to).
FFHQ_TEMPLATE_512 = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                              [201.26117, 371.41043], [313.08905, 371.15118]])
FILL_BGR = (135, 133, 132)


def face_template(size):
    """The 5-point template scaled to a ``size`` x ``size`` crop: (5, 2) float."""
    return FFHQ_TEMPLATE_512 * (size / 512.0)


def align_face(img, landmarks, size):
    """Warp the face with ``landmarks`` onto the template.

    Args:
        img (ndarray): (H, W, 3) uint8 BGR photo.
        landmarks (ndarray): (5, 2) eye, eye, nose, mouth, mouth positions in ``img``.
        size (int): side of the aligned crop.

    Returns:
        tuple: crop (size, size, 3) uint8 and the 2x3 affine matrix photo -> crop.
    """
    affine = cv2.estimateAffinePartial2D(np.asarray(landmarks, np.float32), face_template(size).astype(np.float32),
                                         method=cv2.LMEDS)[0]
    crop = cv2.warpAffine(img, affine, (size, size), borderMode=cv2.BORDER_CONSTANT, borderValue=FILL_BGR)
    return crop, affine
