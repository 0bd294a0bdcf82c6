"""Deployment: SavedModel for TF Serving, TFLite / LiteRT, ONNX.

`fastfcn export --help` is the command line; `fastfcn export-parity
--help` measures every format against Keras
(`keras_fastfcn.benchmarks.export_parity.measure_parity` in Python).
All exports need the TensorFlow backend.
"""

from keras_fastfcn.export.calibration import calibration_images
from keras_fastfcn.export.inference_model import inference_model
from keras_fastfcn.export.onnx import export_onnx
from keras_fastfcn.export.preprocessing import ResizePolicy
from keras_fastfcn.export.saved_model import export_saved_model
from keras_fastfcn.export.serving import ServingFunctions
from keras_fastfcn.export.tflite import export_tflite

__all__ = [
    "ResizePolicy",
    "ServingFunctions",
    "calibration_images",
    "export_onnx",
    "export_saved_model",
    "export_tflite",
    "inference_model",
]
