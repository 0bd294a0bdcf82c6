"""Training curves of one or more runs from their `history.csv`: a PNG a
person can read (one panel per metric, one colour per run, a legend).

    from keras_fastfcn.training_curves import read_history, curves_figure
    runs = {"JPU": read_history("runs/a/history.csv"),
            "dilated": read_history("runs/b/history.csv")}
    save_png("curves.png", curves_figure(runs))
"""

from __future__ import annotations

import csv
import math
import os
from typing import Mapping
from typing import Sequence

import numpy as np
from PIL import Image
from PIL import ImageDraw

from keras_fastfcn.utils import files
from keras_fastfcn.visualize import font

# (history column, panel title, scale): what `curves_figure` draws.
DEFAULT_PANELS = (
    ("val_logits_mean_iou", "val mIoU (%)", 100.0),
    ("loss", "training loss", 1.0),
)
RUN_COLORS = (
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (140, 86, 75),
)
PANEL_SIZE = (420, 300)
MARGIN = (56, 28, 16, 40)  # left, top, right, bottom of each panel's axes


def read_history(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """`{column: float array}` of a Keras `CSVLogger` / `history.csv`;
    empty cells (epochs without validation) are NaN."""
    text = files.read_text(path)
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise ValueError(f"{path} holds no epochs.")
    return {
        key: np.array([float(r[key]) if r[key] else np.nan for r in rows])
        for key in rows[0]
    }


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering `[low, high]`."""
    span = max(high - low, 1e-12)
    step = 10 ** math.floor(math.log10(span / count))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= count:
            step *= factor
            break
    start = math.floor(low / step) * step
    return [start + i * step for i in range(int((high - start) / step) + 2)]


def _panel(runs, column, title, scale) -> Image.Image:
    width, height = PANEL_SIZE
    left, top, right, bottom = MARGIN
    image = Image.new("RGB", PANEL_SIZE, "white")
    draw = ImageDraw.Draw(image)
    face, small = font(14), font(11)
    series = {
        label: (h["epoch"], h[column] * scale)
        for label, h in runs.items()
        if column in h and np.isfinite(h[column]).any()
    }
    draw.text((left, 6), title, fill="black", font=face)
    if not series:
        draw.text((left, height // 2), "no data", fill="gray", font=face)
        return image
    epochs = np.concatenate([e for e, _ in series.values()])
    values = np.concatenate([v[np.isfinite(v)] for _, v in series.values()])
    x_ticks = _ticks(0, float(epochs.max()))
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:  # a flat curve: centre it
        pad = max(abs(high) * 0.1, 1.0)
        low, high = low - pad, high + pad
    y_ticks = _ticks(low, high)
    x_low, x_high = x_ticks[0], x_ticks[-1]
    y_low, y_high = y_ticks[0], y_ticks[-1]

    def point(epoch, value):
        x = left + (epoch - x_low) / (x_high - x_low) * (width - left - right)
        y = height - bottom
        y -= (value - y_low) / (y_high - y_low) * (height - top - bottom)
        return (x, y)

    for tick in y_ticks:
        x0, y = point(x_low, tick)
        draw.line([(x0, y), (width - right, y)], fill=(225, 225, 225))
        draw.text((4, y - 7), f"{tick:g}", fill="black", font=small)
    for tick in x_ticks:
        x, y0 = point(tick, y_low)
        draw.line([(x, y0), (x, y0 + 4)], fill="black")
        draw.text((x - 6, y0 + 6), f"{tick:g}", fill="black", font=small)
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    draw.text(
        ((width - left) // 2, height - 16), "epoch", fill="black", font=small
    )
    for index, (label, (epoch, value)) in enumerate(series.items()):
        color = RUN_COLORS[index % len(RUN_COLORS)]
        keep = np.isfinite(value)
        points = [point(e, v) for e, v in zip(epoch[keep], value[keep])]
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        for x, y in points if len(points) < 30 else points[-1:]:
            draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=color)
    return image


def curves_figure(
    runs: Mapping[str, Mapping[str, np.ndarray]],
    panels: Sequence[tuple[str, str, float]] = DEFAULT_PANELS,
) -> np.ndarray:
    """One panel per `(column, title, scale)` of `panels`, a line per run
    (validation columns: only the epochs that have a value), and a legend
    below with each run's last value of the first panel's column.

    Args:
        runs: `{label: read_history(...)}`, at most 6 runs.
        panels: what to draw; default val mIoU (%) and training loss.

    Returns:
        uint8 RGB image `(height, width, 3)`.
    """
    if not runs:
        raise ValueError("curves_figure needs at least one run.")
    if len(runs) > len(RUN_COLORS):
        raise ValueError(f"At most {len(RUN_COLORS)} runs per figure.")
    images = [_panel(runs, *panel) for panel in panels]
    legend_height = 22 * len(runs) + 10
    width = PANEL_SIZE[0] * len(images)
    figure = Image.new("RGB", (width, PANEL_SIZE[1] + legend_height), "white")
    for index, image in enumerate(images):
        figure.paste(image, (index * PANEL_SIZE[0], 0))
    draw = ImageDraw.Draw(figure)
    column, title, scale = panels[0]
    for index, (label, history) in enumerate(runs.items()):
        y = PANEL_SIZE[1] + 6 + 22 * index
        color = RUN_COLORS[index % len(RUN_COLORS)]
        draw.rectangle([MARGIN[0], y + 3, MARGIN[0] + 24, y + 13], fill=color)
        text = label
        values = history.get(column)
        if values is not None and np.isfinite(values).any():
            last = values[np.isfinite(values)][-1] * scale
            best = np.nanmax(values) * scale
            text += f"   {title}: last {last:.2f}, best {best:.2f}"
        draw.text((MARGIN[0] + 32, y), text, fill="black", font=font(13))
    return np.asarray(figure)
