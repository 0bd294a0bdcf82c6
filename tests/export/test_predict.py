"""`python -m keras_fastfcn.cli.predict` and `segment_image`."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from keras_fastfcn.cli.predict import main as predict_main
from keras_fastfcn.cli.predict import segment_image
from keras_fastfcn.export.preprocessing import ResizePolicy
from keras_fastfcn.export.saved_model import export_saved_model
from tests.export.tiny_models import NUM_CLASSES
from tests.export.tiny_models import TINY_CLI_OPTIONS
from tests.export.tiny_models import random_images
from tests.export.tiny_models import tiny_model

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
# The default palette for 5 classes: PASCAL colours 1..5 (bit 0 of the
# entry -> red 128, bit 1 -> green 128, bit 2 -> blue 128).
PALETTE = np.array(
    [[128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128]],
    np.uint8,
)
# CamVid's own colours (sky, building, pole), from its README.
CAMVID_FIRST_COLOURS = [[128, 128, 128], [128, 0, 0], [192, 192, 128]]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    model = tiny_model("fcn_bilinear", aux=True)
    model.save(tmp / "model.keras")
    model.save_weights(tmp / "model.weights.h5")
    photos = tmp / "photos"
    photos.mkdir()
    images = {
        "street": random_images(1, 50, 70, seed=11)[0],
        "square": random_images(1, 64, 64, seed=12)[0],
    }
    for name, image in images.items():
        Image.fromarray(image).save(photos / f"{name}.png")
    extra = tmp / "extra.png"
    Image.fromarray(random_images(1, 33, 45, seed=13)[0]).save(extra)
    images["extra"] = np.asarray(Image.open(extra))
    out = tmp / "out_keras"
    predict_main(
        [
            str(photos),
            str(extra),
            "--out",
            str(out),
            "--model-file",
            str(tmp / "model.keras"),
        ]
    )
    return SimpleNamespace(
        tmp=tmp,
        model=model,
        photos=photos,
        extra=extra,
        images=images,
        out=out,
    )


def reference_class_map(model, image):
    """Pad with black to multiples of 32, normalise, run, crop, argmax."""
    height, width = image.shape[:2]
    x = np.pad(image, ((0, -height % 32), (0, -width % 32), (0, 0)))
    x = (x.astype(np.float32) / 255.0 - MEAN) / STD
    logits = np.asarray(model(x[None], training=False)["logits"])[0]
    return logits[:height, :width].argmax(-1)


def class_map_of(path):
    with Image.open(path) as image:
        assert image.mode == "P"
        return np.asarray(image).astype(np.int32), np.asarray(
            image.convert("RGB")
        )


def test_outputs_exist_with_the_input_size(setup):
    names = sorted(p.name for p in setup.out.iterdir())
    assert names == sorted(
        [
            f"{n}_{kind}.png"
            for n in setup.images
            for kind in ("classes", "overlay", "figure")
        ]
        + ["legend.png", "classes.json"]
    )
    for name, image in setup.images.items():
        for kind in ("classes", "overlay"):
            with Image.open(setup.out / f"{name}_{kind}.png") as saved:
                assert saved.size == (image.shape[1], image.shape[0])
        # photo | prediction, the legend below
        with Image.open(setup.out / f"{name}_figure.png") as figure:
            panel = min(image.shape[1], 480)
            assert figure.size[0] == 2 * (panel + 8) + 8


def test_class_maps_palette_and_overlays(setup):
    for name, image in setup.images.items():
        class_map, rgb = class_map_of(setup.out / f"{name}_classes.png")
        expected = reference_class_map(setup.model, image)
        assert np.mean(class_map == expected) >= 0.9999
        np.testing.assert_array_equal(rgb, PALETTE[class_map])
        blend = np.round(0.5 * image + 0.5 * PALETTE[class_map.astype(int)])
        with Image.open(setup.out / f"{name}_overlay.png") as saved:
            np.testing.assert_array_equal(np.asarray(saved), blend)


def test_legend_and_class_list(setup):
    classes = json.loads((setup.out / "classes.json").read_text())
    assert [c["id"] for c in classes] == list(range(NUM_CLASSES))
    assert [c["color"] for c in classes] == PALETTE.tolist()
    assert classes[2]["name"] == "class_2"
    with Image.open(setup.out / "legend.png") as legend:
        assert legend.mode == "RGB"
        assert legend.size[1] >= 18 * NUM_CLASSES


def test_saved_model_and_weights_give_the_same_maps(setup):
    version = export_saved_model(setup.model, setup.tmp / "served")
    runs = {
        "saved": ["--saved-model", str(version)],
        "weights": [
            "--weights",
            str(setup.tmp / "model.weights.h5"),
            "--model",
            "fcn_bilinear",
            "--aux",
            "--neck-width",
            "16",
            *TINY_CLI_OPTIONS,
        ],
    }
    for run, options in runs.items():
        out = setup.tmp / f"out_{run}"
        predict_main([str(setup.photos), "--out", str(out), *options])
        for name in ("street", "square"):
            actual, _ = class_map_of(out / f"{name}_classes.png")
            expected, _ = class_map_of(setup.out / f"{name}_classes.png")
            np.testing.assert_array_equal(actual, expected)


def test_segment_image_api(setup):
    image = setup.images["street"]
    class_map = segment_image(setup.model, image)
    assert class_map.shape == (50, 70) and class_map.dtype == np.int32
    np.testing.assert_array_equal(
        class_map, class_map_of(setup.out / "street_classes.png")[0]
    )
    resized = segment_image(
        setup.model, image, ResizePolicy("long_side", (128,))
    )
    assert resized.shape == (50, 70)
    assert set(np.unique(resized)) <= set(range(NUM_CLASSES))
    with pytest.raises(ValueError, match="uint8 RGB image"):
        segment_image(setup.model, image.astype(np.float32))
    with pytest.raises(ValueError, match="uint8 RGB image"):
        segment_image(setup.model, image[..., 0])


def test_bad_command_lines(setup, tmp_path):
    model = ["--model-file", str(setup.tmp / "model.keras")]
    twin = tmp_path / "twin"
    twin.mkdir()
    Image.fromarray(setup.images["street"]).save(twin / "street.png")
    with pytest.raises(ValueError, match="same output names"):
        predict_main(
            [str(setup.photos), str(twin), "--out", str(tmp_path / "o"), *model]
        )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        predict_main(
            [str(tmp_path / "nope.png"), "--out", str(tmp_path), *model]
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no images"):
        predict_main([str(tmp_path / "empty"), "--out", str(tmp_path), *model])
    with pytest.raises(ValueError, match="exactly one of"):
        predict_main([str(setup.extra), "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="needs --num-classes"):
        predict_main(
            [str(setup.extra), "--out", str(tmp_path), "--random-weights"]
        )
    with pytest.raises(ValueError, match="not both"):
        predict_main(
            [
                str(setup.extra),
                "--out",
                str(tmp_path),
                "--saved-model",
                str(tmp_path),
                *model,
            ]
        )
    assert not (tmp_path / "o").exists()


def test_dataset_class_names_and_palette(setup, tmp_path):
    out = tmp_path / "camvid"
    predict_main(
        [str(setup.extra), "--out", str(out), "--dataset", "camvid"]
        + ["--random-weights", "--model", "fcn_bilinear", "--neck-width", "16"]
        + [o if o != str(NUM_CLASSES) else "11" for o in TINY_CLI_OPTIONS]
    )
    classes = json.loads((out / "classes.json").read_text())
    assert len(classes) == 11
    assert [c["name"] for c in classes[:3]] == ["sky", "building", "pole"]
    assert [c["color"] for c in classes[:3]] == CAMVID_FIRST_COLOURS
    class_map, rgb = class_map_of(out / "extra_classes.png")
    colours = np.array([c["color"] for c in classes], np.uint8)
    np.testing.assert_array_equal(rgb, colours[class_map])
    with pytest.raises(ValueError, match="has 11 classes but the model"):
        predict_main(
            [str(setup.extra), "--out", str(tmp_path), "--dataset", "camvid"]
            + ["--model-file", str(setup.tmp / "model.keras")]
        )


def test_unreadable_inputs_are_skipped_and_listed(setup, tmp_path, capsys):
    photos = tmp_path / "mixed"
    photos.mkdir()
    good = setup.images["street"]
    Image.fromarray(good).save(photos / "good.png")
    Image.fromarray(setup.images["square"]).save(photos / "cut.jpg")
    jpeg = (photos / "cut.jpg").read_bytes()
    (photos / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # truncated
    (photos / "notes.png").write_text("not an image\n")
    out = tmp_path / "out"
    model = ["--model-file", str(setup.tmp / "model.keras")]
    assert predict_main([str(photos), "--out", str(out), *model]) == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "classes.json",
        "good_classes.png",
        "good_figure.png",
        "good_overlay.png",
        "legend.png",
    ]
    class_map, _ = class_map_of(out / "good_classes.png")
    expected = reference_class_map(setup.model, good)
    assert np.mean(class_map == expected) >= 0.9999
    captured = capsys.readouterr()
    assert "Wrote 1 class maps" in captured.out
    lines = captured.err.strip().splitlines()[-3:]
    assert lines[0] == "Skipped 2 unreadable input(s):"
    assert lines[1].startswith(f"  {photos / 'cut.jpg'}: Cannot read")
    assert "truncated" in lines[1]
    assert lines[2].startswith(f"  {photos / 'notes.png'}: Cannot read")


def test_out_that_is_a_file_is_refused(setup, tmp_path):
    target = tmp_path / "predictions"
    target.write_bytes(b"keep me")
    model = ["--model-file", str(setup.tmp / "model.keras")]
    with pytest.raises(FileExistsError, match=f"--out {target} is an exist"):
        predict_main([str(setup.extra), "--out", str(target), *model])
    assert target.read_bytes() == b"keep me"
