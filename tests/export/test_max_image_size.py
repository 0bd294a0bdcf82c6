"""The SavedModel signatures refuse images above `--max-image-size`."""

from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from keras_fastfcn.cli.export import main as export_main
from keras_fastfcn.export.saved_model import read_export_config
from keras_fastfcn.export.serving import DEFAULT_MAX_IMAGE_SIZE
from keras_fastfcn.export.serving import ServingFunctions
from tests.export.tiny_models import TINY_CLI_OPTIONS
from tests.export.tiny_models import encode
from tests.export.tiny_models import random_images
from tests.export.tiny_models import tiny_model

LIMIT = 64


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A tiny FCN exported by the CLI with `--max-image-size 64`, loaded."""
    tmp = tmp_path_factory.mktemp("max_image_size")
    model = tiny_model("fcn_bilinear")
    weights = tmp / "tiny.weights.h5"
    model.save_weights(weights)
    export_main(
        ["--format", "saved_model", "--output", str(tmp / "models")]
        + ["--weights", str(weights), "--model", "fcn_bilinear"]
        + TINY_CLI_OPTIONS
        + ["--neck-width", "16", "--max-image-size", str(LIMIT)]
    )
    version = tmp / "models" / "1"
    return SimpleNamespace(
        version=version, loaded=tf.saved_model.load(str(version))
    )


def test_limit_is_stored_with_the_export(served):
    config = read_export_config(served.version)
    assert config["max_image_size"] == LIMIT
    assert config["resize_policy"]["mode"] == "none"


def test_images_up_to_the_limit_are_segmented(served):
    images = tf.constant(random_images(1, LIMIT, LIMIT - 10))
    outputs = served.loaded.signatures["serving_default"](images=images)
    assert outputs["class_map"].shape == (1, LIMIT, LIMIT - 10)


def call(signature, **inputs):
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        signature(**inputs)
    return error.value.message


@pytest.mark.parametrize("height, width", [(LIMIT + 1, 8), (8, LIMIT + 1)])
def test_bigger_images_are_refused_naming_the_limit(served, height, width):
    signatures = served.loaded.signatures
    message = call(
        signatures["serving_default"],
        images=tf.constant(random_images(1, height, width)),
    )
    assert f"images is larger than {LIMIT} pixels per side" in message
    assert f"--max-image-size {LIMIT} at export" in message
    message = call(
        signatures["serve_logits"],
        images=tf.zeros((1, height, width, 3), tf.float32),
    )
    assert f"images is larger than {LIMIT} pixels per side" in message
    png = encode(random_images(1, height, width)[0], "PNG")
    message = call(
        signatures["serve_image_bytes"], image_bytes=tf.constant([png])
    )
    assert f"a decoded image_bytes is larger than {LIMIT} pixels" in message


def test_default_and_invalid_limits():
    model = tiny_model("fcn_bilinear")
    assert ServingFunctions(model).max_image_size == DEFAULT_MAX_IMAGE_SIZE
    assert DEFAULT_MAX_IMAGE_SIZE == 4096
    with pytest.raises(ValueError, match="--max-image-size must be a pos"):
        ServingFunctions(model, max_image_size=0)
    functions = ServingFunctions(model, max_image_size=LIMIT)
    ok = functions.serve_images(tf.zeros((1, 32, LIMIT, 3), tf.uint8))
    assert ok["class_map"].shape == (1, 32, LIMIT)
    with pytest.raises(tf.errors.InvalidArgumentError, match="larger than 64"):
        functions.serve_images(tf.zeros((1, 32, LIMIT + 1, 3), tf.uint8))
    assert np.all(ok["class_map"].numpy() >= 0)
