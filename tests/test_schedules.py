"""Tests of keras_fastfcn.schedules: poly schedule and MultiplierSGD."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_fastfcn.schedules import MultiplierSGD
from keras_fastfcn.schedules import PolyDecay
from keras_fastfcn.schedules import build_optimizer
from keras_fastfcn.schedules import head_lr_multipliers
from keras_fastfcn.schedules import official_learning_rate
from tests.helpers import run_with_two_cpu_replicas


def lr_at(schedule, step):
    return float(ops.convert_to_numpy(schedule(step)))


def test_poly_decay_exact_values():
    schedule = PolyDecay(0.01, decay_steps=100)
    assert lr_at(schedule, 0) == pytest.approx(0.01, rel=1e-6)
    # 0.01 * 0.5 ** 0.9 = 0.0053588673
    assert lr_at(schedule, 50) == pytest.approx(0.0053588673, rel=1e-6)
    # 0.01 * 0.01 ** 0.9 = 1.5848932e-4
    assert lr_at(schedule, 99) == pytest.approx(1.5848932e-4, rel=1e-5)
    assert lr_at(schedule, 100) == 0.0
    assert lr_at(schedule, 250) == 0.0  # clamped at decay_steps


def test_poly_decay_end_learning_rate_power_and_warmup():
    schedule = PolyDecay(0.1, 10, power=2.0, end_learning_rate=0.001)
    # (0.1 - 0.001) * (1 - 3/10)^2 + 0.001 = 0.099 * 0.49 + 0.001
    assert lr_at(schedule, 3) == pytest.approx(0.04951, rel=1e-6)
    assert lr_at(schedule, 12) == pytest.approx(0.001, rel=1e-6)
    warm = PolyDecay(0.01, 100, warmup_steps=10)
    assert lr_at(warm, 0) == 0.0  # official: lr * T / warmup
    assert lr_at(warm, 5) == pytest.approx(0.01 * 0.95**0.9 * 0.5, rel=1e-6)
    assert lr_at(warm, 10) == pytest.approx(0.01 * 0.9**0.9, rel=1e-6)


def test_poly_decay_validation():
    with pytest.raises(ValueError, match="decay_steps"):
        PolyDecay(0.01, 0)
    with pytest.raises(ValueError, match="warmup_steps"):
        PolyDecay(0.01, 10, warmup_steps=-1)


def test_poly_decay_serialization_round_trip():
    schedule = PolyDecay(0.02, 500, power=0.8, end_learning_rate=1e-5)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, PolyDecay)
    assert restored.get_config() == schedule.get_config()
    assert lr_at(restored, 123) == pytest.approx(lr_at(schedule, 123))


def test_official_learning_rate():
    assert official_learning_rate("ade20k", 16) == pytest.approx(0.01)
    assert official_learning_rate("pcontext", 8) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="dataset"):
        official_learning_rate("mnist", 16)


def toy_model():
    """`x (N, 3)` -> backbone Dense(2) -> head Dense(1), no biases."""
    backbone_in = keras.Input((3,))
    backbone = keras.Model(
        backbone_in,
        keras.layers.Dense(2, use_bias=False, name="stem")(backbone_in),
        name="backbone",
    )
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(1, use_bias=False, name="head")(
        backbone(inputs)
    )
    model = keras.Model(inputs, outputs)
    model.backbone = backbone
    model.get_layer("backbone").set_weights(
        [np.array([[0.5, -1.0], [0.25, 0.75], [-0.5, 1.5]], dtype=np.float32)]
    )
    model.get_layer("head").set_weights(
        [np.array([[1.0], [-2.0]], dtype=np.float32)]
    )
    return model


X = np.array(
    [[1.0, 2.0, 0.5], [-1.0, 0.5, 2.0], [0.0, -1.5, 1.0], [2.0, 1.0, -1.0]],
    dtype=np.float32,
)
T = np.array([[1.0], [0.0], [-1.0], [2.0]], dtype=np.float32)


def numpy_reference(steps, lrs, weight_decay, momentum, multiplier):
    """torch.optim.SGD (coupled L2, buffer of gradients) on the toy MSE."""
    w1 = np.array([[0.5, -1.0], [0.25, 0.75], [-0.5, 1.5]])
    w2 = np.array([[1.0], [-2.0]])
    buffers = [np.zeros_like(w1), np.zeros_like(w2)]
    x, t = X.astype(np.float64), T.astype(np.float64)
    for step in range(steps):
        hidden = x @ w1
        d_out = 2 * (hidden @ w2 - t) / len(x)  # d mean((y - t)^2) / dy
        grads = [x.T @ (d_out @ w2.T), hidden.T @ d_out]
        new = []
        for i, (w, g, k) in enumerate(zip((w1, w2), grads, (1.0, multiplier))):
            g = g + weight_decay * w
            buffers[i] = momentum * buffers[i] + g
            new.append(w - k * lrs[step] * buffers[i])
        w1, w2 = new
    return w1, w2


def test_one_step_moves_backbone_and_head_by_sgd_formula():
    model = toy_model()
    optimizer = MultiplierSGD(
        0.1, momentum=0.9, weight_decay=0.01, lr_multipliers={"head": 10.0}
    )
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(X, T, batch_size=4, epochs=1, verbose=0, shuffle=False)
    w1, w2 = numpy_reference(1, [0.1], 0.01, 0.9, 10.0)
    # Step 1 by hand: w1 -= 0.1 * (g1 + 0.01 w1); w2 -= 1.0 * (g2 + 0.01 w2).
    np.testing.assert_allclose(
        model.backbone.get_weights()[0], w1, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        model.get_layer("head").get_weights()[0], w2, rtol=1e-5, atol=1e-5
    )
    assert optimizer.variable_multiplier(model.backbone.weights[0]) == 1.0
    assert (
        optimizer.variable_multiplier(model.get_layer("head").weights[0]) == 10
    )


def test_momentum_and_schedule_over_three_steps():
    model = toy_model()
    schedule = PolyDecay(0.02, decay_steps=4)
    model.compile(optimizer=build_optimizer(model, schedule), loss="mse")
    for _ in range(3):
        model.train_on_batch(X, T)
    lrs = [0.02 * (1 - s / 4) ** 0.9 for s in range(3)]
    w1, w2 = numpy_reference(3, lrs, 1e-4, 0.9, 10.0)
    np.testing.assert_allclose(
        model.backbone.get_weights()[0], w1, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        model.get_layer("head").get_weights()[0], w2, rtol=1e-5, atol=1e-6
    )


def test_plain_settings_match_keras_sgd():
    # No decay, multiplier 1, constant lr: identical to keras.optimizers.SGD.
    results = []
    for optimizer in (
        MultiplierSGD(0.05, momentum=0.9, weight_decay=0.0),
        keras.optimizers.SGD(0.05, momentum=0.9),
    ):
        model = toy_model()
        model.compile(optimizer=optimizer, loss="mse")
        for _ in range(3):
            model.train_on_batch(X, T)
        results.append(model.get_weights())
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_nesterov_step():
    model = toy_model()
    model.compile(
        optimizer=MultiplierSGD(0.1, nesterov=True, weight_decay=0.0),
        loss="mse",
    )
    model.train_on_batch(X, T)
    model.train_on_batch(X, T)
    # Reference: d = g + 0.9 * buf, with buf = 0.9 * buf + g.
    w1 = np.array([[0.5, -1.0], [0.25, 0.75], [-0.5, 1.5]])
    w2 = np.array([[1.0], [-2.0]])
    x, t = X.astype(np.float64), T.astype(np.float64)
    bufs = [0.0, 0.0]
    for _ in range(2):
        hidden = x @ w1
        d_out = 2 * (hidden @ w2 - t) / len(x)
        grads = [x.T @ (d_out @ w2.T), hidden.T @ d_out]
        bufs = [0.9 * b + g for b, g in zip(bufs, grads)]
        w1, w2 = [
            w - 0.1 * (g + 0.9 * b) for w, g, b in zip((w1, w2), grads, bufs)
        ]
    np.testing.assert_allclose(model.get_weights()[0], w1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], w2, rtol=1e-5, atol=1e-6)


def test_optimizer_serialization_and_model_save_round_trip(tmp_path):
    model = toy_model()
    optimizer = build_optimizer(model, PolyDecay(0.01, 1000), weight_decay=2e-4)
    config = keras.optimizers.serialize(optimizer)
    restored = keras.optimizers.deserialize(config)
    assert isinstance(restored, MultiplierSGD)
    assert restored.lr_multipliers == {"head": 10.0}
    assert restored.l2_weight_decay == 2e-4
    assert isinstance(restored._learning_rate, PolyDecay)

    model.compile(optimizer=optimizer, loss="mse")
    model.train_on_batch(X, T)
    path = tmp_path / "toy.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, MultiplierSGD)
    assert loaded.optimizer.lr_multipliers == {"head": 10.0}
    assert int(ops.convert_to_numpy(loaded.optimizer.iterations)) == 1


def test_unmatched_prefix_warns():
    model = toy_model()
    model.compile(
        optimizer=MultiplierSGD(0.1, lr_multipliers={"jpu": 10.0}), loss="mse"
    )
    with pytest.warns(UserWarning, match="match no trainable variable"):
        model.train_on_batch(X, T)


def test_head_lr_multipliers_requires_backbone():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="backbone"):
        head_lr_multipliers(model)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="building the model takes ~40 s on JAX/CPU",
)
def test_head_lr_multipliers_of_a_fastfcn_model():
    import keras_fastfcn

    model = keras_fastfcn.build_model(
        "encnet_jpu",
        "resnet18",
        num_classes=5,
        base_width=8,
        neck_width=16,
        aux=True,
        se_loss=True,
    )
    multipliers = head_lr_multipliers(model)
    assert multipliers == {"jpu": 10.0, "auxlayer": 10.0, "head": 10.0}
    optimizer = MultiplierSGD(0.01, lr_multipliers=multipliers)
    optimizer.build(model.trainable_variables)
    backbone_ids = {id(v) for v in model.backbone.trainable_variables}
    for variable in model.trainable_variables:
        expected = 1.0 if id(variable) in backbone_ids else 10.0
        assert optimizer.variable_multiplier(variable) == expected, (
            variable.path
        )
    assert len(backbone_ids) < len(model.trainable_variables)


MIRRORED_SCRIPT = """
    import test_schedules as t
    from keras_fastfcn.schedules import MultiplierSGD
    with strategy.scope():
        model = t.toy_model()
        model.compile(optimizer=MultiplierSGD(
            0.1, momentum=0.9, weight_decay=0.01,
            lr_multipliers={"head": 10.0}), loss="mse")
    model.fit(t.X, t.T, batch_size=4, epochs=2, verbose=0, shuffle=False)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "weights": [w.tolist() for w in model.get_weights()]}))
    """


def test_multiplier_sgd_under_mirrored_strategy():
    report = run_with_two_cpu_replicas(MIRRORED_SCRIPT)
    assert report["replicas"] == 2
    w1, w2 = numpy_reference(2, [0.1, 0.1], 0.01, 0.9, 10.0)
    np.testing.assert_allclose(report["weights"][0], w1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(report["weights"][1], w2, rtol=1e-5, atol=1e-5)
    assert math.isfinite(report["weights"][1][0][0])


def _hand_written_poly(step, base, decay_steps, power, end, warmup, ratio):
    """The formula of the hand-written PolyDecay this one replaced."""
    step = ops.cast(step, "float32")
    progress = ops.minimum(step, float(decay_steps)) / float(decay_steps)
    decayed = (base - end) * ops.power(1.0 - progress, power) + end
    if warmup > 0:
        ramp = ops.minimum(step / warmup, 1.0)
        decayed = decayed * (1.0 - (1.0 - ratio) * (1.0 - ramp))
    return decayed


@pytest.mark.parametrize(
    "settings",
    [
        (0.01, 1000, 0.9, 0.0, 0, 0.0),
        (0.004, 7, 0.9, 0.0, 0, 0.0),
        (0.01, 400, 0.9, 0.0, 50, 0.1),
        (0.02, 300, 0.9, 0.0, 30, 0.0),
    ],
)
def test_poly_decay_is_keras_polynomial_decay_with_the_same_numbers(settings):
    base, decay_steps, power, end, warmup, ratio = settings
    schedule = PolyDecay(
        base,
        decay_steps,
        power=power,
        end_learning_rate=end,
        warmup_steps=warmup,
        warmup_ratio=ratio,
    )
    assert isinstance(schedule, keras.optimizers.schedules.PolynomialDecay)
    steps = np.arange(decay_steps + 5)
    new = np.array([float(schedule(s)) for s in steps])
    old = np.array([float(_hand_written_poly(s, *settings)) for s in steps])
    np.testing.assert_array_equal(new, old)  # bit for bit
    # and the NumPy float64 reference, to float32 rounding
    t = np.minimum(steps, decay_steps).astype(np.float64)
    expected = base * (1 - t / decay_steps) ** power
    if warmup:
        expected *= 1 - (1 - ratio) * (1 - np.minimum(steps / warmup, 1.0))
    # (float32: 1 - t / N loses digits near the end)
    np.testing.assert_allclose(new, expected, rtol=2e-6, atol=base * 1e-7)
    assert new[decay_steps:].tolist() == [0.0] * 5


def test_poly_decay_configs_of_the_earlier_class_load():
    saved = {
        "module": None,
        "class_name": "PolyDecay",
        "config": {
            "initial_learning_rate": 0.01,
            "decay_steps": 120,
            "power": 0.9,
            "end_learning_rate": 0.0,
            "warmup_steps": 10,
            "warmup_ratio": 0.0,
            "name": None,
        },
        "registered_name": "keras_fastfcn>PolyDecay",
    }
    schedule = keras.saving.deserialize_keras_object(saved)
    assert isinstance(schedule, PolyDecay)
    assert float(schedule(5)) == pytest.approx(0.01 * (1 - 5 / 120) ** 0.9 / 2)
    assert set(schedule.get_config()) == set(saved["config"])
