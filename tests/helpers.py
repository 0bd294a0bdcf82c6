"""Shared test helpers: random weights, weight lookup, round trips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np

_TWO_REPLICAS = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # utils/runtime.py: ONEDNN_VARIABLE
import tensorflow as tf
from keras_fastfcn.distribute import make_strategy
strategy = make_strategy(2)  # two logical CPU devices
sys.path.insert(0, sys.argv[1])
"""


def run_with_two_cpu_replicas(script: str) -> dict:
    """Run `script` in a fresh TensorFlow process where `strategy` is a
    2-replica `MirroredStrategy` over logical CPU devices (they must exist
    before TensorFlow starts) and the tests folder is importable; return
    the JSON object it prints last."""
    tests_dir = str(Path(__file__).resolve().parent)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _TWO_REPLICAS + textwrap.dedent(script),
            tests_dir,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def randomize_weights(model_or_layer, seed: int = 0) -> None:
    """Give every variable random values; BN variances stay positive."""
    rng = np.random.default_rng(seed)
    for variable in model_or_layer.weights:
        shape = tuple(variable.shape)
        name = variable.path.rsplit("/", 1)[-1]
        if name == "moving_variance":
            value = rng.uniform(0.5, 1.5, shape)
        elif name == "gamma":
            value = rng.uniform(0.5, 1.5, shape)
        elif name == "scale":  # Encoding smoothing factors are negative
            value = rng.uniform(-1.0, -0.1, shape)
        else:
            value = rng.normal(0.0, 0.3, shape)
        variable.assign(value.astype(variable.dtype))


def weights_by_path(model_or_layer) -> dict[str, np.ndarray]:
    """`{"jpu/conv5.0/kernel": array, ...}` with the layer's own prefix
    stripped, as float64."""
    out = {}
    for variable in model_or_layer.weights:
        path = variable.path.split("/", 1)[-1]
        out[path] = np.asarray(keras.ops.convert_to_numpy(variable), np.float64)
    return out


def bn_params(weights: dict, prefix: str):
    return (
        weights[f"{prefix}/gamma"],
        weights[f"{prefix}/beta"],
        weights[f"{prefix}/moving_mean"],
        weights[f"{prefix}/moving_variance"],
    )


def to_numpy(x):
    if isinstance(x, (tuple, list)):
        return type(x)(to_numpy(v) for v in x)
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    return np.asarray(keras.ops.convert_to_numpy(x))


def assert_layer_round_trip(layer, inputs, tmp_path, atol=1e-6):
    """`get_config`/`from_config` and `.keras` save/load give the same
    outputs as `layer` on `inputs` (a list of arrays or one array)."""
    single = not isinstance(inputs, list)
    symbolic = [
        keras.Input(shape=np.shape(x)[1:])
        for x in ([inputs] if single else inputs)
    ]
    outputs = layer(symbolic[0] if single else symbolic)
    model = keras.Model(symbolic[0] if single else symbolic, outputs)
    expected = to_numpy(model(inputs, training=False))

    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    path = tmp_path / "layer.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    actual = to_numpy(restored(inputs, training=False))
    assert_nested_close(actual, expected, atol)


def assert_nested_close(actual, expected, atol):
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            assert_nested_close(actual[key], expected[key], atol)
    elif isinstance(expected, (tuple, list)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_nested_close(a, e, atol)
    else:
        np.testing.assert_allclose(actual, expected, atol=atol, rtol=1e-5)


def relative_error(actual, expected) -> float:
    """Largest absolute difference over the largest `|expected|`."""
    actual, expected = to_numpy(actual), np.asarray(expected)
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def kernel_gradient(convolve, x, kernel) -> np.ndarray:
    """d sum(convolve(x, kernel) ** 2) / d kernel on the active backend."""
    ops = keras.ops
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        kernel = tf.constant(kernel)
        with tf.GradientTape() as tape:
            tape.watch(kernel)
            loss = ops.sum(ops.square(convolve(x, kernel)))
        return tape.gradient(loss, kernel).numpy()
    if backend == "jax":
        import jax

        return np.asarray(
            jax.grad(lambda k: ops.sum(ops.square(convolve(x, k))))(kernel)
        )
    import torch

    kernel = torch.tensor(kernel, requires_grad=True)
    ops.sum(ops.square(convolve(ops.convert_to_tensor(x), kernel))).backward()
    return kernel.grad.numpy()


def assert_same_convolution(
    convolve, shape, kernel_size=3, dilation=1, seed=0, rtol=1e-5
) -> None:
    """`convolve(x, kernel)` equals a float64 NumPy "same" convolution and
    `keras.ops.conv` within `rtol` relative, on random `x` of `shape[:4]`
    `(batch, height, width, channels)` and `shape[4]` filters."""
    from tests import numpy_reference as ref

    batch, height, width, channels, filters = shape
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, height, width, channels)).astype("float32")
    kernel = rng.normal(
        size=(kernel_size, kernel_size, channels, filters)
    ).astype("float32")
    expected = ref.conv2d(
        x.astype("float64"), kernel.astype("float64"), dilation=dilation
    )
    result = convolve(x, kernel)
    assert tuple(result.shape) == (batch, height, width, filters)
    assert relative_error(result, expected) < rtol
    direct = keras.ops.conv(x, kernel, 1, "same", dilation_rate=dilation)
    assert relative_error(result, to_numpy(direct)) < rtol
