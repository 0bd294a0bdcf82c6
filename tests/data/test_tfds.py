"""TFDS recipes on prepared fake builders (no download).

Each built-in recipe is read from a real TFDS on-disk preparation of its
builder (the real feature spec, generated examples: `tfds_fakes`), through
the normal pipeline: exact label ids, ignore label, deterministic and
resumable training order, per-worker shards, a training step, evaluation,
and the ``train.py`` command.
"""

import json
import sys

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="TFDS shards are read with tf.data",
)

PET = "tfds:oxford_iiit_pet"
CITY = "tfds:cityscapes/semantic_segmentation"
COCO = "tfds:coco/2017_panoptic"

# cityscapes: all 34 label ids + 255 in the corner of each label image
CITY_IDS = np.array(list(range(34)) + [255, 255]).reshape(4, 9)
# coco: segment id per pixel (0 = unlabelled), and the segments
COCO_SEGMENTS = np.array(
    [[0, 5, 5, 9, 9, 9], [1000, 1000, 70000, 9, 0, 5], [5, 5, 5, 5, 5, 5]]
)
COCO_OBJECTS = [
    dict(id=5, label=0, is_crowd=False),  # thing category, first id
    dict(id=9, label=17, is_crowd=True),  # crowd -> ignored
    dict(id=1000, label=80, is_crowd=False),  # first stuff category
    dict(id=70000, label=132, is_crowd=False),  # id using the blue byte
]
COCO_EXPECTED = np.array(
    [
        [255, 0, 0, 255, 255, 255],
        [80, 80, 132, 255, 255, 0],
        [0, 0, 0, 0, 0, 0],
    ]
)


def pet_trimap(index: int) -> np.ndarray:
    """A 12 x 16 trimap of 1/2/3 that differs per example."""
    values = (np.arange(12 * 16).reshape(12, 16) + index) % 3 + 1
    return values


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    from tests.data import tfds_fakes as fakes

    root = tmp_path_factory.mktemp("tfds")
    fakes.prepare_fake(
        "oxford_iiit_pet",
        root,
        {
            "train": [fakes.pet_example(i, pet_trimap(i)) for i in range(6)],
            "test": [fakes.pet_example(i, pet_trimap(i)) for i in (6, 7)],
        },
        num_shards=2,
    )
    fakes.prepare_fake(
        "cityscapes/semantic_segmentation",
        root,
        {
            split: [fakes.cityscapes_example(i, CITY_IDS) for i in range(2)]
            for split in ("train", "validation")
        },
    )
    fakes.prepare_fake(
        "coco/2017_panoptic",
        root,
        {
            split: [
                fakes.coco_panoptic_example(i, COCO_SEGMENTS, COCO_OBJECTS)
                for i in range(2)
            ]
            for split in ("train", "validation")
        },
    )
    return root


def _labels_by_name(spec):
    from keras_fastfcn.data import make_eval_dataset

    dataset = make_eval_dataset(spec, mode="full", with_paths=True)
    return {
        name[0].decode(): label[0]
        for _, label, name in dataset.as_numpy_iterator()
    }


def test_pet_trimap_becomes_the_keras_tutorial_classes(tfds_dir):
    from keras_fastfcn.data import load_dataset

    spec = load_dataset(PET, tfds_dir, "val")
    assert spec.class_names == ("pet", "background", "border")
    assert spec.num_classes == 3 and len(spec) == 2
    assert all("oxford_iiit_pet-test.tfrecord" in r for r in spec.records)
    labels = _labels_by_name(spec)
    assert sorted(labels) == [
        "tfds:oxford_iiit_pet/val:pet_6.jpg",
        "tfds:oxford_iiit_pet/val:pet_7.jpg",
    ]
    for index in (6, 7):
        label = labels[f"tfds:oxford_iiit_pet/val:pet_{index}.jpg"]
        np.testing.assert_array_equal(label, pet_trimap(index) - 1)
    assert len(load_dataset(PET, tfds_dir, "train")) == 6
    assert len(load_dataset(PET, tfds_dir, "trainval")) == 8


def test_cityscapes_label_ids_become_the_folder_train_ids(tfds_dir):
    from keras_fastfcn.data import get_dataset_spec
    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.data.labels import CITYSCAPES_LABEL_ID_TO_TRAIN_ID

    spec = load_dataset(CITY, tfds_dir, "val")
    folder = get_dataset_spec("cityscapes")
    np.testing.assert_array_equal(spec.label_lut, folder.label_lut)
    assert spec.class_names == folder.class_names and spec.num_classes == 19
    expected = np.vectorize(
        lambda v: CITYSCAPES_LABEL_ID_TO_TRAIN_ID.get(int(v), 255)
    )(CITY_IDS)
    assert expected[0, 7] == 0 and expected[3, 6] == 18  # ids 7 and 33
    labels = _labels_by_name(spec)
    assert len(labels) == 2
    for name, label in labels.items():
        assert name.startswith(f"{CITY}/val:city_")
        assert label.shape == (1024, 2048)
        np.testing.assert_array_equal(label[:4, :9], expected)
        assert np.all(label[4:, :] == 0) and np.all(label[:, 9:] == 0)


def test_coco_panoptic_segments_become_contiguous_categories(tfds_dir):
    from keras_fastfcn.data import load_dataset

    spec = load_dataset(COCO, tfds_dir, "val")
    assert spec.num_classes == 133 and spec.ignore_label == 255
    labels = _labels_by_name(spec)
    assert sorted(labels) == [
        f"{COCO}/val:000000000000.jpg",
        f"{COCO}/val:000000000001.jpg",
    ]
    for label in labels.values():
        np.testing.assert_array_equal(label, COCO_EXPECTED)


def test_coco_segment_missing_from_the_objects_is_an_error(tmp_path):
    import tensorflow as tf

    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.data import make_eval_dataset
    from tests.data import tfds_fakes as fakes

    segments = COCO_SEGMENTS.copy()
    segments[2, 0] = 4242  # listed by no object
    example = fakes.coco_panoptic_example(3, segments, COCO_OBJECTS)
    fakes.prepare_fake("coco/2017_panoptic", tmp_path, {"train": [example]})
    spec = load_dataset(COCO, tmp_path, "train")
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        list(make_eval_dataset(spec, mode="full"))
    message = str(error.value)
    assert f"{COCO}/train:000000000003.jpg" in message
    assert "1 pixels have raw values" in message


def test_pet_mask_value_outside_the_trimap_is_an_error(tmp_path):
    import tensorflow as tf

    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.data import make_eval_dataset
    from tests.data import tfds_fakes as fakes

    trimap = pet_trimap(0)
    trimap[0, :2] = 4
    fakes.prepare_fake(
        "oxford_iiit_pet",
        tmp_path,
        {"train": [fakes.pet_example(0, trimap)]},
    )
    spec = load_dataset(PET, tmp_path, "train")
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        list(make_eval_dataset(spec, mode="full"))
    message = str(error.value)
    assert f"{PET}/train:pet_0.jpg: 2 pixels" in message
    assert "largest: 4" in message and "1..3, 255" in message


def test_validate_reports_each_bad_example(tmp_path, capsys):
    from keras_fastfcn.cli.validate_data import main
    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.data import validate_dataset
    from keras_fastfcn.data.tfrecord import write_tfrecords
    from tests.data import tfds_fakes as fakes

    bad = pet_trimap(1)
    bad[3, 3] = 0  # not a trimap value
    examples = [fakes.pet_example(i, pet_trimap(i)) for i in range(3)]
    examples.append(fakes.pet_example(3, bad))
    fakes.prepare_fake("oxford_iiit_pet", tmp_path, {"train": examples})
    spec = load_dataset(PET, tmp_path, "train")
    problems = validate_dataset(spec, progress=False)
    assert len(problems) == 1
    assert problems[0].path.startswith(f"{PET}/train[")
    assert problems[0].problem.startswith(
        f"label file {PET}/train:pet_3.jpg: 1 pixels have raw values"
    )
    assert main(["--dataset", PET, "--data-dir", str(tmp_path)]) == 1
    assert "1 problems in 4 pairs." in capsys.readouterr().out
    with pytest.raises(ValueError, match="train on it directly"):
        write_tfrecords(spec, str(tmp_path / "out"), 2)


@pytest.mark.parametrize("name", [PET, CITY, COCO])
def test_training_order_is_deterministic_and_resumes_exactly(tfds_dir, name):
    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.data import make_train_dataset

    spec = load_dataset(name, tfds_dir, "train")

    def batches(start_example=0, count=4):
        dataset = make_train_dataset(
            spec, 2, crop_size=40, base_size=24, seed=3,
            start_example=start_example,
        )  # fmt: skip
        return list(dataset.take(count).as_numpy_iterator())

    first, again = batches(), batches()
    for (x1, y1), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    resumed = batches(start_example=4, count=2)
    for (x1, y1), (x2, y2) in zip(first[2:], resumed):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    labels = np.concatenate([y for _, y in first])
    classes = set(np.unique(labels).tolist())
    assert 255 in classes  # short side 12..48 < crop 40: padded pixels
    assert classes - {255} and classes - {255} <= set(range(spec.num_classes))


def test_each_worker_reads_its_own_shards(tfds_dir):
    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.data import make_train_dataset
    from keras_fastfcn.data.pipeline import _record_stream

    spec = load_dataset(PET, tfds_dir, "train")
    assert len(spec.records) == 2
    seen = []
    for index in range(2):
        # the decoded examples each worker's training stream reads
        stream = _record_stream(spec, 0, False, None, 1, shard=(2, index))
        seen.append(
            {
                image.tobytes()
                for _, image, _ in stream.take(12).as_numpy_iterator()
            }
        )
        # and its augmented batches
        batches = make_train_dataset(spec, 2, 12, 12, shard=(2, index))
        assert next(iter(batches))[0].shape == (2, 12, 12, 3)
    assert len(seen[0]) == len(seen[1]) == 3  # 3 examples per shard
    assert not seen[0] & seen[1]  # 6 distinct examples in all


@pytest.mark.parametrize("name", [CITY, COCO])
def test_training_step_and_evaluation(tfds_dir, tmp_path, name):
    from keras_fastfcn.config import TrainConfig
    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.data import make_eval_dataset
    from keras_fastfcn.data import make_train_dataset
    from keras_fastfcn.evaluate import evaluate_model
    from keras_fastfcn.train import _output_names
    from keras_fastfcn.train import _with_targets
    from keras_fastfcn.train import build_and_compile

    train_spec = load_dataset(name, tfds_dir, "train")
    val_spec = load_dataset(name, tfds_dir, "val")
    config = TrainConfig(
        dataset=name, model="fcn_jpu", backbone="resnet18", base_width=8,
        neck_width=16, aux=False, se_loss=False, batch_size=2, epochs=1,
        lr=0.01,
    ).resolved()  # fmt: skip
    model = build_and_compile(config, train_spec.num_classes, steps=1)
    names = _output_names(model)
    train = make_train_dataset(train_spec, 2, crop_size=32, base_size=32)
    val = make_eval_dataset(val_spec, crop_size=32, batch_size=2)
    history = model.fit(
        _with_targets(train, names),
        steps_per_epoch=1,
        validation_data=_with_targets(val, names),
        verbose=0,
    )
    assert np.isfinite(history.history["loss"][0])
    assert "val_loss" in history.history
    results = evaluate_model(
        model, val_spec, base_size=32, crop_size=32, max_images=1,
        output_dir=tmp_path / "evaluation", progress=False,
    )  # fmt: skip
    assert results["images"] == 1
    assert 0.0 <= results["mean_iou"] <= 1.0


def test_train_command_on_oxford_pets(tfds_dir, tmp_path):
    from keras_fastfcn.cli.train import parse_arguments
    from keras_fastfcn.config import config_from_args
    from keras_fastfcn.train import train

    out = tmp_path / "run"
    summary = train(config_from_args(parse_arguments(
        [
            "--dataset", PET, "--data-dir", str(tfds_dir),
            "--epochs", "1", "--steps-per-epoch", "2",
            "--model", "fcn_jpu", "--backbone", "resnet18",
            "--base-width", "8", "--neck-width", "16", "--aux", "false",
            "--crop-size", "32", "--base-size", "32", "--batch-size", "2",
            "--num-visualizations", "1", "--output-dir", str(out),
        ]
    )))  # fmt: skip
    assert summary["steps_per_epoch"] == 2
    assert 0.0 <= summary["mean_iou"] <= 1.0
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["images"] == 2  # the whole "test" split
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == PET
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    last = out / "checkpoints" / state["last"]
    assert last.is_file()
    # the evaluation command takes the same --dataset
    from keras_fastfcn.cli.evaluate import main as evaluate

    results = evaluate(
        [
            "--model-file", str(last),
            "--dataset", PET, "--data-dir", str(tfds_dir),
            "--base-size", "32", "--crop-size", "32",
            "--num-visualizations", "0",
            "--output-dir", str(tmp_path / "evaluation"),
        ]
    )  # fmt: skip
    assert results["images"] == 2 and 0.0 <= results["mean_iou"] <= 1.0


@pytest.mark.parametrize(
    "name, words",
    [
        ("tfds:scene_parse150", ("instance", "ADEChallengeData2016")),
        ("tfds:voc/2012", ("no segmentation masks",)),
        ("tfds:mnist", ("tfds:oxford_iiit_pet", CITY, COCO, "TfdsRecipe")),
    ],
)
def test_refused_and_unknown_builders(monkeypatch, name, words):
    from keras_fastfcn.data import load_dataset

    # the refusals do not need tensorflow_datasets
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ValueError) as error:
        load_dataset(name)
    for word in words:
        assert word in str(error.value)


def test_source_tfds_reads_cityscapes_and_refuses_the_others(tmp_path):
    from keras_fastfcn.data import load_dataset

    for name in ("ade20k", "pascal_voc", "camvid"):
        with pytest.raises(ValueError, match="TFDS|tfds"):
            load_dataset(name, source="tfds")
    with pytest.raises(FileNotFoundError) as error:
        load_dataset("cityscapes", tmp_path, source="tfds")
    message = str(error.value)
    manual = tmp_path / "downloads" / "manual"
    files = "leftImg8bit_trainvaltest.zip, gtFine_trainvaltest.zip"
    assert f"put {files} in {manual}" in message


def test_unprepared_builder_without_download_and_unknown_split(
    tfds_dir, tmp_path
):
    from keras_fastfcn.data import load_dataset

    with pytest.raises(FileNotFoundError, match="not prepared"):
        load_dataset(PET, tmp_path, download=False)
    with pytest.raises(ValueError, match="valid splits: .*test.*train"):
        load_dataset(PET, tfds_dir, "validation")


def test_classes_without_data(tfds_dir):
    from keras_fastfcn.data import get_dataset_spec

    spec = get_dataset_spec(PET)
    assert spec.class_names == ("pet", "background", "border")
    assert spec.palette.shape == (3, 3) and len(spec) == 0
    assert get_dataset_spec(COCO).num_classes == 133
