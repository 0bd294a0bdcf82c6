import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def sample_records(tmp_path_factory):
    """The bundled sample as TFRecords: 4 shards per split (train, val)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TFRecords are read with tf.data")
    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.data.tfrecord import write_tfrecords

    folder = tmp_path_factory.mktemp("sample_records")
    for split in ("train", "val"):
        spec = load_dataset("sample", split=split)
        write_tfrecords(spec, str(folder), num_shards=4, progress=False)
    return folder
