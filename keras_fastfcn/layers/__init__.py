"""The registered Keras layers of the paper model.

They read as the paper and the official code; faster CPU forms of the
same computations live in `keras_fastfcn.fast`.
"""

from keras_fastfcn.layers.aspp import ASPP
from keras_fastfcn.layers.class_bias import ClassBias
from keras_fastfcn.layers.detail_decoder import DetailDecoder
from keras_fastfcn.layers.enc_module import EncModule
from keras_fastfcn.layers.encoding import Encoding
from keras_fastfcn.layers.fpn import FPNNeck
from keras_fastfcn.layers.jpu import JPU
from keras_fastfcn.layers.jpu_x import JPUX
from keras_fastfcn.layers.jpu_x import JointUpsamplingModule
from keras_fastfcn.layers.pyramid_pooling import PyramidPooling
from keras_fastfcn.layers.resize import ResizeLike
from keras_fastfcn.layers.resize import adaptive_average_pool
from keras_fastfcn.layers.resize import resize_bilinear
from keras_fastfcn.layers.separable import SeparableConvNorm

__all__ = [
    "ASPP",
    "ClassBias",
    "DetailDecoder",
    "EncModule",
    "Encoding",
    "FPNNeck",
    "JPU",
    "JPUX",
    "JointUpsamplingModule",
    "PyramidPooling",
    "ResizeLike",
    "SeparableConvNorm",
    "adaptive_average_pool",
    "resize_bilinear",
]
