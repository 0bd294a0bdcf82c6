"""Train a segmentation model with `model.fit` (TensorFlow backend).

The official FastFCN recipe: SGD (momentum 0.9, coupled weight decay 1e-4),
poly learning rate per iteration, neck and heads at 10x the backbone rate,
cross-entropy ignoring label 255 + 0.2 x auxiliary CE + 0.2 x SE loss,
augmentation by random scale / crop / flip / blur. Runs under the
strategy of `keras_fastfcn.distribute.make_strategy` (MirroredStrategy over
all GPUs or logical CPU devices, MultiWorkerMirroredStrategy from
``TF_CONFIG``, TPUStrategy, or Keras' DataParallel on JAX), writes
checkpoints every epoch (atomically), resumes after a crash with
`resume=True` (multi-worker jobs: from ``output_dir/backup``
automatically), logs to TensorBoard, and finishes with an evaluation of the
best checkpoint. `train.py` at the repository root is
the command-line front end.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from keras_fastfcn.config import TrainConfig


def _datasets(config: TrainConfig):
    from keras_fastfcn.data import load_dataset

    def load(split):
        return load_dataset(
            config.dataset,
            config.data_dir,
            split=split,
            data_format=config.data_format,
        )

    train_spec, val_spec = load("train"), load("val")
    return train_spec, val_spec


def build_and_compile(config: TrainConfig, num_classes: int, steps: int):
    """The model of `config`, compiled with its optimiser, losses, metrics."""
    import keras

    from keras_fastfcn.data.class_weights import training_class_weights
    from keras_fastfcn.losses import segmentation_losses
    from keras_fastfcn.metrics import segmentation_metrics
    from keras_fastfcn.models.registry import build_model
    from keras_fastfcn.schedules import PolyDecay
    from keras_fastfcn.schedules import build_optimizer

    model = build_model(
        config.model,
        config.backbone,
        num_classes,
        aux=config.aux,
        se_loss=config.se_loss,
        backbone_weights=config.backbone_weights,
        neck_width=config.neck_width,
        sync_batch_norm=config.sync_bn,
        dropout=config.dropout,
        base_width=config.base_width,
    )
    schedule = PolyDecay(
        config.lr,
        decay_steps=config.epochs * steps,
        warmup_steps=config.warmup_steps,
        warmup_ratio=config.warmup_ratio,
    )
    optimizer = build_optimizer(
        model,
        schedule,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        head_lr_multiplier=config.head_lr_multiplier,
    )
    loss, loss_weights = segmentation_losses(
        model,
        num_classes,
        aux_weight=config.aux_weight,
        se_weight=config.se_weight,
        class_weights=training_class_weights(config, num_classes),
        ohem_thresh=config.ohem_thresh,
        ohem_min_kept=config.ohem_min_kept,
    )
    metrics = segmentation_metrics(num_classes)
    if isinstance(model.output, dict):
        metrics = {"logits": metrics}
    model.compile(
        optimizer=optimizer,
        loss=loss,
        loss_weights=loss_weights,
        metrics=metrics,
    )
    keras.utils.set_random_seed(config.seed)
    return model


def _output_names(model) -> list[str] | None:
    return list(model.output) if isinstance(model.output, dict) else None


def _with_targets(dataset, names):
    if names is None:
        return dataset
    from keras_fastfcn.losses import replicate_targets

    return dataset.map(lambda x, y: (x, replicate_targets(y, names)))


def _visual_examples(val_spec, crop_size: int, count: int):
    """The first `count` validation crops: uint8, normalised, labels."""
    import numpy as np

    from keras_fastfcn.data import make_eval_dataset
    from keras_fastfcn.evaluate import denormalize

    normalized, labels = [], []
    dataset = make_eval_dataset(val_spec, crop_size=crop_size, mode="val")
    for image, label in dataset.take(count):
        normalized.append(image.numpy()[0])
        labels.append(label.numpy()[0])
    normalized = np.stack(normalized)
    images = np.stack([denormalize(x) for x in normalized])
    return images, normalized, np.stack(labels)


def train(config: TrainConfig) -> dict:
    """Run one training job; returns the final summary (also written to
    `output_dir/summary.json` by the chief)."""
    return train_model(config)[1]


def train_model(config: TrainConfig):
    """Run one training job; returns ``(trained model, summary)``.

    Under a multi-worker strategy every worker calls this; only the chief
    writes into ``output_dir`` (the others write to a temporary folder that
    is deleted at the end) and evaluates the best checkpoint. A job whose
    workers were restarted continues from ``output_dir/backup``.
    """
    import shutil
    import tempfile

    import keras

    from keras_fastfcn.callbacks import read_state
    from keras_fastfcn.distribute import make_strategy
    from keras_fastfcn.distribute import worker_role

    config = config.resolved()
    # before any other TF op
    strategy = make_strategy(config.devices, config.strategy, config.tpu)
    role = worker_role(strategy)
    shared_output = Path(config.output_dir)
    if role.is_chief:
        output = shared_output
    else:
        output = Path(tempfile.mkdtemp(prefix=f"keras_fastfcn-{role.name}-"))
        print(f"{role.name}: writing to the temporary folder {output}")
    try:
        output.mkdir(parents=True, exist_ok=True)
        if config.mixed_precision:
            keras.mixed_precision.set_global_policy(config.mixed_precision)
        keras.utils.set_random_seed(config.seed)
        state = None
        if config.resume and role.num_workers > 1:
            print(
                "--resume: a multi-worker job resumes from "
                f"{shared_output / 'backup'} by itself; ignored"
            )
        elif config.resume:
            state = read_state(output / "checkpoints")
        return _fit(config, strategy, role, output, shared_output, state)
    finally:
        if not role.is_chief:
            shutil.rmtree(output, ignore_errors=True)


def _fit(config, strategy, role, output, shared_output, state):
    import contextlib
    import shutil

    import keras
    import tensorflow as tf

    from keras_fastfcn.callbacks import BEST
    from keras_fastfcn.callbacks import LAST
    from keras_fastfcn.callbacks import EpochBackup
    from keras_fastfcn.callbacks import EpochCheckpoint
    from keras_fastfcn.callbacks import LearningRateLogger
    from keras_fastfcn.callbacks import PredictionImages
    from keras_fastfcn.callbacks import read_backup
    from keras_fastfcn.callbacks import restore_backup
    from keras_fastfcn.data import make_eval_dataset
    from keras_fastfcn.data import make_train_dataset
    from keras_fastfcn.data.pipeline import pad_batches
    from keras_fastfcn.distribute import patch_multi_worker_model
    from keras_fastfcn.distribute import replicas
    from keras_fastfcn.distribute import set_sharding_policy
    from keras_fastfcn.distribute import worker_shard
    from keras_fastfcn.evaluate import evaluate_model
    from keras_fastfcn.evaluate import format_results
    from keras_fastfcn.utils.files import atomic_write_text

    checkpoints = output / "checkpoints"
    train_spec, val_spec = _datasets(config)
    num_classes = config.num_classes or train_spec.num_classes
    steps = config.steps_per_epoch or len(train_spec.pairs) // config.batch_size
    if steps < 1:
        raise ValueError(
            f"{len(train_spec.pairs)} training images give no full batch of "
            f"{config.batch_size}; lower --batch-size or set --steps-per-epoch."
        )
    if config.resume and state is None:
        print(f"no checkpoint in {checkpoints}: starting from scratch")
    multi_worker = role.num_workers > 1
    backup_dir = shared_output / "backup"
    backed_up = read_backup(backup_dir) if multi_worker else None
    initial_epoch = state["epoch"] if state else (backed_up or 0)
    atomic_write_text(
        output / "config.json", json.dumps(config.to_dict(), indent=2)
    )

    no_strategy = contextlib.nullcontext()
    with strategy.scope() if strategy is not None else no_strategy:
        if state:
            model = keras.models.load_model(checkpoints / LAST)
            print(
                f"resumed from {checkpoints / LAST} after epoch {initial_epoch}"
            )
        else:
            model = build_and_compile(config, num_classes, steps)
            if backed_up is not None:
                restore_backup(model, backup_dir)
                print(
                    f"{role.name}: restored the backup in {backup_dir} after "
                    f"epoch {initial_epoch}"
                )
    patch_multi_worker_model(model, strategy)
    names = _output_names(model)
    monitor = "val_" + ("logits_" if names else "") + "mean_iou"

    shard = worker_shard(len(train_spec.records), role)
    # examples this worker's input stream has already produced: with its
    # own shards a worker consumes batch_size / workers per step
    consumed = initial_epoch * steps * config.batch_size
    if shard is not None:
        consumed //= role.num_workers
    train_data = make_train_dataset(
        train_spec,
        config.batch_size,
        crop_size=config.crop_size,
        base_size=config.base_size,
        seed=config.seed,
        blur=config.blur,
        jitter=config.jitter,
        cache=config.cache,
        start_example=consumed,
        shard=shard,
    )
    val_data = make_eval_dataset(
        val_spec,
        crop_size=config.crop_size,
        mode="val",
        batch_size=config.batch_size,
    )
    num_replicas = replicas(strategy)
    if strategy is None and num_replicas > 1:  # Keras DataParallel
        val_data = pad_batches(val_data, num_replicas, val_spec.ignore_label)
    policy = tf.data.experimental.AutoShardPolicy
    train_data = set_sharding_policy(
        train_data, policy.DATA if shard is None else policy.OFF
    )
    val_data = set_sharding_policy(val_data, policy.DATA)
    logs = output / "logs"
    callbacks = [
        LearningRateLogger(),
        EpochCheckpoint(
            checkpoints, monitor, best=state.get("best") if state else None
        ),
        keras.callbacks.CSVLogger(
            str(output / "history.csv"), append=bool(state or backed_up)
        ),
        keras.callbacks.TensorBoard(str(logs)),
    ]
    if multi_worker:
        callbacks.append(
            EpochBackup(backup_dir if role.is_chief else output / "backup")
        )
    if config.num_visualizations:
        callbacks.append(
            PredictionImages(
                logs,
                *_visual_examples(
                    val_spec, config.crop_size, config.num_visualizations
                ),
                palette=val_spec.palette,
            )
        )
    start = time.time()
    if initial_epoch < config.epochs:
        model.fit(
            _with_targets(train_data, names),
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            validation_data=_with_targets(val_data, names),
            validation_steps=config.val_steps,
            validation_freq=config.val_every,
            callbacks=callbacks,
        )
    train_seconds = time.time() - start
    summary = {
        "train_seconds": train_seconds,
        "initial_epoch": initial_epoch,
        "epochs": config.epochs,
        "steps_per_epoch": steps,
        "replicas": num_replicas,
        "workers": role.num_workers,
        "train_images_per_second": (config.epochs - initial_epoch)
        * steps
        * config.batch_size
        / max(train_seconds, 1e-9),
    }
    if not role.is_chief:
        return model, summary
    if multi_worker:
        shutil.rmtree(backup_dir, ignore_errors=True)  # the job is complete

    best_path = checkpoints / (BEST if (checkpoints / BEST).is_file() else LAST)
    best = keras.models.load_model(best_path, compile=False)
    results = evaluate_model(
        best,
        val_spec,
        multi_scale=config.eval_multi_scale,
        flip=config.eval_multi_scale,
        base_size=config.base_size,
        crop_size=config.crop_size,
        output_dir=output / "evaluation",
        num_visualizations=config.num_visualizations,
    )
    summary.update(
        checkpoint=str(best_path),
        pixel_accuracy=results["pixel_accuracy"],
        mean_iou=results["mean_iou"],
    )
    atomic_write_text(output / "summary.json", json.dumps(summary, indent=2))
    print(format_results(results))
    print(
        f"\ntrained {config.model} ({config.backbone}) on {config.dataset} "
        f"in {train_seconds / 60:.1f} min\n"
        f"  best checkpoint:   {best_path}\n"
        f"  TensorBoard logs:  {logs}   (tensorboard --logdir {logs})\n"
        f"  overlays, metrics: {output / 'evaluation'}\n"
        f"  summary:           {output / 'summary.json'}"
    )
    return model, summary


def main(argv=None, default_configs: str | os.PathLike | None = None) -> dict:
    """Command line: `python train.py --dataset sample [--flags]`.

    Without `--config`, `default_configs/<dataset>.yaml` is used when it
    exists.
    """
    import argparse

    from keras_fastfcn.config import add_config_arguments
    from keras_fastfcn.config import config_from_args
    from keras_fastfcn.utils.runtime import configure_tensorflow_runtime

    configure_tensorflow_runtime()
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train a FastFCN-family segmentation model.",
    )
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    default = None
    if args.config is None and default_configs and args.dataset:
        candidate = Path(default_configs) / f"{args.dataset}.yaml"
        default = candidate if candidate.is_file() else None
    config = config_from_args(args, default)
    return train(config)
