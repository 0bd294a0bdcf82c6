"""Evaluation pictures: image | ground truth | prediction figures with a
legend of the classes present, and the labelled confusion matrix."""

import numpy as np
import pytest
from PIL import Image

from keras_fastfcn.metrics import CELL_NUMBERS_MAX_CLASSES
from keras_fastfcn.metrics import _blues
from keras_fastfcn.metrics import cell_text
from keras_fastfcn.metrics import pil_confusion_layout
from keras_fastfcn.metrics import plot_confusion_matrix
from keras_fastfcn.metrics import row_percentages
from keras_fastfcn.visualize import FIGURE_MARGIN
from keras_fastfcn.visualize import FIGURE_TITLE_HEIGHT
from keras_fastfcn.visualize import LEGEND_SWATCH
from keras_fastfcn.visualize import classes_present
from keras_fastfcn.visualize import comparison_figure
from keras_fastfcn.visualize import overlay

# Saturated colours that neither the grey image, the black / anti-aliased
# grey text nor the white background can produce.
PALETTE = np.array(
    [[255, 0, 0], [0, 200, 0], [0, 0, 255], [255, 0, 255], [0, 255, 255]],
    np.uint8,
)
NAMES = ["red", "green", "blue", "magenta", "cyan"]


def _maps(height=40, width=60):
    image = np.full((height, width, 3), 128, np.uint8)
    label = np.zeros((height, width), np.int64)
    label[:, width // 2 :] = 2
    label[:5] = 255
    prediction = np.full((height, width), 2)
    prediction[:, : width // 3] = 3
    return image, label, prediction


def _colour_count(region, colour):
    return int(np.all(region == np.asarray(colour), axis=-1).sum())


def test_figure_panels_and_legend_of_present_classes():
    image, label, prediction = _maps()
    figure = comparison_figure(
        image, prediction, PALETTE, NAMES, label=label, title="x.png"
    )
    margin = FIGURE_MARGIN
    assert figure.dtype == np.uint8
    assert figure.shape[1] == 3 * (60 + margin) + margin
    top = margin + 2 * FIGURE_TITLE_HEIGHT  # title + panel titles
    panels = [
        figure[top : top + 40, margin + i * 68 : margin + i * 68 + 60]
        for i in range(3)
    ]
    np.testing.assert_array_equal(panels[0], image)
    expected_truth = overlay(
        image, np.where(label == 255, 0, label), PALETTE, 0.6
    )
    expected_truth[label == 255] = image[label == 255]
    np.testing.assert_array_equal(panels[1], expected_truth)
    np.testing.assert_array_equal(
        panels[2], overlay(image, prediction, PALETTE, 0.6)
    )
    # the white gaps between the panels
    assert (figure[top : top + 40, margin + 60 : margin + 68] == 255).all()
    legend = figure[top + 40 :]
    inside = (LEGEND_SWATCH - 2) ** 2  # a swatch without its outline
    for class_id, colour in enumerate(PALETTE):
        count = _colour_count(legend, colour)
        if class_id in (0, 2, 3):  # labelled or predicted
            assert count == inside, (NAMES[class_id], count)
        else:
            assert count == 0, NAMES[class_id]
    assert classes_present(label, prediction, num_classes=5) == [0, 2, 3]


def test_figure_without_ground_truth_and_large_images():
    image, _, prediction = _maps()
    figure = comparison_figure(image, prediction, PALETTE, NAMES)
    assert figure.shape[1] == 2 * (60 + FIGURE_MARGIN) + FIGURE_MARGIN
    legend = figure[FIGURE_MARGIN + FIGURE_TITLE_HEIGHT + 40 :]
    assert _colour_count(legend, PALETTE[0]) == 0  # only in the label
    assert _colour_count(legend, PALETTE[3]) == (LEGEND_SWATCH - 2) ** 2
    big = np.zeros((500, 1000, 3), np.uint8)
    wide = comparison_figure(
        big, np.zeros((500, 1000), int), PALETTE, NAMES, max_panel_width=300
    )
    assert wide.shape[1] == 2 * (300 + FIGURE_MARGIN) + FIGURE_MARGIN
    with pytest.raises(ValueError, match="differ in size"):
        comparison_figure(image, prediction[:5], PALETTE, NAMES)


def test_row_percentages_sum_to_100():
    counts = np.array([[3, 1, 0], [0, 0, 0], [2, 5, 993]])
    percent = row_percentages(counts)
    np.testing.assert_allclose(percent[0], [75.0, 25.0, 0.0])
    np.testing.assert_array_equal(percent[1], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(percent[2], [0.2, 0.5, 99.3])
    np.testing.assert_allclose(percent.sum(axis=1), [100.0, 0.0, 100.0])
    assert [cell_text(v) for v in percent[2]] == ["<1", "<1", "99"]
    assert [cell_text(v) for v in percent[0]] == ["75", "25", ""]


def test_confusion_matrix_picture(tmp_path):
    counts = np.array([[3, 1, 0], [0, 0, 0], [2, 5, 993]])
    path = tmp_path / "cm.png"
    plot_confusion_matrix(
        counts, ["road", "sky", "car"], str(path), renderer="pil"
    )
    picture = np.asarray(Image.open(path).convert("RGB"))
    cell = pil_confusion_layout(3)["cell"]
    # a 75% cell, its number drawn in: the cell colour fills it except
    # for the text and the outline
    filled = _colour_count(picture, _blues(0.75))
    assert cell * cell // 2 < filled < (cell - 2) ** 2
    assert _colour_count(picture, _blues(0.25)) < (cell - 2) ** 2
    many = 150
    assert pil_confusion_layout(11)["numbers"] == 1
    assert pil_confusion_layout(many)["numbers"] == 0
    assert CELL_NUMBERS_MAX_CLASSES >= 11
    big_counts = np.diag(np.arange(1, many + 1))
    big_path = tmp_path / "cm150.png"
    plot_confusion_matrix(
        big_counts,
        [f"c{i}" for i in range(many)],
        str(big_path),
        renderer="pil",
    )
    big = np.asarray(Image.open(big_path).convert("RGB"))
    assert max(big.shape[:2]) < 1400
    small = pil_confusion_layout(many)["cell"]
    # without numbers every full cell is one solid colour
    assert _colour_count(big, _blues(1.0)) == many * small * small


def write_history(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["epoch,loss,val_logits_mean_iou"]
    lines += [",".join("" if v is None else str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_training_curves_draw_each_run_where_its_values_are(tmp_path):
    from keras_fastfcn.training_curves import MARGIN
    from keras_fastfcn.training_curves import PANEL_SIZE
    from keras_fastfcn.training_curves import RUN_COLORS
    from keras_fastfcn.training_curves import curves_figure
    from keras_fastfcn.training_curves import read_history

    # val mIoU only every other epoch (empty cells), as val_every writes it
    first = read_history(
        write_history(
            tmp_path / "a" / "history.csv",
            [(e, 2.0 - 0.1 * e, None if e % 2 else 0.5) for e in range(1, 11)],
        )
    )
    assert np.isnan(first["val_logits_mean_iou"][0])
    assert first["val_logits_mean_iou"][1] == 0.5
    second = read_history(
        write_history(
            tmp_path / "b" / "history.csv",
            [(e, 1.0, 0.1 * e) for e in range(1, 6)],
        )
    )
    figure = curves_figure({"flat": first, "rising": second})
    height, width, _ = figure.shape
    assert width == 2 * PANEL_SIZE[0]
    assert height == PANEL_SIZE[1] + 22 * 2 + 10
    blue, red = (np.all(figure == c, axis=-1) for c in RUN_COLORS[:2])
    # the flat run's mIoU (50%) is a horizontal line: one row of the first
    # panel holds most of its blue pixels
    panel = blue[: PANEL_SIZE[1], MARGIN[0] : PANEL_SIZE[0] - MARGIN[2]]
    assert panel.sum(axis=1).max() > 0.6 * (PANEL_SIZE[0] - 80)
    # the rising run goes up to the right in the first panel
    rows, cols = np.nonzero(red[: PANEL_SIZE[1], : PANEL_SIZE[0]])
    assert np.corrcoef(cols, -rows)[0, 1] > 0.9
    assert blue[PANEL_SIZE[1] :].any() and red[PANEL_SIZE[1] :].any()


def test_training_curves_refuse_what_they_cannot_draw(tmp_path):
    from keras_fastfcn.training_curves import curves_figure
    from keras_fastfcn.training_curves import read_history

    with pytest.raises(ValueError, match="at least one run"):
        curves_figure({})
    empty = tmp_path / "history.csv"
    empty.write_text("epoch,loss\n")
    with pytest.raises(ValueError, match="holds no epochs"):
        read_history(empty)
