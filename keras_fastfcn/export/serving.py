"""Serving signatures: uint8 images, encoded image bytes, float images.

Each signature is a `tf.function` with a fixed input signature, so that
TF Serving (REST and gRPC), `saved_model_cli` and `tf.saved_model.load`
see the same inputs and outputs:

- `serving_default`: `images` uint8 `(batch, height, width, 3)` ->
  `class_map` int32 `(batch, height, width)` [+ `probabilities` float32
  `(batch, height, width, classes)`].
- `serve_image_bytes`: `image_bytes` string `(batch,)` of encoded JPEG /
  PNG files -> `class_map` `(batch, max_height, max_width)` (padded with
  -1), `image_size` int32 `(batch, 2)` [+ `probabilities`].
- `serve_logits`: `images` float32 `(batch, height, width, 3)`, already
  normalised -> `logits` float32 `(batch, height, width, classes)` and
  `class_map`, with no resizing.

Every signature refuses images larger than `max_image_size` pixels per
side (default `DEFAULT_MAX_IMAGE_SIZE` = 4096; set at export with
`--max-image-size`) with an `InvalidArgumentError` that names the limit
and the option, instead of running out of memory on a huge upload.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_fastfcn.constants import DEFAULT_MAX_IMAGE_SIZE
from keras_fastfcn.constants import EXPORT_FAST_PATHS
from keras_fastfcn.export.image_bytes import segment_image_bytes
from keras_fastfcn.export.inference_model import inference_model
from keras_fastfcn.export.postprocessing import restore_logits
from keras_fastfcn.export.postprocessing import segmentation_outputs
from keras_fastfcn.export.preprocessing import ResizePolicy
from keras_fastfcn.export.preprocessing import after
from keras_fastfcn.export.preprocessing import check_image_batch
from keras_fastfcn.export.preprocessing import prepare_images
from keras_fastfcn.fast import fast_paths
from keras_fastfcn.fast import native_resize

SERVING_DEFAULT = "serving_default"
SERVE_IMAGE_BYTES = "serve_image_bytes"
SERVE_LOGITS = "serve_logits"

MAX_IMAGE_SIZE_OPTION = "--max-image-size"

IMAGES_SPEC = tf.TensorSpec((None, None, None, 3), tf.uint8, name="images")
IMAGE_BYTES_SPEC = tf.TensorSpec((None,), tf.string, name="image_bytes")
FLOAT_IMAGES_SPEC = tf.TensorSpec(
    (None, None, None, 3), tf.float32, name="images"
)


def check_max_image_size(max_image_size) -> int:
    """`max_image_size` as an int; `ValueError` unless it is positive."""
    if isinstance(max_image_size, bool) or not isinstance(max_image_size, int):
        raise ValueError(
            f"max_image_size must be a positive int, got {max_image_size!r}."
        )
    if max_image_size < 1:
        raise ValueError(
            f"{MAX_IMAGE_SIZE_OPTION} must be a positive number of pixels, "
            f"got {max_image_size}."
        )
    return max_image_size


def check_image_size(images, max_image_size: int, name: str = "images"):
    """`images` `(batch, height, width, channels)`, computed only if height
    and width are at most `max_image_size`; otherwise an
    `InvalidArgumentError` naming the limit and `--max-image-size`."""
    shape = tf.shape(images)
    check = tf.debugging.assert_less_equal(
        tf.maximum(shape[1], shape[2]),
        tf.constant(max_image_size, tf.int32),
        message=(
            f"{name} is larger than {max_image_size} pixels per side, the "
            f"limit of this export ({MAX_IMAGE_SIZE_OPTION} {max_image_size}"
            f" at export); send a smaller image or export again with a "
            f"larger {MAX_IMAGE_SIZE_OPTION}"
        ),
    )
    return after([check], images)


def default_export_fast_paths() -> str:
    """`"cpu"` on a machine without GPU, else `"portable"`: an export is
    usually served on the kind of machine that made it."""
    return "portable" if keras.distribution.list_devices("gpu") else "cpu"


def check_export_fast_paths(mode: str | None) -> str:
    """`mode` checked (`None` -> `default_export_fast_paths()`)."""
    if mode is None:
        return default_export_fast_paths()
    if mode not in EXPORT_FAST_PATHS:
        raise ValueError(
            f"Unknown export fast paths {mode!r}; expected one of "
            f"{EXPORT_FAST_PATHS} (cpu: CPU serving, portable: GPU serving, "
            "TFLite and ONNX)."
        )
    return mode


def tf_resize_bilinear(x, size, align_corners: bool):
    """TensorFlow's `ResizeBilinear` with PyTorch's semantics (corners
    aligned, or half-pixel centres): one graph operation that TFLite runs
    in int8 and tf2onnx turns into one ONNX `Resize`."""
    if all(isinstance(v, int) for v in size):
        size = list(size)
    else:
        size = tf.stack([tf.cast(v, tf.int32) for v in size])
    resized = tf.raw_ops.ResizeBilinear(
        images=x,
        size=size,
        align_corners=align_corners,
        half_pixel_centers=not align_corners,
    )
    return tf.cast(resized, x.dtype)


def export_logits(model, images, mode: str = "portable"):
    """`model(images)` traced for an exported graph.

    `mode` `"portable"` (TFLite, ONNX, GPU serving) keeps direct
    convolutions: those runtimes pick convolution algorithms themselves,
    and int8 quantization of Winograd's transformed tiles would lose
    accuracy. `"cpu"` (CPU serving) adds the Winograd / cropped-tap
    convolutions of `keras_fastfcn.fast`; Winograd also runs at image sizes
    unknown while tracing. Both resize with TensorFlow's own bilinear
    operation (`tf_resize_bilinear`).
    """
    with fast_paths(mode), native_resize(tf_resize_bilinear):
        return model(images, training=False)


def logits_outputs(model, images, mode: str = "portable") -> dict:
    """`{"logits": float32 (batch, height, width, classes), "class_map":
    int32 (batch, height, width)}` of normalised float32 images."""
    logits = tf.cast(export_logits(model, images, mode), tf.float32)
    return {"logits": logits, **segmentation_outputs(logits, False)}


def segment_batch(
    model,
    images,
    policy: ResizePolicy,
    with_probabilities: bool = False,
    mode: str = "portable",
) -> dict:
    """uint8 `(batch, height, width, 3)` -> outputs at the input size.

    `model` maps normalised float32 images to logits; it is called once on
    the whole (resized, padded) batch, traced under `export_logits(mode)`.
    """
    prepared = prepare_images(images, policy)
    logits = export_logits(model, prepared.images, mode)
    logits = restore_logits(
        logits, prepared.resized_size, prepared.original_size
    )
    return segmentation_outputs(logits, with_probabilities)


class ServingFunctions:
    """The three serving signatures of one model as `tf.function`s.

    Args:
        model: a segmentation model (aux / SE outputs are dropped).
        policy: `ResizePolicy` applied to uint8 and byte inputs.
            Default: keep the size, pad to a multiple of 32.
        with_probabilities: bool, add `probabilities` (softmax, float32
            `(batch, height, width, classes)`) to the uint8 and bytes
            signatures. Default `False` (it is large).
        max_image_size: int, the largest input height or width (pixels,
            before resizing) every signature accepts. Default `4096`.
        fast_paths: `"cpu"` (Winograd / cropped-tap convolutions, for CPU
            serving) or `"portable"` (direct convolutions, for GPU
            serving); see `export_logits`. Default
            `default_export_fast_paths()`.

    Example:
    >>> functions = ServingFunctions(model, ResizePolicy("long_side", (512,)))
    >>> functions.serve_images(tf.zeros((1, 360, 480, 3), tf.uint8))
    {'class_map': <tf.Tensor: shape=(1, 360, 480), dtype=int32, ...>}
    """

    def __init__(
        self,
        model: keras.Model,
        policy: ResizePolicy | None = None,
        with_probabilities: bool = False,
        max_image_size: int = DEFAULT_MAX_IMAGE_SIZE,
        fast_paths: str | None = None,
    ):
        self.max_image_size = check_max_image_size(max_image_size)
        self.fast_paths = check_export_fast_paths(fast_paths)
        self.model = inference_model(model)
        self.policy = policy or ResizePolicy()
        self.with_probabilities = with_probabilities
        self.serve_images = tf.function(
            self._serve_images, input_signature=[IMAGES_SPEC]
        )
        self.serve_image_bytes = tf.function(
            self._serve_image_bytes, input_signature=[IMAGE_BYTES_SPEC]
        )
        self.serve_logits = tf.function(
            self._serve_logits, input_signature=[FLOAT_IMAGES_SPEC]
        )

    def signatures(self) -> dict:
        """`{signature name: tf.function}` for export."""
        return {
            SERVING_DEFAULT: self.serve_images,
            SERVE_IMAGE_BYTES: self.serve_image_bytes,
            SERVE_LOGITS: self.serve_logits,
        }

    def _serve_images(self, images, name: str = "images"):
        images = check_image_size(images, self.max_image_size, name)
        return segment_batch(
            self.model,
            images,
            self.policy,
            self.with_probabilities,
            self.fast_paths,
        )

    def _serve_image_bytes(self, image_bytes):
        return segment_image_bytes(
            image_bytes,
            lambda image: self._serve_images(image, "a decoded image_bytes"),
            self.with_probabilities,
            self.model.output.shape[-1],
        )

    def _serve_logits(self, images):
        images = check_image_size(
            check_image_batch(images), self.max_image_size
        )
        return logits_outputs(self.model, images, self.fast_paths)


def logits_function(
    logits_model: keras.Model,
    input_size: tuple[int, int] | None = None,
    batch_size: int | None = None,
    fast_paths: str = "portable",
):
    """A `tf.function` normalised float32 images -> `{"logits",
    "class_map"}`, the graph that converters (TFLite, ONNX) translate.

    Args:
        logits_model: a model returning logits only (see
            `inference_model`).
        input_size: `(height, width)` fixed in the signature, or `None`
            for any size.
        batch_size: int fixed in the signature, or `None` for any batch.
        fast_paths: `"portable"` (default) or `"cpu"`, see `export_logits`.

    Returns:
        A `tf.function` taking `images` float32 `(batch, height, width, 3)`
        and returning `logits` float32 `(batch, height, width, classes)`
        and `class_map` int32 `(batch, height, width)`.
    """
    height, width = input_size or (None, None)
    spec = tf.TensorSpec(
        (batch_size, height, width, 3), tf.float32, name="images"
    )

    return tf.function(
        lambda images: logits_outputs(logits_model, images, fast_paths),
        input_signature=[spec],
    )
