"""ONNX export through tf2onnx."""

from __future__ import annotations

import os
from pathlib import Path

import keras

from keras_fastfcn.constants import MIN_OPSET  # noqa: F401
from keras_fastfcn.export.inference_model import inference_model
from keras_fastfcn.export.inference_model import require_tensorflow_backend
from keras_fastfcn.export.serving import logits_function
from keras_fastfcn.utils.files import atomic_write_bytes

# Names for the leading dynamic dimensions of inputs and outputs.
_DIM_NAMES = ("batch", "height", "width")


def export_onnx(
    model: keras.Model,
    path: str | os.PathLike,
    opset: int = MIN_OPSET,
    input_size: tuple[int, int] | None = None,
) -> Path:
    """Convert `model` to an `.onnx` file with tf2onnx.

    The ONNX graph takes `images` float32 `(batch, height, width, 3)`, RGB
    normalised with the ImageNet mean and std (NHWC, as for the Keras
    model), and returns `logits` float32 `(batch, height, width, classes)`
    and `class_map` int32 `(batch, height, width)`. Batch, height and width
    are dynamic unless `input_size` fixes the latter two. Auxiliary / SE
    outputs are dropped.

    Args:
        model: a segmentation model (TensorFlow backend).
        path: the `.onnx` file to write (atomically).
        opset: int, ONNX opset, at least 17. Default `17`.
        input_size: optional `(height, width)` to fix in the graph.

    Returns:
        `Path(path)`.
    """
    require_tensorflow_backend("ONNX export")
    if opset < MIN_OPSET:
        raise ValueError(
            f"opset={opset} is too old; use {MIN_OPSET} or newer (older "
            "opsets lack the resize / einsum semantics the model needs)."
        )
    try:
        import tf2onnx
    except ImportError as error:
        raise ImportError(
            "ONNX export needs tf2onnx: pip install 'tf2onnx==1.17.0' onnx "
            "(or the package's 'export' extra)."
        ) from error
    function = logits_function(inference_model(model), input_size)
    model_proto, _ = tf2onnx.convert.from_function(
        function, input_signature=function.input_signature, opset=opset
    )
    concrete = function.get_concrete_function()
    shapes = {"images": concrete.structured_input_signature[0][0].shape}
    shapes.update({k: v.shape for k, v in concrete.structured_outputs.items()})
    _set_dimensions(model_proto.graph, shapes)
    atomic_write_bytes(path, model_proto.SerializeToString())
    return Path(path)


def _set_dimensions(graph, shapes: dict) -> None:
    """Give graph inputs / outputs the static sizes TensorFlow knows (the
    class count) and call dynamic ones `batch` / `height` / `width`
    instead of tf2onnx's `unk__N`, so that tools show readable shapes."""
    for value in list(graph.input) + list(graph.output):
        known = shapes[value.name]
        for dim, size, name in zip(
            value.type.tensor_type.shape.dim, known, _DIM_NAMES + (None,)
        ):
            if size is not None:
                dim.dim_value = size
            elif name is not None:
                dim.dim_param = name
