"""The bundled sample and a smoke test on the real CamVid set (skipped when
../shared is absent)."""

import importlib.resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_fastfcn.data import SAMPLE_DIR
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data import make_eval_dataset
from keras_fastfcn.data import make_train_dataset
from keras_fastfcn.data import validate_dataset

CAMVID_DIR = Path(__file__).resolve().parents[2] / ".." / "shared/data/camvid"


def test_sample_is_found_through_the_package():
    package = importlib.resources.files("keras_fastfcn.data")
    assert package.joinpath("sample", "train.txt").is_file()
    assert Path(str(package.joinpath("sample"))).resolve() == SAMPLE_DIR
    readme = (SAMPLE_DIR / "README.md").read_text()
    assert "Brostow" in readme and "SegNet" in readme
    size = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert size < 3_000_000


def test_sample_splits_load_and_are_clean():
    train = load_dataset("sample")
    val = load_dataset("sample", split="val")
    assert (len(train), len(val)) == (20, 5)
    assert train.num_classes == 11 and train.class_names[0] == "sky"
    for image, label in train.pairs + val.pairs:
        assert Path(image).parent.parent == SAMPLE_DIR
        assert image.endswith(".jpg") and label.endswith(".png")
    assert validate_dataset(train, progress=False) == []
    assert validate_dataset(val, progress=False) == []
    with pytest.raises(ValueError, match="do not pass data_dir"):
        load_dataset("sample", "/somewhere")


def test_sample_covers_every_class():
    for split in ("train", "val"):
        present = set()
        for _, label in load_dataset("sample", split=split).pairs:
            present |= set(np.unique(np.asarray(Image.open(label))).tolist())
        assert present == set(range(12)), split  # 11 classes + void


def test_sample_eval_batch():
    val = load_dataset("sample", split="val")
    images, labels = next(iter(make_eval_dataset(val, mode="full")))
    assert images.shape == (1, 360, 480, 3) and labels.shape == (1, 360, 480)
    values = set(np.unique(labels.numpy()).tolist())
    assert values <= set(range(11)) | {255} and 255 in values


def test_real_camvid_smoke():
    if not (CAMVID_DIR / "train.txt").is_file():
        pytest.skip(f"CamVid not found at {CAMVID_DIR}")
    train = load_dataset("camvid", CAMVID_DIR, "train")
    val = load_dataset("camvid", CAMVID_DIR, "val")
    assert (len(train), len(val)) == (367, 101)
    assert validate_dataset(train, max_files=4, progress=False) == []
    dataset = make_train_dataset(train, 2, crop_size=352, base_size=360)
    images, labels = next(iter(dataset))
    assert images.shape == (2, 352, 352, 3) and labels.shape == (2, 352, 352)
    assert set(np.unique(labels.numpy()).tolist()) <= set(range(11)) | {255}


def test_benchmark_cli_on_the_sample(capsys):
    from keras_fastfcn.benchmarks import input_pipeline as benchmark

    args = "--crop-size 32 --base-size 32 --batch-size 2 --num-batches 2"
    assert benchmark.main(args.split() + ["--warmup-batches", "1"]) == 0
    out = capsys.readouterr().out
    assert "name='sample'" in out and "images/s (4 images in 2 batches" in out
