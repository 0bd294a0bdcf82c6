"""Pick a `tf.distribute` strategy and this process's role in it.

Strategies (``kind``):

- ``auto``: multi-worker when ``TF_CONFIG`` describes a cluster of several
  tasks; otherwise ``MirroredStrategy`` over all (or the first
  ``devices``) GPUs, over ``devices`` logical CPU devices on a CPU-only
  machine, or the default single-device strategy. On the JAX backend:
  ``data_parallel``.
- ``mirrored``: ``MirroredStrategy`` (GPUs, or ``devices`` logical CPUs).
- ``multi_worker``: ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``
  (every local GPU of every worker; one CPU device per worker without GPU).
- ``tpu``: ``TPUStrategy`` on the TPU named by ``tpu`` (or the one the
  environment provides, e.g. a Cloud TPU VM).
- ``one_device``: ``OneDeviceStrategy`` on the first GPU, else the CPU.
- ``data_parallel``: Keras' own ``keras.distribution.DataParallel`` over all
  local devices (JAX backend; no ``tf.distribute`` strategy is returned).

`worker_role` tells the chief (which writes checkpoints and logs) from the
other workers. Input is split across workers by file for TFRecord shards
(`worker_shard`: each worker reads its own shards, auto-sharding off) and
by element otherwise (`tf.distribute`'s DATA auto-sharding), see
`set_sharding_policy`.
"""

from __future__ import annotations

import dataclasses
import json
import os

import tensorflow as tf

from keras_fastfcn.config import STRATEGIES

TF_CONFIG = "TF_CONFIG"


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """This process in a (possibly one-process) training cluster.

    Attributes:
        is_chief: Writes checkpoints, TensorBoard logs and the summary.
        task_type: ``"chief"``, ``"worker"`` or ``"local"``.
        task_id: Index among tasks of ``task_type``.
        num_workers: Processes that read input (chief included).
        worker_index: This process among them, ``0 .. num_workers - 1``
            (the chief first).
    """

    is_chief: bool = True
    task_type: str = "local"
    task_id: int = 0
    num_workers: int = 1
    worker_index: int = 0

    @property
    def name(self) -> str:
        return f"{self.task_type}-{self.task_id}"


def cluster_from_env() -> dict | None:
    """The parsed ``TF_CONFIG``, or None when unset or a one-task cluster.

    Raises:
        ValueError: ``TF_CONFIG`` is not valid JSON or lacks ``cluster`` /
            ``task``.
    """
    text = os.environ.get(TF_CONFIG, "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{TF_CONFIG} is not valid JSON: {error}.") from None
    if not isinstance(config, dict) or not {"cluster", "task"} <= set(config):
        raise ValueError(
            f'{TF_CONFIG} must be {{"cluster": {{"worker": [...]}}, "task": '
            f'{{"type": "worker", "index": 0}}}}; got {text[:200]!r}.'
        )
    tasks = sum(
        len(addresses)
        for kind, addresses in config["cluster"].items()
        if kind in ("chief", "worker")
    )
    return config if tasks > 1 else None


def make_strategy(
    devices: int | None = None,
    kind: str = "auto",
    tpu: str | None = None,
) -> tf.distribute.Strategy | None:
    """Return the strategy ``kind`` (see the module docstring).

    Must be called before TensorFlow runs its first op (logical CPU devices
    and multi-worker collectives are configured at start-up). Returns None
    for ``data_parallel``, after setting the Keras distribution.

    Raises:
        ValueError: Unknown ``kind``, ``devices`` out of range, or a
            strategy that this backend or machine cannot run.
    """
    import keras

    if devices is not None and devices < 1:
        raise ValueError(f"devices must be >= 1, got {devices}.")
    backend = keras.backend.backend()
    if kind == "data_parallel" or (kind == "auto" and backend == "jax"):
        return _keras_data_parallel(devices)
    if backend != "tensorflow":
        raise ValueError(
            f"strategy {kind!r} is a tf.distribute strategy and needs "
            f"KERAS_BACKEND=tensorflow (this is {backend!r}); on JAX use "
            "strategy 'data_parallel'."
        )
    if kind == "auto":
        if cluster_from_env() is not None:
            return _multi_worker()
        return _local(devices, always_mirrored=False)
    if kind == "mirrored":
        return _local(devices, always_mirrored=True)
    if kind == "multi_worker":
        if not os.environ.get(TF_CONFIG):
            raise ValueError(
                f"strategy 'multi_worker' reads the cluster from the "
                f"{TF_CONFIG} environment variable, which is not set. See "
                "'Training on several machines' in the README."
            )
        return _multi_worker()
    if kind == "tpu":
        return _tpu(tpu)
    if kind == "one_device":
        gpus = tf.config.list_physical_devices("GPU")
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    raise ValueError(
        f"Unknown strategy {kind!r}; valid: {', '.join(STRATEGIES)}."
    )


def _local(
    devices: int | None, always_mirrored: bool
) -> tf.distribute.Strategy:
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
        if always_mirrored:
            return tf.distribute.MirroredStrategy(["/cpu:0"])
        return tf.distribute.get_strategy()
    _split_cpu(devices)
    return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(devices)])


def _multi_worker() -> tf.distribute.Strategy:
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
    )
    return tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=options
    )


def _tpu(tpu: str | None) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=tpu or ""
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError) as error:
        raise ValueError(
            f"No TPU found ({str(error).splitlines()[0]}); pass --tpu NAME "
            "(or run on a Cloud TPU VM), or choose another --strategy."
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def _keras_data_parallel(devices: int | None) -> None:
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError(
            "strategy 'data_parallel' (keras.distribution) is used here with "
            f"the JAX backend; this is {keras.backend.backend()!r}. Set "
            "KERAS_BACKEND=jax, or use a tf.distribute strategy."
        )
    available = keras.distribution.list_devices()
    count = devices or len(available)
    if count > len(available):
        raise ValueError(
            f"devices={count} but JAX sees {len(available)}: {available}."
        )
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=available[:count])
    )
    return None


def replicas(strategy: tf.distribute.Strategy | None) -> int:
    """Replicas in sync (Keras data-parallel devices when ``strategy`` is
    None)."""
    if strategy is not None:
        return strategy.num_replicas_in_sync
    import keras

    distribution = keras.distribution.distribution()
    if distribution is None:
        return 1
    return int(distribution.device_mesh.devices.size)


def worker_role(strategy: tf.distribute.Strategy | None) -> WorkerRole:
    """Chief or worker, from the strategy's cluster resolver."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return WorkerRole()
    cluster = resolver.cluster_spec().as_dict()
    task_type, task_id = resolver.task_type, int(resolver.task_id)
    num_workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    has_chief = "chief" in cluster
    is_chief = task_type == "chief" or (
        task_type == "worker" and task_id == 0 and not has_chief
    )
    index = task_id + (1 if task_type == "worker" and has_chief else 0)
    return WorkerRole(is_chief, task_type, task_id, num_workers, index)


def worker_shard(num_records: int, role: WorkerRole) -> tuple[int, int] | None:
    """``(num_workers, worker_index)`` when this worker should read its own
    TFRecord shards (several workers, at least one shard each); None when
    `tf.distribute` should split the data by element instead (files read
    by path, cached or in-memory data, or too few shards)."""
    if role.num_workers > 1 and num_records >= role.num_workers:
        return role.num_workers, role.worker_index
    return None


def set_sharding_policy(
    dataset: tf.data.Dataset, policy: tf.data.experimental.AutoShardPolicy
) -> tf.data.Dataset:
    """``dataset`` with ``policy`` as its auto-shard policy."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return dataset.with_options(options)


def _split_cpu(count: int) -> None:
    cores = os.cpu_count() or 1
    if count > cores:
        print(
            f"warning: {count} logical CPU devices on {cores} cores: the "
            "replicas will share cores (slower than fewer devices; fine for "
            "checking the multi-replica path)"
        )
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


def patch_multi_worker_model(model, strategy: tf.distribute.Strategy) -> None:
    """Work around keras-team/keras#20585 on ``model`` (this instance only).

    Two steps of Keras' TensorFlow trainer fail under
    MultiWorkerMirroredStrategy: (1) before the first step it reduces the
    first distributed batch with an eager ``strategy.reduce``, which the
    multi-worker collectives cannot run ("Attempt to convert a value
    (PerReplica...)"); only the batch's shapes are needed, so this worker's
    first local batch is used instead; (2) it averages every step's logs
    with ``strategy.reduce("MEAN", value, axis=0)``, which fails on the
    scalar losses and metrics; the patched steps return them as ``(1,)``
    tensors, so that reduce averages over replicas and gives back a
    ``(1,)`` value, flattened by Keras' log handling. No-op for other
    strategies.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return

    def local_value(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def build_from_local_batch(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_value, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def vector_logs(step):
        def patched(data):
            logs = step(data)
            return {
                name: tf.reshape(value, [-1]) if tf.is_tensor(value) else value
                for name, value in logs.items()
            }

        return patched

    model._maybe_symbolic_build = build_from_local_batch
    model.train_step = vector_logs(model.train_step)
    model.test_step = vector_logs(model.test_step)
