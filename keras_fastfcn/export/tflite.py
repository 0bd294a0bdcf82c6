"""TFLite / LiteRT export with fp32, fp16 or int8 weights."""

from __future__ import annotations

import collections
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable
from typing import Iterable

import keras
import numpy as np
import tensorflow as tf

from keras_fastfcn.constants import QUANTIZE_MODES
from keras_fastfcn.export.inference_model import inference_model
from keras_fastfcn.export.inference_model import require_tensorflow_backend
from keras_fastfcn.export.saved_model import write_signatures
from keras_fastfcn.export.serving import SERVING_DEFAULT
from keras_fastfcn.export.serving import logits_function
from keras_fastfcn.utils.files import atomic_write_bytes


def export_tflite(
    model: keras.Model,
    path: str | os.PathLike,
    input_size: tuple[int, int],
    quantize: str = "none",
    representative_images: Callable[[], Iterable[np.ndarray]] | None = None,
) -> Path:
    """Convert `model` to a `.tflite` file with a fixed input size.

    The TFLite model has one signature, `serving_default`: `images` float32
    `(1, height, width, 3)`, RGB normalised with the ImageNet mean and std
    (as for the Keras model) -> `logits` float32 `(1, height, width,
    classes)` and `class_map` int32 `(1, height, width)`. Auxiliary / SE
    outputs are dropped.

    Args:
        model: a segmentation model (TensorFlow backend).
        path: the `.tflite` file to write (atomically).
        input_size: `(height, width)`; multiples of 32 are best.
        quantize: `"none"` (float32), `"fp16"` (float16 weights, float32
            compute on CPU) or `"int8"` (int8 weights and activations,
            calibrated on `representative_images`; ops without an int8
            kernel stay float; input and output stay float32).
        representative_images: for `"int8"`, a callable returning an
            iterable of normalised float32 `(height, width, 3)` or `(1,
            height, width, 3)` arrays (see `calibration_images`).

    Returns:
        `Path(path)`.
    """
    require_tensorflow_backend("TFLite export")
    if quantize not in QUANTIZE_MODES:
        raise ValueError(
            f"Unknown quantize={quantize!r}; expected one of {QUANTIZE_MODES}."
        )
    if quantize == "int8" and representative_images is None:
        raise ValueError(
            "int8 quantization needs representative images to calibrate "
            "activation ranges; pass --calibration-images DIR (or "
            "representative_images=...)."
        )
    logits_model = inference_model(model)
    function = logits_function(logits_model, input_size, batch_size=1)
    with tempfile.TemporaryDirectory() as tmp:
        saved_model = Path(tmp) / "saved_model"
        write_signatures({SERVING_DEFAULT: function}, saved_model)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            str(saved_model), signature_keys=[SERVING_DEFAULT]
        )
        _configure(converter, quantize, representative_images, input_size)
        with warnings.catch_warnings():
            # int8 calibration runs TF's own deprecated tf.lite.Interpreter.
            warnings.filterwarnings(
                "ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated"
            )
            flatbuffer = converter.convert()
    atomic_write_bytes(path, flatbuffer)
    return Path(path)


def operation_counts(path: str | os.PathLike) -> collections.Counter:
    """`Counter` of `(operation, dtype of its first output)` in a
    `.tflite` file, e.g. `("CONV_2D", "int8")`."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    dtypes = {
        d["index"]: np.dtype(d["dtype"]).name
        for d in interpreter.get_tensor_details()
    }
    counts = collections.Counter()
    for op in interpreter._get_ops_details():
        outputs = [i for i in op["outputs"] if i >= 0]
        counts[(op["op_name"], dtypes[outputs[0]] if outputs else "")] += 1
    return counts


def float_operations(path: str | os.PathLike) -> collections.Counter:
    """The operations of an int8 `.tflite` file that compute in float32
    (`Counter` by name): those without an int8 kernel, each paid for
    with a DEQUANTIZE before and a QUANTIZE after it. The DEQUANTIZE
    operations themselves are not counted."""
    return collections.Counter(
        {
            name: count
            for (name, dtype), count in operation_counts(path).items()
            if dtype == "float32" and name != "DEQUANTIZE"
        }
    )


def _configure(converter, quantize, representative_images, input_size):
    if quantize == "none":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        converter.target_spec.supported_types = [tf.float16]
        return

    def dataset():
        count = 0
        for image in representative_images():
            image = np.asarray(image, np.float32).reshape((1, *input_size, 3))
            count += 1
            yield {"images": image}
        if count == 0:
            raise ValueError(
                "The representative image set is empty; int8 calibration "
                "needs at least one image."
            )

    converter.representative_dataset = dataset
