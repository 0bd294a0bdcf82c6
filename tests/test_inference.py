"""Tests of keras_fastfcn.inference (official MultiEvalModule behaviour)."""

import math

import keras
import numpy as np
import pytest

from keras_fastfcn.inference import OFFICIAL_PAD_VALUE
from keras_fastfcn.inference import predict_multi_scale
from keras_fastfcn.inference import predict_single_scale
from keras_fastfcn.inference import predict_sliding_window
from keras_fastfcn.inference import scaled_size
from keras_fastfcn.inference import sliding_window_grid
from keras_fastfcn.inference import window_count_map

NUM_CLASSES = 4


def random_image(height, width, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(1, height, width, 3)).astype(np.float32)


def conv_model(kernel_size, seed=0):
    """A one-layer Keras conv model (1x1: purely per pixel)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    logits = keras.layers.Conv2D(NUM_CLASSES, kernel_size, padding="same")(
        inputs
    )
    return keras.Model(inputs, logits)


def logits_of(model, image):
    return np.asarray(keras.ops.convert_to_numpy(model(image)))


class WindowMeanModel:
    """Each window's logits = its mean of channel c, everywhere (c = class).

    Not per pixel: the output depends on the window and on the padding.
    """

    def __init__(self):
        self.shapes = []

    def __call__(self, images):
        self.shapes.append(images.shape)
        means = images.mean(axis=(1, 2), keepdims=True)  # (n, 1, 1, 3)
        means = np.concatenate([means, means[..., :1]], axis=-1)  # 4 classes
        return np.broadcast_to(means, images.shape[:3] + (NUM_CLASSES,))


def test_scaled_size_matches_official_rounding():
    assert scaled_size(375, 500, 520) == (390, 520)  # int(375*520/500+.5)
    assert scaled_size(500, 333, 260) == (260, 173)  # int(173.16+.5)
    assert scaled_size(100, 100, 130) == (130, 130)


def test_window_grid_and_count_map_hand_computed():
    # crop 480, stride int(480*2/3) = 320 over 800: ceil(320/320)+1 = 2
    # windows per axis, [0, 480) and [320, 800).
    boxes = sliding_window_grid(800, 800, 480, 320)
    assert boxes == [
        (0, 480, 0, 480),
        (0, 480, 320, 800),
        (320, 800, 0, 480),
        (320, 800, 320, 800),
    ]
    counts_1d = np.ones(800, dtype=np.int32)
    counts_1d[320:480] = 2
    np.testing.assert_array_equal(
        window_count_map(800, 800, 480, 320), np.outer(counts_1d, counts_1d)
    )
    # Height 100, crop 48, stride 32: ceil(52/32)+1 = 3 rows [0,48) [32,80)
    # [64,100) (the last one sticks out and is clipped).
    rows = [box[:2] for box in sliding_window_grid(100, 48, 48, 32)]
    assert rows == [(0, 48), (32, 80), (64, 100)]
    column = window_count_map(100, 48, 48, 32)[:, 0]
    expected = np.ones(100, dtype=np.int32)
    expected[32:48] = 2
    expected[64:80] = 2
    np.testing.assert_array_equal(column, expected)
    with pytest.raises(ValueError, match="pad it"):
        sliding_window_grid(40, 100, 48, 32)


@pytest.mark.parametrize("size", [(37, 53), (64, 31), (1, 1)])
def test_single_scale_shapes_and_values_for_odd_sizes(size):
    model = conv_model(1)
    image = random_image(*size)
    logits = predict_single_scale(model, image, crop_size=48, size_divisor=32)
    assert logits.shape == (1, *size, NUM_CLASSES)
    np.testing.assert_allclose(logits, logits_of(model, image), atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 5])
def test_sliding_window_equals_whole_image_for_per_pixel_model(batch_size):
    model = conv_model(1)
    image = random_image(100, 130)
    logits = predict_sliding_window(
        model, image, NUM_CLASSES, crop_size=48, batch_size=batch_size
    )
    assert logits.shape == (1, 100, 130, NUM_CLASSES)
    np.testing.assert_allclose(logits, logits_of(model, image), atol=1e-5)


def test_sliding_window_averages_windows_with_official_padding():
    image = random_image(50, 70, seed=3)
    crop, stride = 32, int(32 * 2 / 3)
    model = WindowMeanModel()
    result = predict_sliding_window(model, image, NUM_CLASSES, crop_size=crop)
    # Independent reference: explicit windows, black-pixel padding.
    total = np.zeros((50, 70, NUM_CLASSES))
    count = np.zeros((50, 70, 1))
    rows = math.ceil((50 - crop) / stride) + 1
    cols = math.ceil((70 - crop) / stride) + 1
    for i in range(rows):
        for j in range(cols):
            h0, w0 = i * stride, j * stride
            h1, w1 = min(h0 + crop, 50), min(w0 + crop, 70)
            window = np.empty((crop, crop, 3))
            window[...] = OFFICIAL_PAD_VALUE
            window[: h1 - h0, : w1 - w0] = image[0, h0:h1, w0:w1]
            mean = window.mean(axis=(0, 1))
            total[h0:h1, w0:w1] += np.append(mean, mean[0])
            count[h0:h1, w0:w1] += 1
    assert len(model.shapes) == rows * cols == 2 * 3  # stride 21
    assert all(shape == (1, crop, crop, 3) for shape in model.shapes)
    np.testing.assert_allclose(result[0], total / count, rtol=1e-5, atol=1e-6)


def test_flip_doubles_logits_of_a_mirror_symmetric_model():
    model = conv_model(1)
    image = random_image(20, 27)
    plain = predict_single_scale(model, image)
    flipped = predict_single_scale(model, image, flip=True)
    np.testing.assert_allclose(flipped, 2 * plain, rtol=1e-5, atol=1e-5)


def test_flip_adds_mirrored_logits_for_an_asymmetric_model():
    model = conv_model(3, seed=4)
    image = random_image(20, 27)
    expected = (
        logits_of(model, image)
        + logits_of(model, image[:, :, ::-1])[:, :, ::-1]
    )
    result = predict_single_scale(model, image, flip=True)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(result, 2 * logits_of(model, image), atol=1e-3)


@pytest.mark.parametrize("crop_size", [64, 48])  # one pass / sliding window
def test_multi_scale_single_scale_no_flip_equals_single_scale(crop_size):
    model = conv_model(1)
    image = random_image(40, 60)
    scores, prediction = predict_multi_scale(
        model,
        image,
        NUM_CLASSES,
        base_size=60,  # long side already 60: no resizing at scale 1
        crop_size=crop_size,
        scales=(1.0,),
        flip=False,
    )
    logits = predict_single_scale(model, image, crop_size=crop_size)
    expected = np.exp(logits.astype(np.float64))
    expected /= expected.sum(-1, keepdims=True)  # fused class probabilities
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    np.testing.assert_array_equal(prediction, np.argmax(logits, -1))
    assert prediction.dtype == np.int32 and prediction.shape == (1, 40, 60)


def numpy_resize_align_corners(array, height, width):
    """Reference bilinear resize (align_corners=True) of (h, w, c)."""

    def axis_weights(n_in, n_out):
        pos = np.arange(n_out) * ((n_in - 1) / max(n_out - 1, 1))
        low = np.minimum(np.floor(pos).astype(int), n_in - 1)
        high = np.minimum(low + 1, n_in - 1)
        return low, high, pos - low

    lo, hi, fy = axis_weights(array.shape[0], height)
    rows = array[lo] * (1 - fy)[:, None, None] + array[hi] * fy[:, None, None]
    lo, hi, fx = axis_weights(array.shape[1], width)
    return (
        rows[:, lo] * (1 - fx)[None, :, None] + rows[:, hi] * fx[None, :, None]
    )


def test_multi_scale_matches_independent_reference():
    model = conv_model(1, seed=2)
    kernel, bias = [np.asarray(w, np.float64) for w in model.get_weights()]
    image = random_image(30, 45, seed=1)
    scales = (0.5, 1.25)
    scores, prediction = predict_multi_scale(
        model, image, NUM_CLASSES, base_size=40, crop_size=32, scales=scales
    )
    expected = np.zeros((30, 45, NUM_CLASSES))
    for scale in scales:
        long_size = math.ceil(40 * scale)
        h, w = int(30 * long_size / 45 + 0.5), long_size
        scaled = numpy_resize_align_corners(image[0].astype(np.float64), h, w)
        logits = scaled @ kernel[0, 0] + bias
        # flip=True: logits + mirrored logits; per-pixel model -> 2 * logits
        expected += numpy_resize_align_corners(np.exp(2 * logits), 30, 45)
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(scores[0], expected, rtol=1e-4)
    np.testing.assert_array_equal(prediction[0], np.argmax(expected, -1))


def test_multi_scale_calls_model_on_official_windows():
    model = WindowMeanModel()
    image = random_image(30, 50)
    scores, _ = predict_multi_scale(
        model,
        image,
        NUM_CLASSES,
        base_size=40,
        crop_size=32,
        scales=(0.5, 1.0, 1.5),
        flip=False,
    )
    # 0.5: long 20 <= 32 -> one padded pass. 1.0: (24, 40) padded to (32, 40)
    # -> 1 x 2 windows (stride 21). 1.5: (36, 60) -> 2 x 3 windows.
    assert len(model.shapes) == 1 + 2 + 6
    assert all(shape == (1, 32, 32, 3) for shape in model.shapes)
    assert scores.shape == (1, 30, 50, NUM_CLASSES)


def test_softmax_fusion_sums_probabilities():
    model = conv_model(3)
    image = random_image(21, 35)
    scales = (0.75, 1.0, 1.75)
    scores, _ = predict_multi_scale(
        model,
        image,
        NUM_CLASSES,
        base_size=32,
        crop_size=32,
        scales=scales,
        fusion="softmax",
    )
    # Each scale adds 2 probability maps (flip); resizing keeps sums.
    np.testing.assert_allclose(scores.sum(-1), 2 * len(scales), rtol=1e-5)


def test_dict_outputs_and_input_errors():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    model = keras.Model(
        inputs,
        {
            "logits": keras.layers.Conv2D(NUM_CLASSES, 1)(inputs),
            "aux_logits": keras.layers.Conv2D(NUM_CLASSES, 1)(inputs),
        },
    )
    image = random_image(23, 17)
    scores, prediction = predict_multi_scale(
        model, image, NUM_CLASSES, base_size=24, crop_size=16, scales=(1.0,)
    )
    assert scores.shape == (1, 23, 17, NUM_CLASSES)
    assert prediction.shape == (1, 23, 17)
    with pytest.raises(ValueError, match="num_classes"):
        predict_sliding_window(model, image, 5, crop_size=16)
    with pytest.raises(ValueError, match="one normalised RGB image"):
        predict_single_scale(model, np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="fusion"):
        predict_multi_scale(model, image, NUM_CLASSES, fusion="mean")


def constant_model(values):
    """Callable returning the same logits vector at every pixel."""

    def model(images):
        logits = np.asarray(values, np.float32)
        return np.broadcast_to(logits, images.shape[:3] + (len(values),))

    return model


class ScaledWindowMeanModel(WindowMeanModel):
    """`gain` * (`WindowMeanModel` logits + the pixel's own channels), so
    that classes win in different places and overlapping windows differ."""

    def __init__(self, gain):
        super().__init__()
        self.gain = gain

    def __call__(self, images):
        means = super().__call__(images).astype(np.float64)
        pixels = np.concatenate([images, -images[..., :1]], axis=-1)
        return (self.gain * (means + pixels)).astype(np.float32)


def exact_resize(array, height, width, log=False):
    """Align-corners bilinear resize of `(h, w, c)` with the exact source
    positions of `interpolation_weights` (rounding of a position matters
    when exp scores differ by e^500); `log`: of log values, by logaddexp."""
    from keras_fastfcn.ops.interpolation import interpolation_weights

    def mix(low, high, frac):
        if not log:
            return low * (1 - frac) + high * frac
        with np.errstate(divide="ignore"):
            return np.logaddexp(np.log(1 - frac) + low, np.log(frac) + high)

    lo, hi, f = interpolation_weights(array.shape[0], height, True)
    array = mix(array[lo], array[hi], f[:, None, None])
    lo, hi, f = interpolation_weights(array.shape[1], width, True)
    return mix(array[:, lo], array[:, hi], f[None, :, None])


def plain_exp_fusion(model, image, scales, base_size, crop_size, dtype):
    """The official fusion written out: per window `exp(logits + flipped
    logits)` in `dtype`, windows averaged, maps resized back (bilinear,
    align corners) and summed. float64 overflows beyond logit sums of ~709;
    np.longdouble (x86: 80-bit) reaches ~11356."""
    from keras_fastfcn.inference import _resize_image
    from keras_fastfcn.inference import pad_image

    height, width = image.shape[1:3]
    total = np.zeros((height, width, NUM_CLASSES), dtype)
    for scale in scales:
        long_size = math.ceil(base_size * scale)
        h, w = scaled_size(height, width, long_size)
        scaled = pad_image(_resize_image(image, h, w), crop_size, crop_size)
        ph, pw = scaled.shape[1:3]
        boxes = sliding_window_grid(ph, pw, crop_size, int(crop_size * 2 / 3))
        sums = np.zeros((ph, pw, NUM_CLASSES), dtype)
        counts = np.zeros((ph, pw, 1), dtype)
        for h0, h1, w0, w1 in boxes:
            crop = pad_image(scaled[:, h0:h1, w0:w1], crop_size, crop_size)
            logits = np.asarray(model(crop), np.float32)
            mirrored = np.asarray(model(crop[:, :, ::-1]), np.float32)
            logit_sum = (logits + mirrored[:, :, ::-1])[0, : h1 - h0, : w1 - w0]
            with np.errstate(over="ignore"):
                sums[h0:h1, w0:w1] += np.exp(logit_sum.astype(dtype))
            counts[h0:h1, w0:w1] += 1
        with np.errstate(invalid="ignore"):
            total += exact_resize((sums / counts)[:h, :w], height, width)
    return total


# one padded pass (0.5), 2 x 3 windows (1.0), 3 x 4 windows (1.5)
FUSION_SCALES = (0.5, 1.0, 1.5)


def test_exp_fusion_equals_plain_float64_exp_sum():
    model = ScaledWindowMeanModel(gain=3.0)
    image = random_image(30, 50, seed=4)
    scores, prediction = predict_multi_scale(
        model,
        image,
        NUM_CLASSES,
        base_size=64,
        crop_size=32,
        scales=FUSION_SCALES,
    )
    plain = plain_exp_fusion(model, image, FUSION_SCALES, 64, 32, np.float64)
    assert np.all(np.isfinite(plain))
    np.testing.assert_allclose(
        scores[0], plain / plain.sum(-1, keepdims=True), rtol=1e-12
    )
    np.testing.assert_array_equal(prediction[0], plain.argmax(-1))
    assert len(np.unique(prediction)) >= 2  # classes win in different places
    assert scores.dtype == np.float64


def test_exp_fusion_beyond_float64_equals_extended_precision_sum():
    # Logit sums up to ~2000: plain float64 exp overflows, 80-bit does not.
    if np.finfo(np.longdouble).maxexp < 16384:
        pytest.skip("np.longdouble is not 80-bit extended precision here")
    model = ScaledWindowMeanModel(gain=700.0)
    image = random_image(30, 50, seed=4)
    scores, prediction = predict_multi_scale(
        model,
        image,
        NUM_CLASSES,
        base_size=64,
        crop_size=32,
        scales=FUSION_SCALES,
    )
    assert not np.all(
        np.isfinite(
            plain_exp_fusion(model, image, FUSION_SCALES, 64, 32, np.float64)
        )
    )
    extended = plain_exp_fusion(
        model, image, FUSION_SCALES, 64, 32, np.longdouble
    )
    assert np.all(np.isfinite(extended))
    expected = (extended / extended.sum(-1, keepdims=True)).astype(np.float64)
    np.testing.assert_allclose(scores[0], expected, rtol=1e-9, atol=1e-300)
    np.testing.assert_array_equal(prediction[0], extended.argmax(-1))
    assert len(np.unique(prediction)) >= 2


def log_domain_fusion(model, image, scales, base_size, crop_size):
    """`log` of the official fusion, element by element with np.logaddexp
    (independent of the per-pixel scales of `ExpScores`), no flip."""
    from keras_fastfcn.inference import _resize_image
    from keras_fastfcn.inference import pad_image

    height, width = image.shape[1:3]
    total = np.full((height, width, NUM_CLASSES), -np.inf)
    for scale in scales:
        long_size = math.ceil(base_size * scale)
        h, w = scaled_size(height, width, long_size)
        scaled = pad_image(_resize_image(image, h, w), crop_size, crop_size)
        ph, pw = scaled.shape[1:3]
        boxes = sliding_window_grid(ph, pw, crop_size, int(crop_size * 2 / 3))
        sums = np.full((ph, pw, NUM_CLASSES), -np.inf)
        counts = np.zeros((ph, pw, 1))
        for h0, h1, w0, w1 in boxes:
            crop = pad_image(scaled[:, h0:h1, w0:w1], crop_size, crop_size)
            logits = np.asarray(model(crop), np.float32)[0]
            sums[h0:h1, w0:w1] = np.logaddexp(
                sums[h0:h1, w0:w1], logits[: h1 - h0, : w1 - w0]
            )
            counts[h0:h1, w0:w1] += 1
        mean = (sums - np.log(counts))[:h, :w]
        total = np.logaddexp(total, exact_resize(mean, height, width, log=True))
    return total


def test_exp_fusion_of_logits_of_1e4():
    # Logit sums of 2e4: exp far beyond any float. Every pass gives the
    # same sums, so the fused probabilities are softmax([2e4, 2e4 - 2, ..]).
    model = constant_model([1e4, 1e4 - 1.0, 0.0, -5.0])
    scores, prediction = predict_multi_scale(
        model,
        random_image(20, 30),
        NUM_CLASSES,
        base_size=40,
        crop_size=16,
        scales=(0.5, 1.0),
    )
    assert np.all(prediction == 0)
    expected = np.array([1.0, np.exp(-2.0), 0.0, 0.0]) / (1 + np.exp(-2.0))
    np.testing.assert_allclose(scores, np.broadcast_to(expected, scores.shape))
    # Logits of ~1e4 that differ from pixel to pixel and window to window.
    huge = ScaledWindowMeanModel(gain=1e4)
    image = random_image(30, 50, seed=4)
    scores, prediction = predict_multi_scale(
        huge,
        image,
        NUM_CLASSES,
        base_size=64,
        crop_size=32,
        scales=FUSION_SCALES,
        flip=False,
    )
    log_total = log_domain_fusion(huge, image, FUSION_SCALES, 64, 32)
    assert np.abs(log_total).max() > 5000
    expected = np.exp(log_total - log_total.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(scores[0], expected, rtol=1e-9, atol=1e-300)
    np.testing.assert_array_equal(prediction[0], log_total.argmax(-1))
    assert len(np.unique(prediction)) >= 2


def test_non_finite_logits_are_one_clear_error():
    with pytest.raises(ValueError, match="NaN or infinite logits"):
        predict_multi_scale(
            constant_model([np.nan, 0.0, 0.0, 0.0]),
            random_image(8, 8),
            NUM_CLASSES,
            base_size=8,
            crop_size=8,
        )


def test_logits_output_is_the_exact_window_average():
    model = ScaledWindowMeanModel(gain=3.0)
    image = random_image(30, 50, seed=4)
    crops = []

    def recording(images):
        crops.append(np.array(images))
        return model(images)

    logits = predict_sliding_window(recording, image, NUM_CLASSES, crop_size=32)
    # 1 x 2 windows of 32 with stride 21 over the 32 x 50 padded image
    boxes = sliding_window_grid(32, 50, 32, 21)
    total = np.zeros((32, 50, NUM_CLASSES), np.float32)
    counts = np.zeros((32, 50, 1), np.float32)
    for crop, (h0, h1, w0, w1) in zip(crops, boxes):
        total[h0:h1, w0:w1] += model(crop)[0, : h1 - h0, : w1 - w0]
        counts[h0:h1, w0:w1] += 1
    np.testing.assert_array_equal(logits[0], (total / counts)[:30])


def test_score_resize_matches_resize_bilinear():
    from keras_fastfcn.inference import _resize_scores
    from keras_fastfcn.layers import resize_bilinear

    scores = random_image(7, 11)[..., :2] ** 2
    expected = keras.ops.convert_to_numpy(
        resize_bilinear(scores, (13, 5), align_corners=True)
    )
    np.testing.assert_allclose(
        _resize_scores(scores, 13, 5), expected, rtol=1e-5, atol=1e-6
    )


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="building the model takes ~40 s on JAX/CPU",
)
def test_fastfcn_model_multi_scale_shapes():
    import keras_fastfcn

    keras.utils.set_random_seed(0)
    model = keras_fastfcn.build_model(
        "encnet_jpu",
        "resnet18",
        num_classes=5,
        base_width=8,
        neck_width=16,
        aux=True,
    )
    scores, prediction = predict_multi_scale(
        model,
        random_image(50, 70),
        5,
        base_size=64,
        crop_size=64,
        scales=(0.75, 1.25),
    )
    assert scores.shape == (1, 50, 70, 5)
    assert np.all(np.isfinite(scores)) and np.all(scores > 0)
    assert prediction.min() >= 0 and prediction.max() < 5
