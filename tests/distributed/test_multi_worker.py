"""MultiWorkerMirroredStrategy with two worker processes on loopback.

Both processes train a tiny model on TFRecord shards of the bundled sample;
the cluster comes from ``TF_CONFIG`` with free ports chosen at run time.
Every process is killed at the end of each test, whatever happens.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="MultiWorkerMirroredStrategy is TensorFlow",
)

JOB = Path(__file__).resolve().parent / "worker_job.py"
TIMEOUT = 420


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tiny_config(records: Path, output: Path, epochs: int, steps: int) -> dict:
    return dict(
        dataset="sample",
        data_format="tfrecord",
        data_dir=str(records),
        model="fcn",
        backbone="resnet18",
        base_width=8,
        neck_width=16,
        aux=False,
        sync_bn=True,
        crop_size=32,
        base_size=40,
        batch_size=4,
        epochs=epochs,
        steps_per_epoch=steps,
        lr=0.01,
        val_steps=1,
        num_visualizations=0,
        strategy="multi_worker",
        output_dir=str(output),
    )


class Cluster:
    """Two worker processes; `stop` kills whatever is still running."""

    def __init__(self, tmp_path: Path, config: dict, run: str):
        self.processes = []
        self.logs = []
        ports = free_ports(2)
        workers = [f"127.0.0.1:{port}" for port in ports]
        config_path = tmp_path / f"config-{run}.json"
        config_path.write_text(json.dumps(config))
        self.weights = [tmp_path / f"weights-{run}-{i}.npz" for i in range(2)]
        for index in range(2):
            tf_config = {
                "cluster": {"worker": workers},
                "task": {"type": "worker", "index": index},
            }
            env = {
                **os.environ,
                "TF_CONFIG": json.dumps(tf_config),
                "KERAS_BACKEND": "tensorflow",
                "CUDA_VISIBLE_DEVICES": "",
                "TF_NUM_INTRAOP_THREADS": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
            log = open(tmp_path / f"worker-{run}-{index}.log", "w+")
            self.logs.append(log)
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(JOB),
                        str(config_path),
                        str(self.weights[index]),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )

    def output(self, index: int) -> str:
        self.logs[index].flush()
        self.logs[index].seek(0)
        return self.logs[index].read()

    def wait(self, timeout: float = TIMEOUT) -> list[int]:
        deadline = time.monotonic() + timeout
        codes = []
        for process in self.processes:
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                codes.append(process.wait(remaining))
            except subprocess.TimeoutExpired:
                self.stop()
                pytest.fail(
                    "workers did not finish in time:\n"
                    + "\n---\n".join(self.output(i)[-3000:] for i in range(2))
                )
        return codes

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)

    def summary(self, index: int) -> dict:
        lines = [
            line
            for line in self.output(index).splitlines()
            if line.startswith("{")
        ]
        return json.loads(lines[-1])


def run_to_completion(cluster: Cluster) -> list[str]:
    """Waits for both workers (killing them on any failure), asserts that
    both exited 0, returns their logs."""
    try:
        codes = cluster.wait()
    finally:
        cluster.stop()
    logs = [cluster.output(i) for i in range(2)]
    assert codes == [0, 0], "\n---\n".join(log[-3000:] for log in logs)
    return logs


def assert_same_weights(paths) -> None:
    first, second = (np.load(path) for path in paths)
    assert sorted(first.files) == sorted(second.files)
    assert len(first.files) > 50
    for name in first.files:
        np.testing.assert_allclose(
            first[name], second[name], rtol=1e-6, atol=1e-7, err_msg=name
        )


def test_two_workers_train_identically_and_only_the_chief_writes(
    tmp_path, sample_records
):
    output = tmp_path / "run"
    cluster = Cluster(tmp_path, tiny_config(sample_records, output, 2, 3), "a")
    logs = run_to_completion(cluster)
    chief, worker = cluster.summary(0), cluster.summary(1)
    assert chief["workers"] == worker["workers"] == 2
    assert chief["replicas"] == 2
    assert chief["initial_epoch"] == 0
    assert 0.0 <= chief["mean_iou"] <= 1.0 and "mean_iou" not in worker
    assert_same_weights(cluster.weights)
    # the weights moved away from the (identical) initial values
    assert (output / "checkpoints" / "epoch-0002.keras").is_file()
    assert (output / "summary.json").is_file()
    assert not (output / "backup").exists()  # removed when the job is done
    # the non-chief worker wrote to a temporary folder, now deleted
    temporary = [
        line.split("temporary folder ")[1].strip()
        for line in logs[1].splitlines()
        if "temporary folder " in line
    ]
    assert len(temporary) == 1 and not Path(temporary[0]).exists()
    assert "temporary folder" not in logs[0]
    history = (output / "history.csv").read_text().strip().splitlines()
    assert len(history) == 1 + 2  # header + one line per epoch, chief only


def test_restarted_job_resumes_from_the_backup(tmp_path, sample_records):
    output = tmp_path / "run"
    epochs = 12
    config = tiny_config(sample_records, output, epochs, 4)
    state = output / "backup" / "backup.json"
    cluster = Cluster(tmp_path, config, "first")
    try:
        deadline = time.monotonic() + TIMEOUT
        backed_up = 0
        while backed_up < 2:
            assert time.monotonic() < deadline, cluster.output(0)[-3000:]
            assert cluster.processes[1].poll() is None, cluster.output(1)
            time.sleep(0.2)
            if state.is_file():
                backed_up = json.loads(state.read_text())["epoch"]
        os.killpg(cluster.processes[1].pid, signal.SIGKILL)  # lose worker 1
        try:  # the chief fails (or hangs) without its peer
            cluster.processes[0].wait(60)
        except subprocess.TimeoutExpired:
            pass
    finally:
        cluster.stop()
    stopped_at = json.loads(state.read_text())["epoch"]
    assert 2 <= stopped_at < epochs
    assert not (output / "summary.json").exists()

    restarted = Cluster(tmp_path, config, "second")
    logs = run_to_completion(restarted)
    for index in range(2):
        summary = restarted.summary(index)
        assert summary["initial_epoch"] == stopped_at
        assert f"restored the backup in {output / 'backup'}" in logs[index]
    assert_same_weights(restarted.weights)
    assert json.loads((output / "summary.json").read_text())["epochs"] == epochs
    assert not (output / "backup").exists()
