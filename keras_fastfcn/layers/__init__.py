"""Registered Keras layers of keras_fastfcn."""

from keras_fastfcn.layers.aspp import ASPP
from keras_fastfcn.layers.common import FastConv2D
from keras_fastfcn.layers.conv_algorithms import convolution_algorithm
from keras_fastfcn.layers.cropped_taps import cropped_tap_conv
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
from keras_fastfcn.layers.winograd import winograd_conv3x3

__all__ = [
    "ASPP",
    "EncModule",
    "Encoding",
    "FPNNeck",
    "FastConv2D",
    "JPU",
    "JPUX",
    "JointUpsamplingModule",
    "PyramidPooling",
    "ResizeLike",
    "SeparableConvNorm",
    "adaptive_average_pool",
    "convolution_algorithm",
    "cropped_tap_conv",
    "resize_bilinear",
    "winograd_conv3x3",
]
