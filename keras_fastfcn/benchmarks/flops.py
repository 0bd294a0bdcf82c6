"""Count the floating-point operations of a Keras model (TensorFlow only).

The model is traced for a fixed input shape, its variables are frozen into
constants, and TensorFlow's profiler sums the registered per-op FLOP
statistics (convolutions, matmuls, element-wise ops; one multiply-add
counts as 2 FLOPs). `Einsum` ops, which carry the interpolation-matrix
resizes here, have no registered statistics and are counted from their
equation and static shapes.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

from keras_fastfcn.fast import fast_paths


def _einsum_flops(op) -> int:
    equation = op.get_attr("equation").decode()
    inputs, _ = equation.split("->")
    sizes = {}
    for spec, tensor in zip(inputs.split(","), op.inputs):
        for letter, dim in zip(spec, tensor.shape.as_list()):
            if dim is None:
                raise ValueError(f"Einsum {op.name} has an unknown dimension.")
            sizes[letter] = dim
    return 2 * math.prod(sizes.values())


def count_flops(model: keras.Model, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one inference call of `model` on `input_shape`.

    Args:
        model: a Keras model taking one image tensor.
        input_shape: full static shape, e.g. `(1, 512, 512, 3)`.

    Returns:
        The number of floating-point operations (2 per multiply-add), with
        every convolution counted as the direct one (the paper's
        convention), also where inference runs it as Winograd or with
        cropped taps: counted under `fast_paths("portable")`.
    """

    def infer(x):
        with fast_paths("portable"):
            return model(x, training=False)

    function = tf.function(infer)
    concrete = function.get_concrete_function(
        tf.TensorSpec(input_shape, tf.float32)
    )
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, options=options)
    einsum = sum(
        _einsum_flops(op)
        for op in graph.get_operations()
        if op.type == "Einsum"
    )
    return int(profile.total_float_ops) + einsum
