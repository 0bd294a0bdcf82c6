"""Pick a `tf.distribute` strategy for the visible devices (TensorFlow only).

GPUs: `MirroredStrategy` over all (or the first `devices`) GPUs; the global
batch is split across them. CPU only: `devices=N > 1` splits the CPU into N
logical devices so the multi-replica path runs (and is tested) without a
GPU; otherwise the default single-device strategy.
"""

from __future__ import annotations

import tensorflow as tf


def make_strategy(devices: int | None = None) -> tf.distribute.Strategy:
    """Return the strategy for `devices` replicas (`None`: all GPUs or one
    CPU). Must be called before TensorFlow runs its first op when it has to
    create logical CPU devices."""
    if devices is not None and devices < 1:
        raise ValueError(f"devices must be >= 1, got {devices}.")
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        count = devices or len(gpus)
        if count > len(gpus):
            raise ValueError(
                f"devices={count} but only {len(gpus)} GPU(s) are visible."
            )
        return tf.distribute.MirroredStrategy(
            [f"/gpu:{i}" for i in range(count)]
        )
    if not devices or devices == 1:
        return tf.distribute.get_strategy()
    _split_cpu(devices)
    return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(devices)])


def _split_cpu(count: int) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    existing = tf.config.get_logical_device_configuration(cpu)
    if existing and len(existing) == count:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError as error:
        raise RuntimeError(
            f"Cannot split the CPU into {count} logical devices: TensorFlow "
            "was already initialised. Create the strategy before running any "
            "TensorFlow op (e.g. at the start of the program)."
        ) from error
