"""Keras' DataParallel distribution on the JAX backend (2 host devices).

Data-parallel training splits each global batch across devices and
averages gradients, and JAX computes BatchNorm statistics over the whole
(sharded) batch, so two devices must give the weights one device gives.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="needs jax"
)

JOB = Path(__file__).resolve().parent / "worker_job.py"


def train_on_jax(tmp_path: Path, devices: int) -> tuple[dict, dict]:
    config = dict(
        dataset="sample",
        model="fcn_jpu",
        backbone="resnet18",
        base_width=8,
        neck_width=16,
        aux=False,
        dropout=0.0,
        # at 64x64 the stride-32 features are 2x2; at 32x32 BatchNorm over
        # 1x1 maps of 4 images amplifies float rounding chaotically
        crop_size=64,
        base_size=72,
        batch_size=4,
        epochs=1,
        steps_per_epoch=1,  # float noise grows step by step from scratch
        lr=0.01,
        val_steps=2,
        num_visualizations=0,
        strategy="data_parallel",
        devices=devices,
        output_dir=str(tmp_path / f"run-{devices}"),
    )
    config_path = tmp_path / f"config-{devices}.json"
    config_path.write_text(json.dumps(config))
    weights = tmp_path / f"weights-{devices}.npz"
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.pop("TF_CONFIG", None)
    result = subprocess.run(
        [sys.executable, str(JOB), str(config_path), str(weights)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return summary, dict(np.load(weights))


def test_two_devices_train_like_one(tmp_path):
    one_summary, one = train_on_jax(tmp_path, devices=1)
    two_summary, two = train_on_jax(tmp_path, devices=2)
    assert one_summary["replicas"] == 1
    assert two_summary["replicas"] == 2
    assert sorted(one) == sorted(two) and len(one) > 50
    for name in one:
        np.testing.assert_allclose(
            two[name], one[name], rtol=1e-4, atol=2e-5, err_msg=name
        )
    # the training step really ran: BatchNorm statistics moved
    moving_means = [one[name] for name in one if name.endswith("moving_mean")]
    moved = [np.abs(m).max() > 1e-4 for m in moving_means]
    assert len(moved) > 10 and np.mean(moved) > 0.75
