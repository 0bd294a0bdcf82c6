"""Segmentation datasets and tf.data input pipelines.

    spec = load_dataset("ade20k", "/data", split="train")
    train = make_train_dataset(spec, batch_size=16)  # (images, labels)
    val = make_eval_dataset(load_dataset("ade20k", "/data", "val"))
    pets = load_dataset("tfds:oxford_iiit_pet")  # TFDS builder (tfds_source)

`DatasetSpec` carries ``num_classes``, ``class_names``, ``palette``,
``ignore_label`` (255) and the file pairs; `get_dataset_spec(name)` gives
the same without files; `validate_dataset` lists every bad file before
training.
"""

from keras_fastfcn.data.augment import IMAGENET_MEAN
from keras_fastfcn.data.augment import IMAGENET_STD
from keras_fastfcn.data.augment import normalize
from keras_fastfcn.data.datasets import SAMPLE_DIR
from keras_fastfcn.data.datasets import get_dataset_spec
from keras_fastfcn.data.datasets import list_datasets
from keras_fastfcn.data.datasets import load_dataset
from keras_fastfcn.data.palettes import colorize
from keras_fastfcn.data.pipeline import make_eval_dataset
from keras_fastfcn.data.pipeline import make_train_dataset
from keras_fastfcn.data.spec import DatasetSpec
from keras_fastfcn.data.validation import FileProblem
from keras_fastfcn.data.validation import check_dataset
from keras_fastfcn.data.validation import validate_dataset

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SAMPLE_DIR",
    "DatasetSpec",
    "FileProblem",
    "check_dataset",
    "colorize",
    "get_dataset_spec",
    "list_datasets",
    "load_dataset",
    "make_eval_dataset",
    "make_train_dataset",
    "normalize",
    "validate_dataset",
]
