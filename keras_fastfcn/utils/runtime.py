"""Process-wide TensorFlow settings the command-line tools start with."""

from __future__ import annotations

import os
import sys
import tempfile

# TensorFlow's default CPU allocator hands large buffers back to the system
# after every op, so each call of a model page-faults its feature maps in
# again: the (1, 512, 512, 150) logits resize alone went from 110 ms to
# 13-52 ms with the caching BFC allocator (README, "Speed").
CPU_ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"


# TensorFlow 2.21's oneDNN CPU kernels corrupt the heap ("double free or
# corruption", "malloc assertion failure") when a MirroredStrategy runs
# replicas on logical CPU devices (tests/test_train.py reproduces it); the
# plain Eigen kernels do not.
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def configure_tensorflow_runtime(
    cpu_replicas: int | None = None, verbose: bool = False
) -> None:
    """Quiet TensorFlow's C++ logs and use the caching CPU allocator; with
    several `cpu_replicas` (logical CPU devices), turn oneDNN off.

    TensorFlow's C++ logs stay at errors and above with `verbose`, and are
    off otherwise (level 3, which also hides "failed call to cuInit" on a
    machine without a GPU driver). All are `setdefault`s: a value already in
    the environment wins. Call before TensorFlow is imported (the oneDNN
    choice is read at import; the allocator choice lazily).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if verbose else "3")
    os.environ.setdefault(CPU_ALLOCATOR_VARIABLE, "true")
    if cpu_replicas and cpu_replicas > 1:
        os.environ.setdefault(ONEDNN_VARIABLE, "0")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with the process's stderr (file descriptor 2)
    captured, and replay the capture only if the import fails.

    TensorFlow's shared libraries log a few lines ("oneDNN custom operations
    are on", "Could not find cuda drivers") before its log settings are
    read, so `TF_CPP_MIN_LOG_LEVEL` cannot hide them. Does nothing when
    TensorFlow is already imported.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        failed = True
        try:
            os.dup2(capture.fileno(), 2)
            import tensorflow  # noqa: F401

            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                capture.seek(0)
                sys.stderr.write(capture.read().decode(errors="replace"))


def set_cpu_threads(threads: int) -> None:
    """Use `threads` intra-op and inter-op threads on TensorFlow (0: all).

    Other backends are left alone; prints a warning when TensorFlow has
    already started and the setting cannot take effect.
    """
    if not threads:
        return
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        print(
            f"warning: TensorFlow is already running; --threads {threads} "
            "cannot take effect in this process."
        )
