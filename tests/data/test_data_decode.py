"""Decoding and validation: conversions and every bad input, in graph and
in the PIL pre-check."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_fastfcn.data import check_dataset
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data import make_eval_dataset
from keras_fastfcn.data import validate_dataset
from keras_fastfcn.data.decode import load_example
from tests.data import fakes

TF_ERROR = tf.errors.InvalidArgumentError


@pytest.fixture
def camvid(tmp_path):
    """A CamVid-layout folder with 2 clean train pairs (raw 0, 10, 11)."""
    return fakes.make_camvid(tmp_path, [0, 10, 11])


def _spec(root):
    return load_dataset("camvid", root, "train")


def _first_pair(root):
    return [root / path for path in _spec(root).pairs[0]]


def _load_fails(spec, *patterns, graph=False):
    """Loading example 0 eagerly (and, with ``graph``, in a tf.data graph)
    fails with all ``patterns`` in the message."""
    errors = []
    with pytest.raises(TF_ERROR) as eager:
        load_example(spec, 0)
    errors.append(eager)
    if graph:
        with pytest.raises(TF_ERROR) as in_graph:
            list(make_eval_dataset(spec.take(1), mode="full"))
        errors.append(in_graph)
    for error in errors:
        for pattern in patterns:
            assert pattern in str(error.value), str(error.value)


def _problems(spec):
    return [(p.path, p.problem) for p in validate_dataset(spec, progress=False)]


def test_clean_dataset_has_no_problems(camvid):
    assert _problems(_spec(camvid)) == []
    check_dataset(_spec(camvid), progress=False)


def test_grayscale_image_becomes_rgb(camvid):
    image_path, _ = _first_pair(camvid)
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(gray).save(image_path)
    image, _ = load_example(_spec(camvid), 0)
    np.testing.assert_array_equal(image.numpy(), np.stack([gray] * 3, -1))


def test_rgba_image_drops_alpha(camvid):
    image_path, _ = _first_pair(camvid)
    rgb = fakes.write_image(image_path, seed=5)
    alpha = np.full((6, 8, 1), 17, np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], -1)).save(image_path)
    image, _ = load_example(_spec(camvid), 0)
    np.testing.assert_array_equal(image.numpy(), rgb)


def test_16_bit_label_values_below_256_are_accepted(camvid):
    _, label_path = _first_pair(camvid)
    fakes.write_label(label_path, fakes.label_with([0, 3, 10, 11]), "I;16")
    assert Image.open(label_path).mode == "I;16"
    _, label = load_example(_spec(camvid), 0)
    np.testing.assert_array_equal(label.numpy().ravel()[:4], [0, 3, 10, 255])
    assert _problems(_spec(camvid)) == []


def test_16_bit_label_values_of_256_and_more_are_rejected(camvid):
    _, label_path = _first_pair(camvid)
    fakes.write_label(label_path, fakes.label_with([0, 300]), "I;16")
    _load_fails(_spec(camvid), str(label_path), "largest: 300")
    [(path, problem)] = _problems(_spec(camvid))
    assert path == str(label_path) and "300" in problem


def test_out_of_range_label_names_file_and_valid_values(camvid):
    _, label_path = _first_pair(camvid)
    fakes.write_label(label_path, fakes.label_with([0, 12, 12]))
    _load_fails(
        _spec(camvid),
        str(label_path),
        "2 pixels",
        "largest: 12",
        "valid raw values: 0..11, 255",
        graph=True,
    )
    [(path, problem)] = _problems(_spec(camvid))
    assert path == str(label_path)
    assert "2 pixels" in problem and ": 12 " in problem


def test_size_mismatch_names_both_files(camvid):
    image_path, label_path = _first_pair(camvid)
    fakes.write_label(label_path, np.zeros((5, 8)))
    _load_fails(
        _spec(camvid),
        str(image_path),
        str(label_path),
        "is 6x8",
        "is 5x8",
        graph=True,
    )
    [(path, problem)] = _problems(_spec(camvid))
    assert path == str(label_path) and "5x8" in problem and "6x8" in problem


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_image_is_named(tmp_path, suffix):
    root = fakes.make_camvid(tmp_path, [0], image_suffix=suffix)
    image_path, _ = _first_pair(root)
    fakes.write_image(image_path, 64, 64)
    data = image_path.read_bytes()
    image_path.write_bytes(data[: len(data) // 2])
    spec = load_dataset("camvid", root, "train")
    _load_fails(spec, str(image_path), "truncated", graph=suffix == ".jpg")
    [(path, problem)] = _problems(spec)
    assert path == str(image_path) and "unreadable image" in problem


def test_truncated_label_is_named(camvid):
    _, label_path = _first_pair(camvid)
    data = label_path.read_bytes()
    label_path.write_bytes(data[:-20])
    _load_fails(_spec(camvid), str(label_path), "truncated")
    [(path, _)] = _problems(_spec(camvid))
    assert path == str(label_path)


def test_empty_or_foreign_file_is_named(camvid):
    image_path, _ = _first_pair(camvid)
    image_path.write_bytes(b"")
    _load_fails(_spec(camvid), str(image_path), "is not a PNG/JPEG")
    image_path.write_text("hello, not an image")
    _load_fails(_spec(camvid), str(image_path), "is not a PNG/JPEG")
    assert [p for p, _ in _problems(_spec(camvid))] == [str(image_path)]


def test_rgb_label_is_rejected_without_a_colour_table(camvid):
    _, label_path = _first_pair(camvid)
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(label_path)
    _load_fails(_spec(camvid), str(label_path), "has 3 channels", graph=True)
    [(path, problem)] = _problems(_spec(camvid))
    assert path == str(label_path) and "'RGB'" in problem


def test_palette_label_is_rejected_without_a_colour_table(camvid):
    _, label_path = _first_pair(camvid)
    fakes.write_label(label_path, fakes.label_with([0, 1]), mode="P")
    _load_fails(_spec(camvid), str(label_path), "has 3 channels")
    [(_, problem)] = _problems(_spec(camvid))
    assert "'P'" in problem


def test_jpeg_label_is_rejected(tmp_path):
    root = fakes.make_folder(tmp_path, [0])
    label_path = tmp_path / "labels/train/a.png"
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(label_path, "JPEG")
    spec = load_dataset("folder", root, num_classes=2)
    _load_fails(spec, str(label_path), "is a JPEG")
    [(path, problem)] = _problems(spec)
    assert path == str(label_path) and "JPEG" in problem


def test_voc_colour_label_with_unknown_colour(tmp_path):
    fakes.make_pascal_voc(tmp_path, [0, 1])
    spec = load_dataset("pascal_voc", tmp_path, "train")
    label_path = spec.label_paths[0]
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[0, 0] = (128, 0, 0)  # class 1
    rgb[0, 1] = (1, 2, 3)  # not a VOC colour
    Image.fromarray(rgb).save(label_path)
    _load_fails(spec, label_path, "largest: -1", "colour table", graph=True)
    rgb[0, 1] = (224, 224, 192)  # the VOC border colour -> ignore
    Image.fromarray(rgb).save(label_path)
    _, label = load_example(spec, 0)
    np.testing.assert_array_equal(label.numpy().ravel()[:3], [1, 255, 0])
    assert _problems(spec) == []


def test_validator_reports_every_bad_file(tmp_path):
    root = fakes.make_folder(tmp_path, [0], stems=("a", "b", "c", "d"))
    labels = tmp_path / "labels/train"
    fakes.write_label(labels / "a.png", fakes.label_with([7]))
    fakes.write_label(labels / "c.png", np.zeros((4, 4)))
    (tmp_path / "images/train/d.jpg").write_bytes(b"\xff\xd8\xff\xe0broken")
    spec = load_dataset("folder", root, num_classes=2)
    paths = [path for path, _ in _problems(spec)]
    assert paths == [
        str(labels / "a.png"),
        str(labels / "c.png"),
        str(tmp_path / "images/train/d.jpg"),
    ]
    assert [p for p, _ in _problems(spec.take(2))] == paths[:1]
    with pytest.raises(ValueError, match="3 problems in folder/train"):
        check_dataset(spec, progress=False)


def test_validate_cli_exit_status(tmp_path, capsys):
    from keras_fastfcn.cli import validate_data as validate

    root = fakes.make_folder(tmp_path, [0])
    args = ["--dataset", "folder", "--data-dir", str(root), "--num-classes"]
    assert validate.main(args + ["2"]) == 0
    assert "0 problems in 2 pairs" in capsys.readouterr().out
    assert validate.main(args + ["1"]) == 0  # the labels only hold 0
    fakes.write_label(tmp_path / "labels/train/b.png", fakes.label_with([1]))
    assert validate.main(args + ["1"]) == 1
    out = capsys.readouterr().out
    assert "labels/train/b.png" in out and "1 problems in 2 pairs" in out
