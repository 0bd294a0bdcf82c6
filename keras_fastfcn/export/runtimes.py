"""Run exported models (SavedModel, TFLite, ONNX) behind one interface:
normalised float32 images -> logits, as `keras_fastfcn.evaluate.
compiled_logits` runs the Keras model."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from keras_fastfcn.export.serving import SERVE_LOGITS


class SavedModelRunner:
    """The `serve_logits` signature of an exported SavedModel."""

    def __init__(self, path: str | os.PathLike):
        self._serve = tf.saved_model.load(str(path)).signatures[SERVE_LOGITS]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self._serve(images=tf.constant(images))["logits"].numpy()


class TFLiteRunner:
    """A `.tflite` file in the LiteRT interpreter (one image at a time)."""

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(
            model_path=str(path), num_threads=num_threads or os.cpu_count()
        )
        self._run = interpreter.get_signature_runner("serving_default")
        self.input_shape = tuple(
            self._run.get_input_details()["images"]["shape"]
        )
        self.num_classes = int(
            self._run.get_output_details()["logits"]["shape"][-1]
        )

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if tuple(images.shape[1:]) != self.input_shape[1:]:
            raise ValueError(
                f"This TFLite model takes images {self.input_shape[1:]}, "
                f"got {tuple(images.shape[1:])}; resize them first."
            )
        return np.concatenate(
            [self._run(images=image[None])["logits"] for image in images]
        )


class OnnxRunner:
    """An `.onnx` file in onnxruntime (CPU, all graph optimisations)."""

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = (
            onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        )
        if num_threads:
            options.intra_op_num_threads = num_threads
        self._session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, images: np.ndarray) -> np.ndarray:
        (logits,) = self._session.run(["logits"], {"images": images})
        return logits
