"""Linear warmup with a start ratio before the poly decay (issue #20)."""

import keras
import pytest
from keras import ops

from keras_fastfcn.schedules import PolyDecay


def lr_at(schedule, step):
    return float(ops.convert_to_numpy(schedule(step)))


def test_linear_warmup_with_ratio_hand_computed():
    # base 0.01, 100 steps, warmup 10 steps from 0.1 x:
    # factor(t) = 1 - 0.9 * (1 - t / 10) for t < 10.
    schedule = PolyDecay(0.01, 100, warmup_steps=10, warmup_ratio=0.1)
    # t = 0: 0.01 * 1 ** 0.9 * 0.1
    assert lr_at(schedule, 0) == pytest.approx(0.001, rel=1e-6)
    # t = 2: 0.01 * 0.98 ** 0.9 * (1 - 0.9 * 0.8) = 0.01 * 0.98**0.9 * 0.28
    assert lr_at(schedule, 2) == pytest.approx(0.0027495492, rel=1e-6)
    # t = 5 (mid-warmup): 0.01 * 0.95 ** 0.9 * 0.55
    assert lr_at(schedule, 5) == pytest.approx(0.0052518696, rel=1e-6)
    # t = 10 (warmup end): plain poly, 0.01 * 0.9 ** 0.9
    assert lr_at(schedule, 10) == pytest.approx(0.0090953258, rel=1e-6)
    # t = 50 (after): 0.01 * 0.5 ** 0.9
    assert lr_at(schedule, 50) == pytest.approx(0.0053588673, rel=1e-6)
    assert lr_at(schedule, 100) == 0.0


def test_warmup_ratio_zero_is_the_official_t_over_w_and_off_is_poly():
    official = PolyDecay(0.01, 100, warmup_steps=10)
    assert lr_at(official, 0) == 0.0
    assert lr_at(official, 5) == pytest.approx(0.0047744269, rel=1e-6)
    off = PolyDecay(0.01, 100, warmup_steps=0, warmup_ratio=0.1)
    assert lr_at(off, 0) == pytest.approx(0.01, rel=1e-6)  # ratio unused
    full = PolyDecay(0.01, 100, warmup_steps=10, warmup_ratio=1.0)
    assert lr_at(full, 3) == pytest.approx(0.01 * 0.97**0.9, rel=1e-6)


def test_warmup_ratio_validation_and_serialization():
    with pytest.raises(ValueError, match="warmup_ratio"):
        PolyDecay(0.01, 100, warmup_steps=5, warmup_ratio=1.5)
    schedule = PolyDecay(0.02, 500, warmup_steps=20, warmup_ratio=0.25)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert restored.get_config() == schedule.get_config()
    assert restored.warmup_ratio == 0.25
    # 0.02 * (1 - 7/500) ** 0.9 * (1 - 0.75 * (1 - 7/20))
    assert lr_at(restored, 7) == pytest.approx(
        0.02 * 0.986**0.9 * 0.5125, rel=1e-6
    )
