"""Colour class maps: overlays, legends, paletted PNG files.

`colorize` and `default_palette` (the PASCAL colour map without black) come
from `keras_fastfcn.data.palettes`, beside the datasets' own palettes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from PIL import ImageDraw

from keras_fastfcn.data.palettes import colorize
from keras_fastfcn.data.palettes import default_palette
from keras_fastfcn.utils.files import atomic_write_bytes

__all__ = [
    "colorize",
    "default_palette",
    "legend_image",
    "overlay",
    "save_class_map_png",
    "save_png",
]


def overlay(
    image: np.ndarray,
    class_map: np.ndarray,
    palette: np.ndarray,
    alpha: float = 0.5,
) -> np.ndarray:
    """Blend the colourised `class_map` over uint8 `image` `(height, width,
    3)`: `round((1 - alpha) * image + alpha * colour)`."""
    image = np.asarray(image)
    if image.shape[:2] != np.shape(class_map):
        raise ValueError(
            f"Image {image.shape[:2]} and class map {np.shape(class_map)} "
            "differ in size."
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    colours = colorize(class_map, palette).astype(np.float32)
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colours
    return np.round(blended).astype(np.uint8)


def legend_image(
    class_names: Sequence[str],
    palette: np.ndarray,
    rows_per_column: int = 30,
) -> np.ndarray:
    """A uint8 RGB legend: a colour swatch and `"id name"` per class."""
    palette = np.asarray(palette, np.uint8)
    if len(class_names) > len(palette):
        raise ValueError(
            f"{len(class_names)} class names but only {len(palette)} "
            "palette colours."
        )
    row_h, swatch, col_w = 18, 14, 180
    rows = min(len(class_names), rows_per_column)
    columns = -(-len(class_names) // rows_per_column)
    canvas = Image.new("RGB", (col_w * columns, row_h * rows + 4), "white")
    draw = ImageDraw.Draw(canvas)
    for index, name in enumerate(class_names):
        x = 4 + col_w * (index // rows_per_column)
        y = 4 + row_h * (index % rows_per_column)
        colour = tuple(int(v) for v in palette[index])
        draw.rectangle(
            [x, y, x + swatch, y + swatch - 2], fill=colour, outline="black"
        )
        draw.text((x + swatch + 6, y + 1), f"{index} {name}", fill="black")
    return np.asarray(canvas)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save a uint8 RGB `(height, width, 3)` image as PNG (atomically)."""
    atomic_write_bytes(Path(path), _png_bytes(Image.fromarray(image)))


def save_class_map_png(
    path: str | os.PathLike, class_map: np.ndarray, palette: np.ndarray
) -> None:
    """Save a class map as a paletted PNG (atomically).

    Pixel values are the class ids (read back exactly with
    `np.asarray(Image.open(path))`); viewers show the palette colours.
    """
    class_map = np.asarray(class_map)
    palette = np.asarray(palette, np.uint8)
    if len(palette) > 256:
        raise ValueError(
            f"A paletted PNG holds at most 256 classes, not {len(palette)}."
        )
    if class_map.size and (
        class_map.min() < 0 or class_map.max() >= len(palette)
    ):
        raise ValueError(
            f"Class map values span [{class_map.min()}, {class_map.max()}] "
            f"but the palette has {len(palette)} colours; pass a palette "
            "with one colour per class."
        )
    image = Image.fromarray(class_map.astype(np.uint8))  # mode "L"
    image.putpalette(palette.reshape(-1).tolist())  # "L" -> "P"
    atomic_write_bytes(Path(path), _png_bytes(image))
