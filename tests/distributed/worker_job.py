"""One training process of a distributed test (run as a script).

    python worker_job.py CONFIG_JSON WEIGHTS_NPZ

``TF_CONFIG`` names the cluster and this worker (when there is one);
``KERAS_BACKEND`` defaults to tensorflow. Trains with
`keras_fastfcn.train.train_model`, saves every final variable of the model
to ``WEIGHTS_NPZ`` and prints the summary as the last line (JSON).
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_fastfcn.config import TrainConfig  # noqa: E402
from keras_fastfcn.train import train_model  # noqa: E402


def main(config_path: str, weights_path: str) -> None:
    keras.config.disable_traceback_filtering()
    with open(config_path) as handle:
        config = TrainConfig(**json.load(handle))
    model, summary = train_model(config)
    arrays = {v.path: np.asarray(v.numpy()) for v in model.variables}
    np.savez(weights_path, **arrays)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
