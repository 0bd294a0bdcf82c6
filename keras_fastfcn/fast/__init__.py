"""CPU rewrites of the paper model: same variables, same results within
float rounding, fewer or cheaper operations.

The layers in `keras_fastfcn.layers` and `keras_fastfcn.heads` read as the
paper and the official code; they reach this package through two seams:
`FastConv2D` (every convolution, built by `layers.common.conv2d`) and
`rewrite(kind, ...)` (the resize, the JPU's separable convolutions and
PSPNet's pyramid). One switch, `fast_paths(mode)`, decides what runs:
`"off"` is the official operations exactly, `"portable"` what exported
graphs and FLOP counts use, `"auto"` (default) everything that measured
faster (README "Speed").

Modules, one rewrite each:

- `winograd.py`: 3x3 convolutions as Winograd F(2x2, 3x3);
- `cropped_taps.py`: strongly dilated convolutions without the taps that
  read only padding;
- `phase_split.py`: dilated depthwise convolution as an undilated one over
  the image's phases;
- `separable.py`: BatchNorm folded into the following pointwise
  convolution;
- `banded_resize.py`: bilinear resize matrices applied in bands;
- `folded_pyramid.py`: PSPNet's pyramid pooling folded into its fusion
  convolution;
- `conv.py` (`FastConv2D`), `rewrites.py` (`rewrite`): the two seams;
  `switch.py`: `fast_paths` and the measured rules of `"auto"`.
"""

from keras_fastfcn.fast.conv import FastConv2D
from keras_fastfcn.fast.cropped_taps import cropped_tap_conv
from keras_fastfcn.fast.rewrites import native_resize
from keras_fastfcn.fast.rewrites import rewrite
from keras_fastfcn.fast.switch import MODES
from keras_fastfcn.fast.switch import choose_convolution
from keras_fastfcn.fast.switch import fast_paths
from keras_fastfcn.fast.switch import fast_paths_mode
from keras_fastfcn.fast.winograd import winograd_conv3x3

__all__ = [
    "MODES",
    "FastConv2D",
    "choose_convolution",
    "cropped_tap_conv",
    "fast_paths",
    "fast_paths_mode",
    "native_resize",
    "rewrite",
    "winograd_conv3x3",
]
