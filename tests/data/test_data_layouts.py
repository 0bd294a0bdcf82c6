"""Dataset layouts: file discovery, label remapping, layout errors."""

import logging
import sys

import numpy as np
import pytest

from keras_fastfcn.data import get_dataset_spec
from keras_fastfcn.data import list_datasets
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data.decode import load_example
from keras_fastfcn.data.labels import INVALID_LABEL
from keras_fastfcn.data.labels import cityscapes_lut
from keras_fastfcn.data.labels import describe_valid_raw_values
from keras_fastfcn.data.palettes import pascal_color_map
from tests.data import fakes


def _label(spec, index=0):
    image, label = load_example(spec, index)
    assert image.dtype == "uint8" and image.shape == (6, 8, 3)
    return label.numpy()


def test_list_datasets():
    assert list_datasets() == [
        "ade20k",
        "camvid",
        "cityscapes",
        "folder",
        "pascal_context",
        "pascal_voc",
        "sample",
    ]


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown dataset 'ade'.*ade20k"):
        load_dataset("ade", "/tmp")


def test_ade20k_shifts_labels_and_ignores_other(tmp_path):
    raw = [0, 1, 2, 150]
    fakes.make_ade20k(tmp_path, raw)
    train = load_dataset("ade20k", tmp_path, "train")
    assert (train.num_classes, len(train.class_names)) == (150, 150)
    assert train.class_names[0] == "wall" and train.class_names[-1] == "flag"
    assert train.palette.shape == (150, 3)
    assert len(train) == 2 and len(load_dataset("ade20k", tmp_path, "val")) == 1
    assert len(load_dataset("ade20k", tmp_path, "trainval")) == 3
    np.testing.assert_array_equal(_label(train).ravel()[:4], [255, 0, 1, 149])
    # data_dir may also be the ADEChallengeData2016 folder itself.
    inner = load_dataset("ade20k", tmp_path / "ADEChallengeData2016")
    assert inner.pairs == train.pairs


def test_pascal_context_59_classes(tmp_path):
    fakes.make_pascal_context(tmp_path, [0, 1, 30, 59])
    for data_dir in (tmp_path, tmp_path / "VOCdevkit"):
        spec = load_dataset("pascal_context", data_dir, "train")
        assert spec.num_classes == 59 and len(spec) == 2
    assert spec.class_names[0] == "aeroplane"
    np.testing.assert_array_equal(_label(spec).ravel()[:4], [255, 0, 29, 58])
    assert spec.pairs[0][1].endswith("SegmentationClassContext/2008_000002.png")


def test_pascal_voc_palette_labels_decode_to_indices(tmp_path):
    fakes.make_pascal_voc(tmp_path, [0, 1, 20, 255])
    spec = load_dataset("pascal_voc", tmp_path, "val")
    assert spec.num_classes == 21 and spec.class_names[0] == "background"
    np.testing.assert_array_equal(_label(spec).ravel()[:4], [0, 1, 20, 255])


@pytest.mark.parametrize("style", ["ids", "paths"])
def test_pascal_voc_train_aug(tmp_path, style):
    fakes.make_pascal_voc(tmp_path, [0, 7, 255], aug_list_style=style)
    spec = load_dataset("pascal_voc", tmp_path, "train_aug")
    assert len(spec) == 2
    assert all("SegmentationClassAug" in label for label in spec.label_paths)
    np.testing.assert_array_equal(_label(spec, 1).ravel()[:3], [0, 7, 255])


def test_pascal_voc_train_aug_needs_the_list(tmp_path):
    fakes.make_pascal_voc(tmp_path, [0])
    aug_list = tmp_path / "VOCdevkit/VOC2012/ImageSets/Segmentation"
    (aug_list / "train_aug.txt").unlink()
    with pytest.raises(FileNotFoundError, match="train_aug.txt"):
        load_dataset("pascal_voc", tmp_path, "train_aug")


def test_cityscapes_label_ids_to_train_ids(tmp_path):
    fakes.make_cityscapes(tmp_path, [0, 7, 8, 26, 33, 6, 255])
    spec = load_dataset("cityscapes", tmp_path, "train")
    assert spec.num_classes == 19 and len(spec) == 2
    assert spec.pairs[0][0].endswith("aachen_000000_000019_leftImg8bit.png")
    assert spec.pairs[0][1].endswith("aachen_000000_000019_gtFine_labelIds.png")
    np.testing.assert_array_equal(
        _label(spec).ravel()[:7], [255, 0, 1, 13, 18, 255, 255]
    )
    assert len(load_dataset("cityscapes", tmp_path, "val")) == 1


def test_cityscapes_lut_is_the_standard_mapping():
    lut = cityscapes_lut()
    train_ids = {raw: int(lut[raw]) for raw in range(256) if lut[raw] != 255}
    assert train_ids == {
        7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
        23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17,
        33: 18,
    }  # fmt: skip


def test_camvid_void_is_ignored(tmp_path):
    fakes.make_camvid(tmp_path, [0, 5, 10, 11])
    spec = load_dataset("camvid", tmp_path, "train")
    assert spec.class_names[6] == "signsymbol"
    np.testing.assert_array_equal(spec.palette[4], [60, 40, 222])
    np.testing.assert_array_equal(_label(spec).ravel()[:4], [0, 5, 10, 255])
    assert len(load_dataset("camvid", tmp_path, "trainval")) == 3


def test_folder_layouts(tmp_path):
    fakes.make_folder(tmp_path, [0, 2, 255])
    spec = load_dataset("folder", tmp_path, num_classes=3)
    assert spec.class_names == ("class_0", "class_1", "class_2")
    np.testing.assert_array_equal(_label(spec).ravel()[:3], [0, 2, 255])
    explicit = load_dataset(
        "folder",
        image_dir=tmp_path / "images/train",
        label_dir=tmp_path / "labels/train",
        num_classes=3,
    )
    assert explicit.pairs == spec.pairs
    (tmp_path / "pairs.txt").write_text(
        "images/train/b.jpg labels/train/b.png\n"
    )
    listed = load_dataset(
        "folder", tmp_path, list_file="pairs.txt", num_classes=3
    )
    assert listed.pairs == spec.pairs[1:]


def test_folder_ignore_label_must_not_be_a_class(tmp_path):
    fakes.make_folder(tmp_path, [0])
    with pytest.raises(ValueError, match="ignore_label must be in 3..255"):
        load_dataset("folder", tmp_path, num_classes=3, ignore_label=1)


def test_folder_skips_unmatched_files_with_a_warning(tmp_path, caplog):
    fakes.make_folder(tmp_path, [0], stems=("a", "b", "c"))
    (tmp_path / "labels/train/b.png").unlink()
    fakes.write_label(tmp_path / "labels/train/z.png", np.zeros((6, 8)))
    with caplog.at_level(logging.WARNING):
        spec = load_dataset("folder", tmp_path, num_classes=2)
    assert [p.rsplit("/", 1)[1] for p in spec.image_paths] == ["a.jpg", "c.jpg"]
    assert "1 images" in caplog.text and "b.jpg" in caplog.text
    assert "1 labels" in caplog.text and "z.png" in caplog.text
    with pytest.raises(ValueError, match="b.jpg"):
        load_dataset("folder", tmp_path, num_classes=2, strict=True)


@pytest.mark.parametrize(
    "name", ["ade20k", "pascal_context", "pascal_voc", "cityscapes", "camvid"]
)
def test_missing_directory_names_path_and_layout(tmp_path, name):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as error:
        load_dataset(name, missing)
    assert str(missing) in str(error.value)
    assert "Expected layout" in str(error.value)


def test_missing_folder_inside_layout(tmp_path):
    fakes.make_ade20k(tmp_path, [0])
    annotations = tmp_path / "ADEChallengeData2016/annotations/validation"
    for path in annotations.iterdir():
        path.unlink()
    annotations.rmdir()
    with pytest.raises(FileNotFoundError, match="annotations/validation"):
        load_dataset("ade20k", tmp_path, "val")


def test_ade20k_image_without_label_is_an_error(tmp_path):
    fakes.make_ade20k(tmp_path, [0])
    labels = tmp_path / "ADEChallengeData2016/annotations/training"
    (labels / "ADE_train_00000001.png").unlink()
    with pytest.raises(ValueError, match="ADE_train_00000001.jpg"):
        load_dataset("ade20k", tmp_path)


def test_cityscapes_label_without_image_is_an_error(tmp_path):
    fakes.make_cityscapes(tmp_path, [0])
    images = tmp_path / "leftImg8bit/train/bremen"
    (images / "bremen_000001_000019_leftImg8bit.png").unlink()
    with pytest.raises(ValueError, match="bremen_000001_000019_gtFine"):
        load_dataset("cityscapes", tmp_path)


def test_listed_files_that_do_not_exist_are_named(tmp_path):
    fakes.make_pascal_context(tmp_path, [0])
    voc = tmp_path / "VOCdevkit/VOC2010"
    (voc / "SegmentationClassContext/2008_000003.png").unlink()
    with pytest.raises(FileNotFoundError, match="2008_000003.png"):
        load_dataset("pascal_context", tmp_path)
    fakes.make_camvid(tmp_path / "camvid", [0])
    (tmp_path / "camvid/val/0001TP_000000.png").unlink()
    with pytest.raises(FileNotFoundError, match="val/0001TP_000000.png"):
        load_dataset("camvid", tmp_path / "camvid", "val")


def test_malformed_list_line(tmp_path):
    fakes.make_camvid(tmp_path, [0])
    (tmp_path / "val.txt").write_text("only_one_path.png\n")
    with pytest.raises(ValueError, match="val.txt, line 1"):
        load_dataset("camvid", tmp_path, "val")


def test_unknown_split_and_option(tmp_path):
    fakes.make_ade20k(tmp_path, [0])
    with pytest.raises(ValueError, match="valid splits: train, val"):
        load_dataset("ade20k", tmp_path, "test")
    with pytest.raises(ValueError, match="num_classes"):
        load_dataset("ade20k", tmp_path, num_classes=3)
    with pytest.raises(FileNotFoundError, match="test.txt"):
        fakes.make_camvid(tmp_path / "c", [0])
        load_dataset("camvid", tmp_path / "c", "test")


def test_ade20k_tfds_is_refused_without_tensorflow_datasets(monkeypatch):
    # Importing tensorflow_datasets would fail; the refusal must not need it.
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ValueError) as error:
        load_dataset("ade20k", source="tfds")
    message = str(error.value)
    assert "scene_parse150" in message and "instance" in message
    assert "ADEChallengeData2016" in message


def test_valid_raw_values_description():
    lut = np.full(256, INVALID_LABEL)
    lut[:12] = 0
    lut[255] = 0
    assert describe_valid_raw_values(lut) == "0..11, 255"


def test_pascal_color_map_known_entries():
    colors = pascal_color_map(256)
    np.testing.assert_array_equal(colors[[0, 1, 2, 3, 15, 255]], [
        [0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
        [192, 128, 128], [224, 224, 192],
    ])  # fmt: skip
    assert len(np.unique(colors, axis=0)) == 256


def test_get_dataset_spec_without_files():
    spec = get_dataset_spec("cityscapes")
    assert (spec.num_classes, len(spec), spec.ignore_label) == (19, 0, 255)
    assert spec.class_names[13] == "car"
    np.testing.assert_array_equal(spec.palette[0], [128, 64, 128])
    assert get_dataset_spec("sample").class_names[-1] == "bicyclist"
    with pytest.raises(ValueError, match="pass num_classes"):
        get_dataset_spec("folder")
    with pytest.raises(ValueError, match="valid names"):
        get_dataset_spec("coco")
