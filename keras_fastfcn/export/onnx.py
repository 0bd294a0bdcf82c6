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
        function,
        input_signature=function.input_signature,
        opset=opset,
        custom_op_handlers={"ResizeBilinear": (_resize_to_sizes, [])},
    )
    concrete = function.get_concrete_function()
    shapes = {"images": concrete.structured_input_signature[0][0].shape}
    shapes.update({k: v.shape for k, v in concrete.structured_outputs.items()})
    _set_dimensions(model_proto.graph, shapes)
    atomic_write_bytes(path, model_proto.SerializeToString())
    return Path(path)


def _resize_to_sizes(ctx, node, name, args) -> None:
    """Convert a TensorFlow `ResizeBilinear` to an ONNX `Resize` that is
    given the output size (a tf2onnx custom-op handler).

    tf2onnx's own conversion passes float scales when the sizes are known
    while converting, and ONNX Runtime floors `in * scale`: 23 -> 45
    (a 360-pixel image's stride-16 map resized to its stride-8 map) gives
    `23 * float32(45 / 23) = 44.99999`, so 44 rows, and the JPU's
    concatenation fails. Sizes are exact.
    """
    import numpy as np
    from onnx import TensorProto
    from tf2onnx import utils

    images, size = node.input
    align_corners = bool(node.get_attr_value("align_corners", 0))
    half_pixel = bool(node.get_attr_value("half_pixel_centers", 0))
    mode = "asymmetric"
    if align_corners:
        mode = "align_corners"
    elif half_pixel:
        mode = "half_pixel"

    def constant(values, dtype):
        array = np.array(values, dtype)
        return ctx.make_const(utils.make_name(f"{name}_const"), array).output[0]

    nchw = ctx.make_node("Transpose", [images], {"perm": [0, 3, 1, 2]})
    shape = ctx.make_node("Shape", [nchw.output[0]])
    batch_and_channels = ctx.make_node(
        "Slice",
        [shape.output[0], constant([0], np.int64), constant([2], np.int64)],
    )
    size = ctx.make_node("Cast", [size], attr={"to": TensorProto.INT64})
    sizes = ctx.make_node(
        "Concat", [batch_and_channels.output[0], size.output[0]], {"axis": 0}
    )
    no_floats = constant([], np.float32)
    resize = ctx.make_node(
        "Resize",
        [nchw.output[0], no_floats, no_floats, sizes.output[0]],
        attr={"mode": "linear", "coordinate_transformation_mode": mode},
    )
    shapes, dtypes = node.output_shapes, node.output_dtypes
    ctx.remove_node(name)
    ctx.make_node(
        "Transpose",
        resize.output,
        {"perm": [0, 2, 3, 1]},
        name=name,
        outputs=node.output,
        shapes=shapes,
        dtypes=dtypes,
    )


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
