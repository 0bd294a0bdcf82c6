"""Palette, colouring, overlays, legends and paletted PNG files."""

import numpy as np
import pytest
from PIL import Image

from keras_fastfcn.visualize import colorize
from keras_fastfcn.visualize import default_palette
from keras_fastfcn.visualize import legend_image
from keras_fastfcn.visualize import overlay
from keras_fastfcn.visualize import save_class_map_png


def test_colorize_and_overlay():
    palette = np.array([[0, 0, 0], [200, 100, 50]], np.uint8)
    class_map = np.array([[0, 1], [1, 0]])
    np.testing.assert_array_equal(
        colorize(class_map, palette)[0], [[0, 0, 0], [200, 100, 50]]
    )
    image = np.full((2, 2, 3), 100, np.uint8)
    blended = overlay(image, class_map, palette, alpha=0.25)
    # 0.75 * 100 + 0.25 * (200, 100, 50) = (125, 100, 87.5 -> 88)
    assert blended[0, 1].tolist() == [125, 100, 88]
    assert blended[0, 0].tolist() == [75, 75, 75]


def test_out_of_range_classes_are_refused():
    with pytest.raises(ValueError, match="neither train ids"):
        colorize(np.array([[2]]), default_palette(2))
    with pytest.raises(ValueError, match="palette has 2 colours"):
        save_class_map_png("never.png", np.array([[-1]]), default_palette(2))
    with pytest.raises(ValueError, match="differ in size"):
        overlay(
            np.zeros((2, 3, 3), np.uint8),
            np.zeros((2, 2), int),
            default_palette(2),
        )


def test_class_map_png_round_trip(tmp_path):
    class_map = np.array([[0, 1, 2], [3, 4, 0]])
    path = tmp_path / "map.png"
    save_class_map_png(path, class_map, default_palette(5))
    with Image.open(path) as image:
        assert image.mode == "P"
        np.testing.assert_array_equal(np.asarray(image), class_map)
        rgb = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(rgb, default_palette(5)[class_map])
    assert [p.name for p in tmp_path.iterdir()] == ["map.png"]


def test_legend_has_one_swatch_per_class():
    palette = default_palette(3)
    legend = legend_image(["sky", "road", "car"], palette)
    assert legend.dtype == np.uint8 and legend.shape[2] == 3
    for index in range(3):
        # The swatch interior of row `index` has the class colour.
        y, x = 4 + 18 * index + 6, 4 + 7
        assert legend[y, x].tolist() == palette[index].tolist()
    two_columns = legend_image([str(i) for i in range(40)], default_palette(40))
    assert two_columns.shape[1] == 2 * legend.shape[1]
