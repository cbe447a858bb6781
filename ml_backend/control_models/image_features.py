"""Classical image features for learned image models: no downloaded weights, stable length for any image."""

from __future__ import annotations

import numpy as np
from skimage.feature import hog, local_binary_pattern
from skimage.transform import resize

#: Side of the square the image is resampled to before texture features (shape-independent length).
_SIDE = 128
_HIST_BINS = 32
_LBP_POINTS = 8
_THUMB = 12


def image_features(image: np.ndarray) -> np.ndarray:
    """A fixed-length vector: global statistics, intensity histogram, LBP texture, HOG shape and a thumbnail.

    `image` is float grayscale in [0, 1] (MediaResolver.image). The aspect ratio is kept as a feature because
    resampling to a square throws it away and it separates e.g. chest films from CT slices.
    """
    height, width = image.shape
    square = resize(image, (_SIDE, _SIDE), anti_aliasing=True).astype(np.float64)
    stats = [
        square.mean(),
        square.std(),
        *np.percentile(square, (5, 25, 50, 75, 95)),
        np.log(width / height),
        (square < 0.05).mean(),  # share of background (air, collimation)
    ]
    histogram, _ = np.histogram(square, bins=_HIST_BINS, range=(0.0, 1.0))
    lbp = local_binary_pattern((square * 255).astype(np.uint8), _LBP_POINTS, 1, method="uniform")
    lbp_hist, _ = np.histogram(lbp, bins=_LBP_POINTS + 2, range=(0, _LBP_POINTS + 2))
    shape = hog(square, orientations=9, pixels_per_cell=(32, 32), cells_per_block=(2, 2), feature_vector=True)
    thumbnail = resize(square, (_THUMB, _THUMB), anti_aliasing=True).ravel()
    return np.concatenate(
        [
            np.asarray(stats, dtype=np.float64),
            histogram / histogram.sum(),
            lbp_hist / lbp_hist.sum(),
            shape,
            thumbnail,
        ]
    ).astype(np.float32)


def crop_features(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Features of a (row0, col0, row1, col1) crop; tiny crops are padded by edge replication first."""
    r0, c0, r1, c1 = box
    crop = image[r0:r1, c0:c1]
    if min(crop.shape) < 8:
        crop = np.pad(crop, ((0, max(0, 8 - crop.shape[0])), (0, max(0, 8 - crop.shape[1]))), mode="edge")
    return image_features(crop)
