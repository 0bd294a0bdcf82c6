"""Config keys of the issue-#20 recipe: defaults, validation, wiring."""

import argparse

import pytest

from keras_fastfcn.config import TrainConfig
from keras_fastfcn.config import add_config_arguments
from keras_fastfcn.config import config_from_args


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return config_from_args(parser.parse_args(argv))


def test_defaults_keep_the_official_recipe():
    config = TrainConfig().resolved()
    assert config.class_weights is None
    assert config.ohem_thresh is None
    assert config.warmup_steps == 0


def test_yaml_and_cli_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "class_weights: [1, 2.5, 0]\nohem_thresh: 0.7\nohem_min_kept: 5000\n"
        "warmup_steps: 100\nwarmup_ratio: 0.2\n"
    )
    config = _parse(["--config", str(path)])
    assert config.class_weights == [1.0, 2.5, 0.0]
    assert (config.ohem_thresh, config.ohem_min_kept) == (0.7, 5000)
    assert (config.warmup_steps, config.warmup_ratio) == (100, 0.2)
    config = _parse(
        ["--class-weights", "median_frequency", "--ohem-thresh", "null"]
    )
    assert config.class_weights == "median_frequency"
    assert config.ohem_thresh is None
    assert _parse(["--class-weights", "[0.5, 2]"]).class_weights == [0.5, 2.0]


def test_null_on_the_command_line_switches_off_what_the_yaml_sets(tmp_path):
    # The ablation of the CamVid recipe: options of a config switched off
    # one at a time from the command line.
    path = tmp_path / "c.yaml"
    path.write_text(
        "class_weights: enet\nohem_thresh: 0.7\nwarmup_steps: 46\n"
        "backbone_weights: imagenet\n"
    )
    config = _parse(
        [
            "--config",
            str(path),
            "--class-weights",
            "null",
            "--ohem-thresh",
            "none",
        ]
    )
    assert config.class_weights is None
    assert config.ohem_thresh is None
    assert config.warmup_steps == 46
    assert (
        _parse(
            ["--config", str(path), "--backbone-weights", "none"]
        ).backbone_weights
        is None
    )
    kept = _parse(["--config", str(path), "--warmup-steps", "0"])
    assert (kept.class_weights, kept.ohem_thresh) == ("enet", 0.7)
    assert kept.warmup_steps == 0


def test_copy_paste_classes_from_yaml_and_cli(tmp_path):
    assert TrainConfig().resolved().copy_paste_classes is None
    path = tmp_path / "c.yaml"
    path.write_text(
        "copy_paste_classes: [pole, 6]\ncopy_paste_probability: 1\n"
    )
    config = _parse(["--config", str(path)])
    assert (config.copy_paste_classes, config.copy_paste_probability) == (
        ["pole", 6],
        1.0,
    )
    cli = ["--copy-paste-classes", "pole,signsymbol"]
    assert _parse(cli).copy_paste_classes == ["pole", "signsymbol"]
    cli = ["--copy-paste-classes", "[pole]"]
    assert _parse(cli).copy_paste_classes == ["pole"]
    off = ["--config", str(path), "--copy-paste-classes", "null"]
    assert _parse(off).copy_paste_classes is None


def test_unknown_copy_paste_class_fails_before_the_run_folder(tmp_path):
    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.train import copy_paste_ids
    from keras_fastfcn.utils.cli import UserError

    spec = load_dataset("sample", None, "train")
    config = TrainConfig(copy_paste_classes=["pole", "lamp"]).resolved()
    with pytest.raises(UserError, match="unknown class 'lamp'"):
        copy_paste_ids(config, spec)
    config = TrainConfig(copy_paste_classes=["pole", "signsymbol"]).resolved()
    assert copy_paste_ids(config, spec) == [2, 6]


@pytest.mark.parametrize(
    "values, message",
    [
        ({"class_weights": "inverse"}, "class_weights must be null, 'enet'"),
        ({"class_weights": [1.0, -1.0]}, "class_weights must be null"),
        ({"class_weights": []}, "class_weights must be null"),
        ({"class_weights": "1, 2"}, "class_weights must be null"),
        ({"ohem_thresh": 0.0}, r"ohem_thresh must be null \(OHEM off\)"),
        ({"ohem_thresh": 1.2}, "ohem_thresh must be null"),
        ({"ohem_min_kept": 0}, "ohem_min_kept must be an int >= 1"),
        ({"warmup_steps": -1}, "warmup_steps must be an int >= 0"),
        ({"warmup_ratio": 1.5}, r"warmup_ratio must be in \[0, 1\]"),
        ({"decoder_width": -1}, "decoder_width must be an int >= 0"),
        ({"copy_paste_classes": 3}, "copy_paste_classes must be null or a"),
        ({"copy_paste_classes": [True]}, "copy_paste_classes must be null"),
        ({"copy_paste_probability": -0.1}, r"copy_paste_probability must be"),
    ],
)
def test_bad_values_name_the_key_and_allowed_values(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**values).resolved()


def test_build_and_compile_wires_the_recipe(tmp_path):
    import keras

    from keras_fastfcn.data.class_weights import CACHE_NAME
    from keras_fastfcn.train import build_and_compile

    config = TrainConfig(
        dataset="sample",
        model="fcn_jpu",
        backbone="resnet18",
        base_width=8,
        neck_width=16,
        aux=True,
        lr=0.01,
        epochs=2,
        class_weights="median_frequency",
        ohem_thresh=0.7,
        ohem_min_kept=1000,
        warmup_steps=4,
        warmup_ratio=0.25,
        decoder_width=8,
        output_dir=str(tmp_path),
    ).resolved()
    model = build_and_compile(config, num_classes=11, steps=10)
    assert model.decoder_width == 8
    assert model.get_layer("decoder").width == 8
    assert (tmp_path / CACHE_NAME).is_file()
    main, aux = model.loss["logits"], model.loss["aux_logits"]
    assert len(main.class_weights) == 11
    assert aux.class_weights == main.class_weights
    assert (main.ohem_thresh, main.ohem_min_kept) == (0.7, 1000)
    assert aux.ohem_thresh is None
    schedule = model.optimizer._learning_rate
    assert (schedule.warmup_steps, schedule.warmup_ratio) == (4, 0.25)
    assert schedule.decay_steps == 20
    # step 2: 0.01 * (1 - 2/20) ** 0.9 * (1 - 0.75 * 0.5)
    assert float(keras.ops.convert_to_numpy(schedule(2))) == pytest.approx(
        0.01 * 0.9**0.9 * 0.625, rel=1e-6
    )
