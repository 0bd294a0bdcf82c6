import argparse

import pytest

from keras_fastfcn.config import TrainConfig
from keras_fastfcn.config import add_config_arguments
from keras_fastfcn.config import config_from_args
from keras_fastfcn.config import load_config_file


def _parse(argv, default=None):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return config_from_args(parser.parse_args(argv), default)


def test_official_defaults_are_derived_from_the_dataset():
    config = TrainConfig(dataset="ade20k").resolved()
    assert (config.epochs, config.lr, config.se_loss) == (120, 0.01, True)
    config = TrainConfig(dataset="pascal_context", batch_size=8).resolved()
    assert config.epochs == 80
    assert config.lr == pytest.approx(0.001 / 16 * 8)
    assert TrainConfig(model="psp_jpu").resolved().se_loss is False


def test_cli_overrides_yaml_overrides_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("dataset: camvid\nbatch_size: 4\nlr: 0.05\naux: false\n")
    config = _parse(["--batch-size", "2", "--resume"], default=path)
    assert config.dataset == "camvid"
    assert config.batch_size == 2  # CLI wins
    assert config.lr == 0.05  # YAML wins over the derived default
    assert config.aux is False and config.resume is True
    config = _parse(["--config", str(path), "--aux", "true", "--seed", "7"])
    assert config.aux is True and config.seed == 7


def test_unknown_yaml_keys_are_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("batchsize: 4\n")
    with pytest.raises(
        ValueError, match=r"unknown config keys \['batchsize'\]"
    ):
        load_config_file(path)


def test_missing_config_file_and_bad_values():
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config_file("nope.yaml")
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        TrainConfig(mixed_precision="fp8").resolved()
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        TrainConfig(batch_size=0).resolved()


def test_every_shipped_config_loads():
    from pathlib import Path

    configs = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        TrainConfig(**load_config_file(path)).resolved()
