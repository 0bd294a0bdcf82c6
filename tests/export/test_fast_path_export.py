"""Exported graphs: TensorFlow's own bilinear resize, and the CPU fast
paths in a SavedModel exported with `fast_paths="cpu"`."""

from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from keras_fastfcn.benchmarks.export_parity import compare_logits
from keras_fastfcn.data import normalize
from keras_fastfcn.export.runtimes import SavedModelRunner
from keras_fastfcn.export.saved_model import export_saved_model
from keras_fastfcn.export.saved_model import read_export_config
from keras_fastfcn.export.serving import check_export_fast_paths
from keras_fastfcn.export.serving import tf_resize_bilinear
from keras_fastfcn.fast import fast_paths
from keras_fastfcn.fast import winograd
from keras_fastfcn.layers.resize import resize_bilinear
from tests.export.tiny_models import random_images
from tests.export.tiny_models import tiny_model


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize(
    "in_size, out_size", [((8, 12), (64, 96)), ((33, 45), (9, 10))]
)
def test_tf_resize_equals_the_interpolation_matrices(
    in_size, out_size, align_corners
):
    """TensorFlow's ResizeBilinear has PyTorch's semantics in both corner
    conventions, for sizes known while tracing and for unknown ones."""
    x = np.random.default_rng(1).normal(size=(2, *in_size, 3)).astype("f4")
    with fast_paths("off"):
        expected = np.asarray(resize_bilinear(x, out_size, align_corners))
    np.testing.assert_allclose(
        tf_resize_bilinear(tf.constant(x), out_size, align_corners).numpy(),
        expected,
        atol=1e-5,
    )
    traced = tf.function(
        lambda x, size: tf_resize_bilinear(
            x, (size[0], size[1]), align_corners
        ),
        input_signature=[
            tf.TensorSpec((None, None, None, 3), tf.float32),
            tf.TensorSpec((2,), tf.int32),
        ],
    )
    np.testing.assert_allclose(
        traced(x, tf.constant(out_size)).numpy(), expected, atol=1e-5
    )


def graph_operations(version_dir) -> Counter:
    signature = tf.saved_model.load(str(version_dir)).signatures["serve_logits"]
    graph = signature.graph.as_graph_def()
    nodes = [n for f in graph.library.function for n in f.node_def]
    return Counter(node.op for node in nodes + list(graph.node))


def test_cpu_export_carries_winograd_and_matches_keras(tmp_path, monkeypatch):
    """`fast_paths="cpu"` puts Winograd convolutions into graphs that take
    any image size; their logits stay within 1e-4 of the largest logit of
    the Keras model (official operations) at every size."""
    # The tiny model's layers are too narrow for the measured rule
    # (in x out channels >= 2**16); lower it so that they qualify.
    monkeypatch.setattr(winograd, "MIN_CHANNEL_PRODUCT", 1)
    model = tiny_model("encnet_jpu")
    exports = {
        mode: export_saved_model(model, tmp_path / mode, fast_paths=mode)
        for mode in ("portable", "cpu")
    }
    portable, cpu = (graph_operations(exports[m]) for m in exports)
    assert cpu["Conv2D"] < portable["Conv2D"]
    assert cpu["MatMul"] + cpu["BatchMatMulV2"] > (
        portable["MatMul"] + portable["BatchMatMulV2"]
    )
    assert portable["ResizeBilinear"] >= 3 and cpu["ResizeBilinear"] >= 3
    for height, width in [(64, 64), (48, 80), (37, 53)]:
        images = normalize(random_images(1, height, width, seed=height))
        images = images.numpy()
        with fast_paths("off"):
            expected = np.asarray(model(images, training=False))
        for mode, version in exports.items():
            max_abs, _, agreement = compare_logits(
                expected, SavedModelRunner(version)(images)
            )
            assert max_abs <= 1e-4 * np.abs(expected).max(), mode
            assert agreement >= 0.9999, mode
    assert read_export_config(exports["cpu"])["fast_paths"] == "cpu"
    assert read_export_config(exports["portable"])["fast_paths"] == "portable"


def test_export_fast_paths_default_and_check():
    assert check_export_fast_paths(None) in ("cpu", "portable")
    with pytest.raises(ValueError, match="cpu: CPU serving"):
        check_export_fast_paths("winograd")
