"""`FastConv2D`: the seam through which every convolution of the paper
model may run as Winograd F(2x2, 3x3) or with cropped taps."""

from __future__ import annotations

import keras
from keras import ops

from keras_fastfcn.fast.cropped_taps import cropped_tap_conv
from keras_fastfcn.fast.switch import choose_convolution
from keras_fastfcn.fast.winograd import winograd_conv3x3
from keras_fastfcn.utils.serialization import serializable


@serializable
class FastConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose convolutions may run as Winograd
    F(2x2, 3x3) (`fast/winograd.py`) or, when strongly dilated, without
    the taps that only read padding (`fast/cropped_taps.py`): same
    variables, same results within float rounding, chosen per call by
    `choose_convolution` under the `fast_paths` mode. Under
    `fast_paths("off")` or `"portable"` it is exactly `Conv2D`.

    Input `(batch, height, width, in_channels)`, output
    `(batch, height', width', filters)`.
    """

    def call(self, inputs, training=None):
        if self.groups != 1 or self.data_format != "channels_last":
            return super().call(inputs)
        algorithm = self._algorithm(inputs, self.kernel, training)
        if algorithm == "direct":
            return super().call(inputs)
        outputs = self._fast_convolution(algorithm, inputs, self.kernel)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def convolve(self, inputs, kernel, training=None):
        """This layer's convolution (no bias, no activation) of `inputs`
        `(batch, height, width, channels)` with `kernel` `(kh, kw,
        channels, filters)`, e.g. `self.kernel` over some input channels,
        by the algorithm that `choose_convolution` picks."""
        algorithm = self._algorithm(inputs, kernel, training)
        if algorithm == "direct":
            return self.convolution_op(inputs, ops.cast(kernel, inputs.dtype))
        return self._fast_convolution(algorithm, inputs, kernel)

    def _algorithm(self, inputs, kernel, training) -> str:
        return choose_convolution(
            inputs.shape,
            inputs.dtype,
            kernel.shape,
            self.strides,
            self.padding,
            self.dilation_rate,
            training,
        )

    def _fast_convolution(self, algorithm: str, inputs, kernel):
        if algorithm == "winograd":
            return winograd_conv3x3(inputs, kernel, self.dilation_rate[0])
        return cropped_tap_conv(inputs, kernel, self.dilation_rate)
