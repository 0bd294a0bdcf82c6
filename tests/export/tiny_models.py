"""Tiny models and generated images for the export tests."""

from __future__ import annotations

import io
from pathlib import Path

import keras
import numpy as np
from PIL import Image

import keras_fastfcn

NUM_CLASSES = 5
# CLI options that rebuild `tiny_model(name)` from a weights file.
TINY_CLI_OPTIONS = [
    "--backbone",
    "resnet18",
    "--num-classes",
    str(NUM_CLASSES),
    "--base-width",
    "8",
]


def neck_width(name: str) -> int:
    """JPU_X needs width / 2 >= 32 (its GroupNorm has 32 groups)."""
    return 64 if name.endswith("_jpux") else 16


def tiny_model(name: str = "encnet_jpu", seed: int = 0, **kwargs):
    """A ResNet-18 / width-8 model that runs a 64x64 image in well under a
    second, with weights drawn from `seed` (module-scoped fixtures run
    before the per-test seeding of `tests/conftest.py`)."""
    keras.utils.set_random_seed(seed)
    return keras_fastfcn.build_model(
        name,
        "resnet18",
        num_classes=NUM_CLASSES,
        base_width=8,
        neck_width=neck_width(name),
        **kwargs,
    )


def random_images(count: int, height: int, width: int, seed: int = 0):
    """Smooth random uint8 RGB images `(count, height, width, 3)` (noise
    blurred by upsampling, so that JPEG keeps them recognisable)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (count, 4, 4, 3)).astype(np.float32)
    rows = np.linspace(0, 3, height)
    cols = np.linspace(0, 3, width)
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, 3), np.minimum(c0 + 1, 3)
    fr, fc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
    top = coarse[:, r0][:, :, c0] * (1 - fc) + coarse[:, r0][:, :, c1] * fc
    bottom = coarse[:, r1][:, :, c0] * (1 - fc) + coarse[:, r1][:, :, c1] * fc
    smooth = top * (1 - fr) + bottom * fr
    noise = rng.normal(0, 12, smooth.shape)
    return np.clip(smooth + noise, 0, 255).round().astype(np.uint8)


def encode(image: np.ndarray, fmt: str = "PNG") -> bytes:
    """Encode a uint8 RGB image as PNG or JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


def write_images(folder: Path, images, fmt: str = "png") -> list[Path]:
    """Save images as `folder/image_<i>.<fmt>`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = folder / f"image_{i}.{fmt}"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths
