"""Input-pipeline throughput, without a model.

    fastfcn benchmark-input --dataset camvid \\
        --data-dir ../shared/data/camvid --crop-size 352 --base-size 360
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from keras_fastfcn.cli.data_options import add_folder_arguments
from keras_fastfcn.cli.data_options import dataset_argument
from keras_fastfcn.cli.data_options import folder_options
from keras_fastfcn.utils.cli import HelpFormatter


@dataclasses.dataclass(frozen=True)
class PipelineSpeed:
    """Measured throughput of a batched dataset."""

    batches: int
    images: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds

    def __str__(self) -> str:
        return (
            f"{self.images_per_second:.1f} images/s ({self.images} images in "
            f"{self.batches} batches, {self.seconds:.2f} s)"
        )


def measure_throughput(
    dataset,
    num_batches: int = 50,
    warmup_batches: int = 5,
    progress: bool = True,
) -> PipelineSpeed:
    """Iterates a batched dataset and times it.

    Args:
        dataset: Yields tuples whose first element is batched
            ``(batch, ...)``.
        num_batches: Batches timed (after the warm-up).
        warmup_batches: Batches consumed before timing starts (fills the
            prefetch buffers and traces the functions).
        progress: Show a tqdm progress bar.

    Returns:
        The measured `PipelineSpeed`.
    """
    iterator = iter(dataset)
    for _ in range(warmup_batches):
        next(iterator)
    images = 0
    start = time.perf_counter()
    import tensorflow as tf
    from tqdm import tqdm

    for _ in tqdm(range(num_batches), unit="batch", disable=not progress):
        batch = next(iterator)
        images += int(tf.shape(batch[0])[0])
    seconds = time.perf_counter() - start
    return PipelineSpeed(num_batches, images, seconds)


def main(argv: list[str] | None = None) -> int:
    """CLI: prints the training pipeline's images/s."""
    parser = argparse.ArgumentParser(
        prog="fastfcn benchmark-input",
        description=__doc__.splitlines()[0],
        formatter_class=HelpFormatter,
    )
    add = parser.add_argument
    add("--dataset", default="sample", type=dataset_argument, help="dataset")
    add("--data-dir", type=Path, default=None, help="dataset folder")
    add("--split", default="train", help="split to read")
    add("--batch-size", type=int, default=8, help="images per batch")
    add("--crop-size", type=int, default=480, help="training crop, pixels")
    add("--base-size", type=int, default=520, help="short side, pixels")
    add("--num-batches", type=int, default=50, help="timed batches")
    add("--warmup-batches", type=int, default=5, help="untimed batches first")
    add("--no-blur", action="store_true", help="no Gaussian blur")
    add("--jitter", action="store_true", help="colour jitter")
    add("--cache", action="store_true", help="cache decoded images")
    add_folder_arguments(parser)
    args = parser.parse_args(argv)
    from keras_fastfcn.data.datasets import load_dataset
    from keras_fastfcn.data.pipeline import make_train_dataset

    kwargs = folder_options(args)
    spec = load_dataset(args.dataset, args.data_dir, args.split, **kwargs)
    dataset = make_train_dataset(
        spec,
        args.batch_size,
        crop_size=args.crop_size,
        base_size=args.base_size,
        blur=not args.no_blur,
        jitter=args.jitter,
        cache=args.cache,
    )
    speed = measure_throughput(dataset, args.num_batches, args.warmup_batches)
    print(
        f"{spec!r}: batch {args.batch_size}, crop {args.crop_size}, base "
        f"{args.base_size}: {speed}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
