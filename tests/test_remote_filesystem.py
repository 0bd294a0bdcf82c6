"""Every output of a run goes through `tf.io.gfile`: a whole run on
TensorFlow's in-memory `ram://` filesystem (train two epochs, resume for a
third, evaluate the preset), with no local file written."""

import json

import keras
import numpy as np
import pytest

from keras_fastfcn.config import TrainConfig
from keras_fastfcn.utils import files

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.io.gfile"
)

TINY = dict(
    dataset="sample",
    backbone="resnet18",
    base_width=8,
    neck_width=16,
    crop_size=32,
    base_size=36,
    batch_size=2,
    steps_per_epoch=2,
    val_steps=1,
    num_visualizations=1,
    dropout=0.0,
)


def test_atomic_write_and_copy_on_ram_filesystem():
    files.atomic_write_text("ram://atomic/a/b.json", '{"x": 1}')
    assert files.read_text("ram://atomic/a/b.json") == '{"x": 1}'
    files.copy("ram://atomic/a/b.json", "ram://atomic/c.json")
    assert json.loads(files.read_text("ram://atomic/c.json")) == {"x": 1}
    assert sorted(files.listdir("ram://atomic/a")) == ["b.json"]  # no temp
    assert files.join("ram://atomic", "a", "b.json") == "ram://atomic/a/b.json"


def test_train_resume_and_evaluate_on_ram_filesystem(tmp_path, monkeypatch):
    from keras_fastfcn.evaluate import evaluate_model
    from keras_fastfcn.models.presets import from_preset
    from keras_fastfcn.models.presets import load_preset_metadata
    from keras_fastfcn.train import train

    monkeypatch.chdir(tmp_path)  # a local write would land here
    out = "ram://runs/tiny"
    first = train(TrainConfig(output_dir=out, epochs=2, **TINY))
    state = json.loads(files.read_text(f"{out}/checkpoints/state.json"))
    assert state["epoch"] == 2 and files.isfile(
        f"{out}/checkpoints/{state['last']}"
    )
    assert 0.0 <= first["mean_iou"] <= 1.0

    resumed = train(TrainConfig(output_dir=out, epochs=3, resume=True, **TINY))
    assert resumed["initial_epoch"] == 2
    state = json.loads(files.read_text(f"{out}/checkpoints/state.json"))
    assert state["epoch"] == 3 and [r["epoch"] for r in state["history"]] == [
        1,
        2,
        3,
    ]
    assert files.read_text(f"{out}/history.csv").count("\n") == 4
    names = set(files.listdir(f"{out}/checkpoints"))
    assert names == {"state.json", state["last"], state["best_file"]}
    assert files.isfile(f"{out}/evaluation/metrics.json")
    assert files.isfile(f"{out}/evaluation/confusion_matrix.png")
    assert files.isdir(f"{out}/logs")

    metadata = load_preset_metadata(f"{out}/preset")
    assert metadata.class_names[0] == "sky" and metadata.base_size == 36
    model = from_preset(f"{out}/preset")
    from keras_fastfcn.data import load_dataset

    results = evaluate_model(
        model,
        load_dataset("sample", split="val"),
        base_size=36,
        crop_size=32,
        max_images=2,
        output_dir=f"{out}/evaluation_again",
        num_visualizations=1,
        progress=False,
    )
    assert np.isfinite(results["mean_iou"])
    assert files.isfile(f"{out}/evaluation_again/metrics.json")
    assert list(tmp_path.iterdir()) == []  # nothing written locally
