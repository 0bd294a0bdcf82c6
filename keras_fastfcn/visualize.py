"""Colour class maps: overlays, legends, paletted PNG files.

`colorize` and `default_palette` (the PASCAL colour map without black) come
from `keras_fastfcn.data.palettes`, beside the datasets' own palettes.
"""

from __future__ import annotations

import io
import os
from typing import Sequence

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

from keras_fastfcn.data.palettes import colorize
from keras_fastfcn.data.palettes import default_palette
from keras_fastfcn.utils.files import atomic_write_bytes

__all__ = [
    "classes_present",
    "colorize",
    "comparison_figure",
    "default_palette",
    "font",
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


def font(size: int = 14) -> ImageFont.ImageFont:
    """Pillow's built-in font at `size` pixels (its small bitmap font on a
    Pillow without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, face) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=face)
    return right - left, bottom - top


def classes_present(
    *class_maps: np.ndarray | None, num_classes: int, ignore_label: int = 255
) -> list[int]:
    """Sorted ids in `[0, num_classes)` occurring in any of `class_maps`
    (`None` entries and `ignore_label` pixels are skipped)."""
    found: set[int] = set()
    for class_map in class_maps:
        if class_map is None:
            continue
        values = np.unique(np.asarray(class_map))
        found.update(
            int(v) for v in values if 0 <= v < num_classes and v != ignore_label
        )
    return sorted(found)


# Layout of `comparison_figure`, in pixels.
FIGURE_MARGIN = 8
FIGURE_TITLE_HEIGHT = 24
LEGEND_ROW_HEIGHT = 22
LEGEND_SWATCH = 14


def _resized(array: np.ndarray, size: tuple[int, int], nearest: bool):
    """`array` (uint8 image or class map) resized to `(width, height)`."""
    if array.shape[1::-1] == size:
        return array
    if nearest:
        picture = Image.fromarray(array.astype(np.int32), mode="I")
        return np.asarray(picture.resize(size, Image.NEAREST)).astype(
            array.dtype
        )
    return np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR))


def comparison_figure(
    image: np.ndarray,
    prediction: np.ndarray,
    palette: np.ndarray,
    class_names: Sequence[str],
    label: np.ndarray | None = None,
    ignore_label: int = 255,
    title: str | None = None,
    alpha: float = 0.6,
    max_panel_width: int = 480,
) -> np.ndarray:
    """Image | ground truth | prediction, titled, with a legend below.

    The ground truth (left out when `label` is `None`) and the prediction
    are drawn over the image with `overlay`; ignored ground-truth pixels
    show the image alone. The legend lists exactly the classes present in
    the ground truth or the prediction (`classes_present`): a colour swatch
    and the class name each, in class-id order, wrapped into rows.

    Panels are `panel_width = min(width, max_panel_width)` pixels wide (the
    height scaled alike), `FIGURE_MARGIN` apart and from the border, under a
    `FIGURE_TITLE_HEIGHT` title row; with `title`, one more title row is
    on top.

    Args:
        image: uint8 RGB `(height, width, 3)`.
        prediction: int class ids `(height, width)`.
        palette: uint8 `(num_classes, 3)`.
        class_names: one name per class.
        label: optional int ground truth `(height, width)`.
        ignore_label: ground-truth value of unlabelled pixels.
        title: optional line above the panels (e.g. the file name).
        alpha: opacity of the class colours over the image.
        max_panel_width: largest panel width; larger images are shrunk.

    Returns:
        uint8 RGB `(figure_height, panels * (panel_width + margin) + margin,
        3)`.
    """
    image = np.asarray(image, np.uint8)
    prediction = np.asarray(prediction)
    palette = np.asarray(palette, np.uint8)
    height, width = image.shape[:2]
    for name, array in (("prediction", prediction), ("label", label)):
        if array is not None and np.shape(array) != (height, width):
            raise ValueError(
                f"{name} {np.shape(array)} and image {(height, width)} differ "
                "in size."
            )
    num_classes = len(class_names)
    panel_w = min(width, int(max_panel_width))
    panel_h = max(1, round(height * panel_w / width))
    size = (panel_w, panel_h)
    picture = _resized(image, size, nearest=False)
    panels = [("image", picture)]
    if label is not None:
        label = _resized(np.asarray(label), size, nearest=True)
        known = (label >= 0) & (label < num_classes) & (label != ignore_label)
        truth = overlay(picture, np.where(known, label, 0), palette, alpha)
        truth[~known] = picture[~known]
        panels.append(("ground truth", truth))
    shown = _resized(prediction, size, nearest=True)
    panels.append(("prediction", overlay(picture, shown, palette, alpha)))

    present = classes_present(
        label, shown, num_classes=num_classes, ignore_label=ignore_label
    )
    margin, title_h = FIGURE_MARGIN, FIGURE_TITLE_HEIGHT
    figure_w = len(panels) * (panel_w + margin) + margin
    text_face = font(14)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    entries = []  # (x, row, class id)
    x, row = margin, 0
    for class_id in present:
        text_w = _text_size(measure, str(class_names[class_id]), text_face)[0]
        entry_w = LEGEND_SWATCH + 6 + text_w + 16
        if x > margin and x + entry_w > figure_w - margin:
            x, row = margin, row + 1
        entries.append((x, row, class_id))
        x += entry_w
    legend_rows = row + 1 if entries else 0
    top = margin + (title_h if title else 0)
    panels_bottom = top + title_h + panel_h
    figure_h = panels_bottom + margin + legend_rows * LEGEND_ROW_HEIGHT
    canvas = Image.new("RGB", (figure_w, figure_h + margin), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((margin, margin + 2), title, fill="black", font=font(16))
    for index, (name, panel) in enumerate(panels):
        left = margin + index * (panel_w + margin)
        text_w = _text_size(draw, name, text_face)[0]
        draw.text(
            (left + (panel_w - text_w) // 2, top + 4),
            name,
            fill="black",
            font=text_face,
        )
        canvas.paste(Image.fromarray(panel), (left, top + title_h))
    for x, row, class_id in entries:
        y = panels_bottom + margin + row * LEGEND_ROW_HEIGHT
        colour = tuple(int(v) for v in palette[class_id])
        draw.rectangle(
            [x, y, x + LEGEND_SWATCH - 1, y + LEGEND_SWATCH - 1],
            fill=colour,
            outline="black",
        )
        draw.text(
            (x + LEGEND_SWATCH + 6, y - 1),
            str(class_names[class_id]),
            fill="black",
            font=text_face,
        )
    return np.asarray(canvas)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save a uint8 RGB `(height, width, 3)` image as PNG (atomically)."""
    atomic_write_bytes(path, _png_bytes(Image.fromarray(image)))


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
    atomic_write_bytes(path, _png_bytes(image))
