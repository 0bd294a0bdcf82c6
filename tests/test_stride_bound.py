import numpy as np
import pytest

from keras_fastfcn.benchmarks.stride_bound import cell_fractions
from keras_fastfcn.benchmarks.stride_bound import stride_iou


def _scene():
    # 64x64: background 0, a 32x32 block of class 1, a 3-pixel-wide
    # vertical pole of class 2 (3 pixels), an ignored corner
    label = np.zeros((64, 64), np.uint8)
    label[16:48, 8:40] = 1
    label[:, 49:52] = 2
    label[:4, :4] = 9
    return label


def test_cell_fractions_count_labelled_pixels_only():
    label = np.array([[0, 1, 9, 9], [1, 1, 9, 2]], np.uint8)
    fractions = cell_fractions(label, num_classes=3, stride=2)
    assert fractions.shape == (1, 2, 3)
    np.testing.assert_allclose(fractions[0, 0], [0.25, 0.75, 0.0])
    np.testing.assert_allclose(fractions[0, 1], [0.0, 0.0, 0.25])


def test_stride_1_is_exact_and_thin_classes_fade_with_the_stride():
    label = _scene()
    exact = stride_iou([label], 3, ignore_label=9, stride=1)
    np.testing.assert_allclose(exact, [100.0, 100.0, 100.0])
    by_stride = {
        s: stride_iou([label], 3, ignore_label=9, stride=s) for s in (4, 8)
    }
    # the big block survives, the 3-pixel pole does not at stride 8:
    # 3 of the 8 pixels of the cells it crosses, it never wins the argmax
    assert by_stride[4][1] > 85.0 and by_stride[8][1] > 80.0
    assert by_stride[4][2] > by_stride[8][2]
    assert by_stride[8][2] == pytest.approx(0.0)


def test_scaling_a_class_recovers_part_of_a_thin_one():
    label = _scene()
    plain = stride_iou([label], 3, ignore_label=9, stride=8)
    boosted = stride_iou(
        [label], 3, ignore_label=9, stride=8, class_scales=(1.0, 2.0, 4.0)
    )
    assert boosted[2] > 15.0 > plain[2]
    assert np.all(boosted >= plain - 1e-9)


def test_absent_classes_are_nan():
    iou = stride_iou([np.zeros((8, 8), np.uint8)], 2, ignore_label=9, stride=4)
    assert iou[0] == pytest.approx(100.0)
    assert np.isnan(iou[1])
