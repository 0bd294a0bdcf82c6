"""Strategy selection, worker roles, input sharding and backups.

The multi-process runs (two workers over loopback, Keras DataParallel on
two JAX devices) are in tests/distributed.
"""

import json

import keras
import numpy as np
import pytest

from keras_fastfcn.config import TrainConfig
from keras_fastfcn.distribute import WorkerRole
from keras_fastfcn.distribute import cluster_from_env
from keras_fastfcn.distribute import make_strategy
from keras_fastfcn.distribute import worker_role
from keras_fastfcn.distribute import worker_shard

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.distribute"
)


def test_cluster_from_env(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_from_env() is None
    one = {
        "cluster": {"worker": ["a:1"]},
        "task": {"type": "worker", "index": 0},
    }
    monkeypatch.setenv("TF_CONFIG", json.dumps(one))
    assert cluster_from_env() is None  # a one-task cluster is local training
    two = {
        "cluster": {"chief": ["a:1"], "worker": ["b:2"]},
        "task": {"type": "worker", "index": 0},
    }
    monkeypatch.setenv("TF_CONFIG", json.dumps(two))
    assert cluster_from_env() == two
    monkeypatch.setenv("TF_CONFIG", "{cluster")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        cluster_from_env()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {}}))
    with pytest.raises(ValueError, match='"task"'):
        cluster_from_env()


def test_strategy_errors(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG environment variable"):
        make_strategy(kind="multi_worker")
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        make_strategy(kind="data_parallel")
    with pytest.raises(ValueError, match="Unknown strategy 'ring'"):
        make_strategy(kind="ring")
    with pytest.raises(ValueError, match="devices must be >= 1"):
        make_strategy(0)
    with pytest.raises(ValueError, match="strategy must be one of"):
        TrainConfig(strategy="ring").resolved()
    with pytest.raises(ValueError, match="data_format must be one of"):
        TrainConfig(data_format="csv").resolved()


def test_one_device_and_local_roles(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = make_strategy(kind="one_device")
    assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
    assert strategy.num_replicas_in_sync == 1
    assert worker_role(strategy) == WorkerRole()
    assert worker_role(make_strategy()).is_chief


def test_worker_shard():
    two = WorkerRole(False, "worker", 0, num_workers=2, worker_index=1)
    assert worker_shard(4, two) == (2, 1)
    assert worker_shard(2, two) == (2, 1)
    assert worker_shard(1, two) is None  # fewer shards than workers: DATA
    assert worker_shard(0, two) is None  # files read by path: DATA
    assert worker_shard(8, WorkerRole()) is None  # one worker


def test_pad_batches_keeps_metrics_exact():
    import tensorflow as tf

    from keras_fastfcn.data.pipeline import pad_batches
    from keras_fastfcn.metrics import segmentation_metrics

    rng = np.random.default_rng(0)
    images = rng.normal(size=(5, 4, 4, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(5, 4, 4)).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    padded = list(pad_batches(dataset, 3, ignore_label=255))
    assert [x.shape[0] for x, _ in padded] == [6, 3]
    np.testing.assert_array_equal(padded[1][0][:1], images[4:])
    assert np.all(padded[1][0][1:].numpy() == 0)
    assert np.all(padded[1][1][1:].numpy() == 255)
    logits = rng.normal(size=(5, 4, 4, 3)).astype("float32")
    plain, with_padding = segmentation_metrics(3), segmentation_metrics(3)
    for metric in plain:
        metric.update_state(labels, logits)
    pad = np.zeros((2, 4, 4, 3), "float32")
    padded_logits = np.concatenate([logits[:4], pad, logits[4:], pad])
    padded_labels = np.concatenate([padded[0][1].numpy(), padded[1][1].numpy()])
    for metric in with_padding:
        metric.update_state(padded_labels, padded_logits)
    for a, b in zip(plain, with_padding):
        assert float(a.result()) == pytest.approx(float(b.result()))


def test_backup_round_trip(tmp_path):
    from keras_fastfcn.callbacks import BACKUP_STATE
    from keras_fastfcn.callbacks import EpochBackup
    from keras_fastfcn.callbacks import read_backup
    from keras_fastfcn.callbacks import restore_backup

    def compiled():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
        return model

    model = compiled()
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    assert read_backup(tmp_path) is None
    model.fit(x, y, epochs=3, verbose=0, callbacks=[EpochBackup(tmp_path)])
    assert read_backup(tmp_path) == 3
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically
    # one weights file, the one the state names (older epochs deleted)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        BACKUP_STATE,
        "epoch-0003.latest.weights.h5",
    ]
    restored = compiled()
    assert restore_backup(restored, tmp_path) == 3
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # momentum buffers and the step count came back too
    assert int(restored.optimizer.iterations.numpy()) == 3
    for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # a kill between the weights and the state: the state still names
    # epoch 3's weights, which are still there
    (tmp_path / "epoch-0004.latest.weights.h5").write_bytes(b"partial")
    assert read_backup(tmp_path) == 3
    (tmp_path / BACKUP_STATE).write_text("{")
    with pytest.raises(ValueError, match="Corrupt backup state"):
        read_backup(tmp_path)
