"""Constants shared by models, data pipelines, exports and training.

Models take RGB in [0, 1] normalised with the ImageNet mean and standard
deviation, as the official FastFCN code (`transforms.Normalize`).
"""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The official code's base learning rates (its `--lr` defaults, for batch
# size 16), by this package's dataset names; the official names
# (`pcontext`, `citys`) are aliases.
OFFICIAL_BASE_LR = {
    "ade20k": 1e-2,
    "pascal_context": 1e-3,
    "pascal_aug": 1e-3,
    "pascal_voc": 1e-4,
    "cityscapes": 1e-2,
    "coco": 1e-2,
}
OFFICIAL_DATASET_NAMES = {"pcontext": "pascal_context", "citys": "cityscapes"}

# Export settings (here, not in `keras_fastfcn.export`, so that
# `fastfcn export --help` shows them without importing TensorFlow).
# The lowest ONNX opset the exports support.
MIN_OPSET = 17
# Largest height or width the serving signatures accept by default.
DEFAULT_MAX_IMAGE_SIZE = 4096
# TFLite `--quantize` modes.
QUANTIZE_MODES = ("none", "fp16", "int8")

# `keras_fastfcn.fast.fast_paths` modes, from no rewrite to all of them.
FAST_PATHS_MODES = ("auto", "off", "portable", "cpu", "winograd", "cropped")

# What an export's graph carries: the CPU fast paths or only the portable
# rewrites (`fastfcn export --fast-paths`).
EXPORT_FAST_PATHS = ("cpu", "portable")

# The formats `fastfcn export-parity` measures.
PARITY_FORMATS = ("saved_model", "onnx", "tflite", "tflite_fp16", "tflite_int8")
