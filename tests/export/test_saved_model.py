"""SavedModel for TF Serving, exported with the CLI and loaded in a fresh
process that does not import keras_fastfcn."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from keras_fastfcn.cli.export import main as export_main
from keras_fastfcn.export.inference_model import inference_model
from keras_fastfcn.export.saved_model import export_saved_model
from keras_fastfcn.export.saved_model import next_version
from tests.export.tiny_models import NUM_CLASSES
from tests.export.tiny_models import TINY_CLI_OPTIONS
from tests.export.tiny_models import encode
from tests.export.tiny_models import random_images
from tests.export.tiny_models import tiny_model

HERE = Path(__file__).resolve().parent
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
LONG_SIDE = 96


def reference(model, images, resized):
    """Class map and probabilities computed by hand around the Keras model:
    resize to `resized`, pad with black to multiples of 32, normalise, run,
    crop, resize back, softmax / argmax."""
    height, width = images.shape[1:3]
    x = tf.image.resize(images, resized, antialias=True).numpy()
    pad = [(0, 0)] + [(0, -n % 32) for n in resized] + [(0, 0)]
    x = (np.pad(x, pad) / 255.0 - MEAN) / STD
    logits = model(x, training=False)["logits"]
    logits = tf.image.resize(
        logits[:, : resized[0], : resized[1]], (height, width)
    )
    probabilities = tf.nn.softmax(logits).numpy()
    return probabilities.argmax(-1), probabilities


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny EncNet with aux and SE heads, saved as weights and exported by
    the command line with a long-side-96 policy and probabilities."""
    tmp = tmp_path_factory.mktemp("saved_model")
    model = tiny_model("encnet_jpu", aux=True, se_loss=True)
    weights = tmp / "tiny.weights.h5"
    model.save_weights(weights)
    model_dir = tmp / "models" / "fastfcn"
    export_main(
        ["--format", "saved_model", "--output", str(model_dir)]
        + ["--weights", str(weights), "--model", "encnet_jpu"]
        + TINY_CLI_OPTIONS
        + ["--neck-width", "16", "--aux", "--se-loss"]
        + ["--size", str(LONG_SIDE), "--probabilities"]
    )
    return SimpleNamespace(model=model, model_dir=model_dir, tmp=tmp)


@pytest.fixture(scope="module")
def served(exported):
    """Results of `serving_check.py` run on the export in a fresh process."""
    case_dir = exported.tmp / "cases"
    case_dir.mkdir()
    images = random_images(2, 50, 70, seed=1)
    other = random_images(1, 40, 60, seed=2)[0]
    rng = np.random.default_rng(3)
    float_images = rng.normal(size=(2, 64, 96, 3)).astype(np.float32)
    np.savez(case_dir / "inputs.npz", images=images, float_images=float_images)
    (case_dir / "a.png").write_bytes(encode(images[0], "PNG"))
    (case_dir / "b.jpg").write_bytes(encode(other, "JPEG"))
    (case_dir / "files.json").write_text(json.dumps(["a.png", "b.jpg"]))
    subprocess.run(
        [
            sys.executable,
            str(HERE / "serving_check.py"),
            str(exported.model_dir / "1"),
            str(case_dir),
        ],
        check=True,
        cwd=case_dir,
        timeout=300,
    )
    return SimpleNamespace(
        images=images,
        # TF's JPEG decoder (as in the graph); PIL's rounds differently.
        other=tf.io.decode_jpeg((case_dir / "b.jpg").read_bytes()).numpy(),
        float_images=float_images,
        arrays=dict(np.load(case_dir / "results.npz")),
        results=json.loads((case_dir / "results.json").read_text()),
    )


def test_layout_is_what_tf_serving_loads(exported):
    assert sorted(p.name for p in exported.model_dir.iterdir()) == ["1"]
    version = exported.model_dir / "1"
    assert (version / "saved_model.pb").is_file()
    assert (version / "variables" / "variables.index").is_file()
    assert next_version(exported.model_dir) == 2


def test_existing_version_is_not_overwritten(exported):
    with pytest.raises(FileExistsError, match="already exists"):
        export_saved_model(exported.model, exported.model_dir, version=1)


def test_next_version(tmp_path):
    assert next_version(tmp_path / "missing") == 1
    for name in ("1", "7", "notes", ".tmp-9-x"):
        (tmp_path / name).mkdir()
    assert next_version(tmp_path) == 8


def test_aux_head_weights_are_not_exported(exported):
    stored = tf.train.list_variables(
        str(exported.model_dir / "1" / "variables" / "variables")
    )
    stored_size = sum(
        int(np.prod(shape))
        for name, shape in stored
        if name.endswith("VARIABLE_VALUE")
    )
    kept = sum(
        int(np.prod(w.shape)) for w in inference_model(exported.model).weights
    )
    everything = sum(int(np.prod(w.shape)) for w in exported.model.weights)
    aux = sum(
        int(np.prod(w.shape))
        for w in exported.model.get_layer("auxlayer").weights
    )
    assert stored_size == kept == everything - aux


def test_fresh_process_sees_every_signature(served):
    assert served.results["signatures"] == [
        "serve_image_bytes",
        "serve_logits",
        "serving_default",
    ]
    assert served.results["keras_fastfcn_imported"] == []


def test_serving_default_matches_keras(exported, served):
    # 70 -> 96 scales 50 to 68.57, rounded to 69.
    class_map, probabilities = reference(
        exported.model, served.images, (69, 96)
    )
    assert served.arrays["default_class_map"].dtype == np.int32
    assert served.arrays["default_class_map"].shape == (2, 50, 70)
    # Logits reach ~100 here, so float32 rounding moves them by ~1e-5.
    np.testing.assert_allclose(
        served.arrays["default_probabilities"], probabilities, atol=1e-4
    )
    agreement = np.mean(served.arrays["default_class_map"] == class_map)
    assert agreement >= 0.9999


def test_serve_logits_matches_keras(exported, served):
    logits = exported.model(served.float_images, training=False)["logits"]
    np.testing.assert_allclose(
        served.arrays["logits_logits"], logits, atol=1e-4
    )
    np.testing.assert_array_equal(
        served.arrays["logits_class_map"], np.argmax(logits, -1)
    )


def test_image_bytes_at_each_images_own_size(exported, served):
    arrays = served.arrays
    assert arrays["bytes_image_size"].tolist() == [[50, 70], [40, 60]]
    assert arrays["bytes_class_map"].shape == (2, 50, 70)
    assert arrays["bytes_probabilities"].shape == (2, 50, 70, NUM_CLASSES)
    # The PNG is lossless: the same map as the uint8 signature.
    np.testing.assert_array_equal(
        arrays["bytes_class_map"][0], arrays["default_class_map"][0]
    )
    # The smaller image is padded with -1 / 0.
    assert (arrays["bytes_class_map"][1, 40:] == -1).all()
    assert (arrays["bytes_class_map"][1, :, 60:] == -1).all()
    assert (arrays["bytes_probabilities"][1, 40:] == 0).all()
    # 60 -> 96 scales 40 to 64.
    class_map, _ = reference(exported.model, served.other[None], (64, 96))
    assert np.mean(arrays["bytes_class_map"][1, :40, :60] == class_map) > 0.999


def test_rest_and_grpc_requests(served):
    arrays = served.arrays
    assert arrays["rest_bytes_0"].shape == (50, 70)
    assert arrays["rest_bytes_1"].shape == (40, 60)
    for i in range(2):
        np.testing.assert_array_equal(
            arrays[f"rest_bytes_{i}"],
            arrays["bytes_class_map"][i][
                tuple(slice(n) for n in arrays["bytes_image_size"][i])
            ],
        )
    np.testing.assert_array_equal(
        arrays["rest_default_class_map"], arrays["default_class_map"]
    )
    if served.results["grpc"] != "ran":
        pytest.skip(served.results["grpc"])
    for i in range(2):
        np.testing.assert_array_equal(
            arrays[f"grpc_bytes_{i}"], arrays[f"rest_bytes_{i}"]
        )


@pytest.mark.parametrize(
    "case, message",
    [
        ("bytes_not_an_image", "image_bytes[1] is not a JPEG or PNG image"),
        ("bytes_truncated", "PNG"),
        ("bytes_empty_batch", "image_bytes is an empty batch"),
        ("images_empty_batch", "images is an empty batch"),
        ("images_float", "expected to be a uint8 tensor"),
        ("images_rank_3", "not compatible with expected shape [?,?,?,3]"),
        ("images_4_channels", "not compatible with expected shape [?,?,?,3]"),
        ("logits_empty_batch", "images is an empty batch"),
    ],
)
def test_bad_inputs_give_clear_errors(served, case, message):
    error = served.results["errors"][case]
    assert error is not None, f"{case} was accepted"
    assert error["type"] == "InvalidArgumentError"
    assert message in error["message"]


def _saved_model_cli(*args):
    cli = shutil.which("saved_model_cli")
    if cli is None:
        pytest.skip("saved_model_cli is not on PATH")
    return subprocess.run(
        [cli, *args], check=True, capture_output=True, text=True, timeout=300
    ).stdout


def test_saved_model_cli_show(exported):
    shown = _saved_model_cli(
        "show", "--dir", str(exported.model_dir / "1"), "--all"
    )
    for text in (
        "signature_def['serving_default']",
        "signature_def['serve_image_bytes']",
        "signature_def['serve_logits']",
        "inputs['images'] tensor_info:\n        dtype: DT_UINT8\n"
        "        shape: (-1, -1, -1, 3)",
        "inputs['image_bytes'] tensor_info:\n        dtype: DT_STRING",
        "outputs['class_map'] tensor_info:\n        dtype: DT_INT32\n"
        "        shape: (-1, -1, -1)",
        f"outputs['probabilities'] tensor_info:\n        dtype: DT_FLOAT\n"
        f"        shape: (-1, -1, -1, {NUM_CLASSES})",
        "outputs['image_size'] tensor_info:\n        dtype: DT_INT32\n"
        "        shape: (-1, 2)",
    ):
        assert text in shown


def test_saved_model_cli_run(exported, served, tmp_path):
    np.save(tmp_path / "images.npy", served.images)
    _saved_model_cli(
        "run",
        "--dir",
        str(exported.model_dir / "1"),
        "--tag_set",
        "serve",
        "--signature_def",
        "serving_default",
        "--inputs",
        f"images={tmp_path / 'images.npy'}",
        "--outdir",
        str(tmp_path / "out"),
    )
    np.testing.assert_array_equal(
        np.load(tmp_path / "out" / "class_map.npy"),
        served.arrays["default_class_map"],
    )
