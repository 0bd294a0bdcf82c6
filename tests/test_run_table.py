"""Finished runs side by side (`benchmarks/run_table.py` and
`examples/camvid/runs_table.py`): values read from the run folders, the
markdown table, GFLOPs of the saved preset, clear errors."""

import importlib.util
import json
from pathlib import Path

import keras
import pytest

import keras_fastfcn
from keras_fastfcn.benchmarks.flops import count_flops
from keras_fastfcn.benchmarks.run_table import format_run_table
from keras_fastfcn.benchmarks.run_table import preset_gflops
from keras_fastfcn.benchmarks.run_table import read_run
from keras_fastfcn.models.presets import PresetMetadata

NAMES = ["road", "pole", "sky"]
EXAMPLE = Path(__file__).parents[1] / "examples" / "camvid" / "runs_table.py"


def _run(folder: Path, seconds, images_per_second, pix, miou, iou):
    (folder / "eval_whole").mkdir(parents=True)
    (folder / "summary.json").write_text(
        json.dumps(
            dict(
                train_seconds=seconds,
                epochs=20,
                train_images_per_second=images_per_second,
                mean_iou=0.1,  # the in-training evaluation: not the row's
            )
        )
    )
    (folder / "eval_whole" / "metrics.json").write_text(
        json.dumps(
            dict(
                pixel_accuracy=pix,
                mean_iou=miou,
                iou=iou,
                class_names=NAMES,
            )
        )
    )
    return folder


def test_a_row_holds_the_runs_numbers_in_percent_and_minutes(tmp_path):
    folder = _run(tmp_path / "jpu", 750.0, 9.5, 0.8765, 0.5, [0.9, 0.05, 0.55])
    row = read_run(folder)
    assert row.label == "jpu"
    assert row.epochs == 20
    assert row.train_minutes == pytest.approx(12.5)
    assert row.images_per_second == 9.5
    assert row.pixel_accuracy == pytest.approx(87.65)
    assert row.mean_iou == pytest.approx(50.0)
    assert row.iou == pytest.approx({"road": 90.0, "pole": 5.0, "sky": 55.0})
    assert row.gflops is None


def test_the_table_bolds_the_best_run_and_keeps_the_chosen_classes(tmp_path):
    a = read_run(_run(tmp_path / "a", 600, 10, 0.8, 0.4, [0.9, 0.1, 0.2]), "A")
    b = read_run(_run(tmp_path / "b", 1800, 3, 0.9, 0.6, [0.8, 0.2, 0.8]), "B")
    b.gflops = 14.25
    lines = format_run_table([a, b], classes=["pole"]).splitlines()
    assert lines[0] == (
        "| run | epochs | train time | train img/s | GFLOPs | "
        "val pixAcc / mIoU | pole |"
    )
    assert lines[2] == "| A | 20 | 10.0 min | 10.00 |  | 80.00 / 40.00 | 10.0 |"
    assert lines[3] == (
        "| B | 20 | 30.0 min | 3.00 | 14.25 | **90.00 / 60.00** | 20.0 |"
    )
    with pytest.raises(ValueError, match="has no IoU for \\['tree'\\]"):
        format_run_table([a], classes=["tree"])


def test_an_unevaluated_run_says_how_to_evaluate_it(tmp_path):
    folder = _run(tmp_path / "r", 60, 1, 0.5, 0.5, [0.5] * 3)
    with pytest.raises(FileNotFoundError, match="fastfcn evaluate --preset"):
        read_run(folder, evaluation="elsewhere")
    with pytest.raises(FileNotFoundError, match="finished train.py run"):
        read_run(tmp_path)


def _tiny_preset(path):
    keras.utils.set_random_seed(0)
    model = keras_fastfcn.build_model(
        "fcn_jpu", "resnet18", 3, base_width=8, neck_width=16
    )
    metadata = PresetMetadata(
        class_names=NAMES,
        palette=[[0, 0, 0], [255, 0, 0], [0, 0, 255]],
        base_size=64,
        crop_size=64,
        dataset="toy",
    )
    keras_fastfcn.save_preset(model, path, metadata)
    return model


def test_gflops_are_the_presets_count_at_the_given_size(tmp_path):
    model = _tiny_preset(tmp_path / "preset")
    small = preset_gflops(str(tmp_path / "preset"), (64, 96))
    assert small == pytest.approx(count_flops(model, (1, 64, 96, 3)) / 1e9)
    # Convolutions grow with the pixels: 4x the pixels, about 4x the FLOPs.
    large = preset_gflops(str(tmp_path / "preset"), (128, 192))
    assert 3.5 < large / small < 4.5


def test_the_example_updates_a_readme_section(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("runs_table", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    folder = _run(tmp_path / "run", 120, 2, 0.7, 0.3, [0.4, 0.1, 0.4])
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- begin: t -->\nold\n<!-- end: t -->\nb\n")
    argv = [f"JPU={folder}", "--classes", "pole", "sky"]
    with pytest.raises(SystemExit) as exit_info:
        example.main([*argv, "--update-readme", str(readme)])
    assert exit_info.value.code == 2
    assert "go together" in capsys.readouterr().err

    assert (
        example.main([*argv, "--update-readme", str(readme), "--section", "t"])
        == 0
    )
    text = readme.read_text()
    assert text.startswith("a\n<!-- begin: t -->\n`python examples/camvid/")
    assert f"JPU={folder} --classes pole sky --update-readme" in text
    assert "| JPU | 20 | 2.0 min | 2.00 | 70.00 / 30.00 | 10.0 | 40.0 |" in text
    assert text.endswith("<!-- end: t -->\nb\n")

    with pytest.raises(SystemExit):
        example.main([str(tmp_path / "missing")])
    assert "summary.json does not exist" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        example.main([*argv, "--gflops-size", "0x480"])
    assert "--gflops-size: Cannot parse input size '0x480'" in (
        capsys.readouterr().err
    )
