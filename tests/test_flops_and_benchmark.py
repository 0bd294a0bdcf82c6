import json

import keras
import numpy as np
import pytest

from keras_fastfcn.layers import ResizeLike

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow FLOP counter"
)


def test_conv_flops_are_two_per_multiply_add():
    from keras_fastfcn.flops import count_flops

    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    flops = count_flops(keras.Model(inputs, outputs), (1, 8, 8, 3))
    assert flops == 2 * 8 * 8 * 3 * 3 * 3 * 4


def test_einsum_resize_flops_are_counted():
    from keras_fastfcn.flops import count_flops

    inputs = keras.Input((4, 4, 1))
    reference = keras.layers.UpSampling2D(2)(inputs)
    model = keras.Model(inputs, ResizeLike()([inputs, reference]))
    # rows: 2*8*4*4, columns: 2*8*8*4 multiply-adds of the two matmuls
    assert count_flops(model, (1, 4, 4, 1)) >= 256 + 512


def test_benchmark_cli_writes_table_and_json(tmp_path, capsys):
    from keras_fastfcn import benchmark

    path = tmp_path / "bench.json"
    rows = benchmark.main(
        [
            "--models",
            "fcn,fcn_jpu",
            "--backbone",
            "resnet18",
            "--num-classes",
            "3",
            "--size",
            "64",
            "--runs",
            "2",
            "--warmup",
            "1",
            "--json",
            str(path),
        ]
    )
    saved = json.loads(path.read_text())
    assert [r["model"] for r in saved] == ["fcn", "fcn_jpu"]
    for row in saved:
        assert len(row["latency_s"]) == 2
        assert row["gflops_per_image"] > 0
        assert row["median_s"] == pytest.approx(np.median(row["latency_s"]))
    import keras_fastfcn

    model = keras_fastfcn.build_model("fcn_jpu", "resnet18", 3)
    expected = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert rows[1]["params"] == expected
    out = capsys.readouterr().out
    assert "fcn_jpu vs fcn:" in out and "FLOP ratio" in out
