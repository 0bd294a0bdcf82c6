"""Representative images for int8 calibration and parity checks."""

from __future__ import annotations

import os
from typing import Iterator
from typing import Sequence

import numpy as np
import tensorflow as tf

from keras_fastfcn.data import normalize
from keras_fastfcn.export.image_files import list_image_files
from keras_fastfcn.export.image_files import read_image


def calibration_images(
    sources: Sequence[str | os.PathLike],
    input_size: tuple[int, int],
    count: int = 100,
) -> Iterator[np.ndarray]:
    """Yield up to `count` images from `sources`, resized to `input_size`
    and normalised: float32 `(height, width, 3)`.

    Args:
        sources: image files, directories or `.txt` lists (see
            `list_image_files`), e.g. `["data/camvid/train.txt"]`.
        input_size: `(height, width)` of the exported model.
        count: int, at most this many images, spread evenly over the set.
    """
    files = list_image_files(sources)
    if count < len(files):
        picks = np.linspace(0, len(files) - 1, count).round().astype(int)
        files = [files[i] for i in picks]
    for path in files:
        pixels = tf.image.resize(read_image(path), input_size, antialias=True)
        yield normalize(pixels).numpy()
