"""Training throughput and peak memory of one model (run by `benchmark`).

    python -m keras_fastfcn.benchmarks.training --model encnet_jpu \\
        --backbone resnet50 --crop 480 --batch 2 --steps 3 --warmup 2

builds and compiles the model exactly as `train.py` does (aux and SE
losses, SGD with momentum and weight decay, metrics), runs `model.fit` on
random images and labels of `(batch, crop, crop)`, and prints one JSON
object: the seconds of each timed step, images/s, and memory. Run it in a
fresh process per model: the peak resident set size (`ru_maxrss`) is a
process-wide high-water mark. `allocator_peak_mb` is TensorFlow's own
count of the largest live tensor memory during the timed steps (available
with the BFC CPU allocator that `configure_tensorflow_runtime` selects).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import numpy as np

from keras_fastfcn.utils.runtime import configure_tensorflow_runtime
from keras_fastfcn.utils.runtime import set_cpu_threads


def _rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _reset_allocator_peak() -> bool:
    """Restart TensorFlow's CPU peak-memory count; `False` when the
    allocator keeps no statistics (the default, non-BFC allocator)."""
    import tensorflow as tf

    try:
        tf.config.experimental.reset_memory_stats("CPU:0")
    except ValueError:
        return False
    return True


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_training(
    model_name: str,
    backbone: str,
    num_classes: int = 150,
    crop: int = 480,
    batch: int = 2,
    steps: int = 3,
    warmup: int = 2,
) -> dict:
    """Seconds per training step and memory of `model_name` on random data."""
    import keras
    import tensorflow as tf

    from keras_fastfcn.config import TrainConfig
    from keras_fastfcn.losses import replicate_targets
    from keras_fastfcn.train import build_and_compile

    config = TrainConfig(
        model=model_name,
        backbone=backbone,
        crop_size=crop,
        batch_size=batch,
        epochs=1,
        lr=0.01,
    ).resolved()
    model = build_and_compile(config, num_classes, warmup + steps)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(batch, crop, crop, 3)).astype("float32")
    labels = rng.integers(0, num_classes, size=(batch, crop, crop))
    targets = labels.astype("int32")
    if isinstance(model.output, dict):
        targets = replicate_targets(targets, list(model.output))
    dataset = tf.data.Dataset.from_tensors((images, targets)).repeat()

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []
            self.allocator_stats = False

        def on_train_batch_begin(self, batch_index, logs=None):
            if batch_index == warmup:
                self.allocator_stats = _reset_allocator_peak()
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch_index, logs=None):
            # The loss is read so that the step has finished.
            float(logs["loss"])
            self.seconds.append(time.perf_counter() - self._start)

    timer = StepTimer()
    rss_before = _rss_mb()
    model.fit(
        dataset,
        epochs=1,
        steps_per_epoch=warmup + steps,
        callbacks=[timer],
        verbose=0,
    )
    timed = timer.seconds[warmup:]
    median = statistics.median(timed)
    allocator_peak = None
    if timer.allocator_stats:
        info = tf.config.experimental.get_memory_info("CPU:0")
        allocator_peak = info["peak"] / 2**20
    return {
        "model": model_name,
        "backbone": backbone,
        "crop": crop,
        "batch": batch,
        "step_s": timed,
        "median_step_s": median,
        "images_per_s": batch / median,
        "rss_before_fit_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
        "allocator_peak_mb": allocator_peak,
    }


def main(argv=None) -> dict:
    configure_tensorflow_runtime()
    parser = argparse.ArgumentParser(
        prog="python -m keras_fastfcn.benchmarks.training",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--model", required=True)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--num-classes", type=int, default=150)
    parser.add_argument("--crop", type=int, default=480)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    set_cpu_threads(args.threads)
    result = measure_training(
        args.model,
        args.backbone,
        args.num_classes,
        args.crop,
        args.batch,
        args.steps,
        args.warmup,
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
