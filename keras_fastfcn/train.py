"""Train a segmentation model with `model.fit` (TensorFlow backend).

The official FastFCN recipe: SGD (momentum 0.9, coupled weight decay 1e-4),
poly learning rate per iteration, neck and heads at 10x the backbone rate,
cross-entropy ignoring label 255 + 0.2 x auxiliary CE + 0.2 x SE loss,
augmentation by random scale / crop / flip / blur. Runs under the
strategy of `keras_fastfcn.distribute.make_strategy` (MirroredStrategy over
all GPUs or logical CPU devices, MultiWorkerMirroredStrategy from
``TF_CONFIG``, TPUStrategy, or Keras' DataParallel on JAX).

A run is a sequence of named steps, each a function below: `prepare_run`
(checks, data, resume point; nothing is written before they pass),
`build_or_restore_model`, `make_datasets`, `make_callbacks`, `fit` and
`final_report` (evaluation of the best checkpoint, saved as the preset
`output_dir/preset/`; a failure there keeps the run). The run folder
(`keras_fastfcn/run_folder.py`) commits every epoch atomically, so
`resume=True` continues exactly after a crash.
`keras_fastfcn/cli/train.py` is the command line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import tempfile
import time
import traceback
import zipfile

import keras
import numpy as np
import tensorflow as tf

from keras_fastfcn.callbacks import EpochBackup
from keras_fastfcn.callbacks import EpochCheckpoint
from keras_fastfcn.callbacks import EpochLine
from keras_fastfcn.callbacks import LearningRateLogger
from keras_fastfcn.callbacks import PredictionImages
from keras_fastfcn.callbacks import read_backup
from keras_fastfcn.callbacks import restore_backup
from keras_fastfcn.config import TrainConfig
from keras_fastfcn.config import resolve_class_ids
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data import make_eval_dataset
from keras_fastfcn.data import make_train_dataset
from keras_fastfcn.data.class_weights import training_class_weights
from keras_fastfcn.data.pipeline import pad_batches
from keras_fastfcn.data.spec import DatasetSpec
from keras_fastfcn.data.validation import check_dataset
from keras_fastfcn.distribute import WorkerRole
from keras_fastfcn.distribute import make_strategy
from keras_fastfcn.distribute import patch_multi_worker_model
from keras_fastfcn.distribute import replicas
from keras_fastfcn.distribute import set_sharding_policy
from keras_fastfcn.distribute import worker_role
from keras_fastfcn.distribute import worker_shard
from keras_fastfcn.evaluate import denormalize
from keras_fastfcn.evaluate import evaluate_model
from keras_fastfcn.evaluate import format_results
from keras_fastfcn.losses import replicate_targets
from keras_fastfcn.losses import segmentation_losses
from keras_fastfcn.metrics import segmentation_metrics
from keras_fastfcn.models.presets import PresetMetadata
from keras_fastfcn.models.presets import save_preset
from keras_fastfcn.models.registry import build_model
from keras_fastfcn.run_folder import RunFolder
from keras_fastfcn.schedules import PolyDecay
from keras_fastfcn.schedules import build_optimizer
from keras_fastfcn.utils import files
from keras_fastfcn.utils.cli import UserError
from keras_fastfcn.utils.files import atomic_write_text

# `validate_data: auto` checks every pair of splits up to this size and a
# sample of this many pairs of larger ones.
FULL_VALIDATION_LIMIT = 2000


@dataclasses.dataclass
class TrainingRun:
    """What the steps of one run share.

    Attributes:
        config: the resolved configuration.
        strategy: the `tf.distribute` strategy, or `None` (Keras
            DataParallel on JAX).
        role: this process's part in a multi-worker job.
        folder: where this worker writes (the chief: `output_dir`).
        shared_output: `output_dir` (multi-worker backups live there).
        train_spec, val_spec: the data splits.
        num_classes: classes of the model.
        steps: training steps per epoch.
        initial_epoch: epochs already done (resume / backup).
        manifest: the committed state resumed from, or `None`.
        backed_up: epochs of a multi-worker backup, or `None`.
    """

    config: TrainConfig
    strategy: object
    role: WorkerRole
    folder: RunFolder
    shared_output: str
    train_spec: DatasetSpec
    val_spec: DatasetSpec
    num_classes: int
    steps: int
    initial_epoch: int = 0
    manifest: dict | None = None
    backed_up: int | None = None

    @property
    def multi_worker(self) -> bool:
        return self.role.num_workers > 1

    @property
    def backup_dir(self) -> str:
        return files.join(self.shared_output, "backup")


def build_and_compile(config: TrainConfig, num_classes: int, steps: int):
    """The model of `config`, compiled with its optimiser, losses, metrics."""
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
        decoder_width=config.decoder_width,
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
    return dataset.map(lambda x, y: (x, replicate_targets(y, names)))


def _visual_examples(val_spec, crop_size: int, count: int):
    """The first `count` validation crops: uint8, normalised, labels."""
    normalized, labels = [], []
    dataset = make_eval_dataset(val_spec, crop_size=crop_size, mode="val")
    for image, label in dataset.take(count):
        normalized.append(image.numpy()[0])
        labels.append(label.numpy()[0])
    normalized = np.stack(normalized)
    images = np.stack([denormalize(x) for x in normalized])
    return images, normalized, np.stack(labels)


# === The steps ===


def validate_splits(config: TrainConfig, specs: list[DatasetSpec]) -> None:
    """`config.validate_data`: check the splits' files before the model is
    built, reporting every problem at once (`UserError`)."""
    if config.validate_data == "off":
        return
    for spec in specs:
        limit = None
        if config.validate_data == "sample" or (
            config.validate_data == "auto" and len(spec) > FULL_VALIDATION_LIMIT
        ):
            limit = FULL_VALIDATION_LIMIT
        try:
            check_dataset(spec, limit, progress=len(spec) > 50)
        except ValueError as error:
            raise UserError(
                f"{error}\nFix or remove these files, or skip the check with "
                "--validate-data off."
            ) from None


def prepare_run(
    config: TrainConfig,
    strategy,
    role: WorkerRole,
    output: str,
    shared_output: str,
) -> TrainingRun:
    """Check everything that can be checked before training and find the
    resume point. Nothing is written until every check has passed; then
    the run folder is cleared (`--overwrite`) or cleaned of interrupted
    writes, and `config.json` is written."""
    folder = RunFolder(output)
    backed_up = None
    if role.num_workers > 1:  # a restarted job continues from its backup
        backed_up = read_backup(files.join(shared_output, "backup"))
    if role.is_chief:
        folder.check_can_start(
            config.resume or backed_up is not None, config.overwrite
        )
    train_spec = load_dataset(
        config.dataset, config.data_dir, "train", data_format=config.data_format
    )
    val_spec = load_dataset(
        config.dataset, config.data_dir, "val", data_format=config.data_format
    )
    num_classes = config.num_classes or train_spec.num_classes
    steps = config.steps_per_epoch or len(train_spec.pairs) // config.batch_size
    if steps < 1:
        raise UserError(
            f"{len(train_spec.pairs)} training images give no full batch of "
            f"{config.batch_size}; lower --batch-size or set "
            "--steps-per-epoch."
        )
    manifest = None
    if config.resume and role.num_workers > 1:
        print(
            "--resume: a multi-worker job resumes from "
            f"{files.join(shared_output, 'backup')} by itself; ignored"
        )
    elif config.resume and not config.overwrite:
        manifest = folder.read_manifest()
        if manifest is None:
            print(
                f"no checkpoint in {folder.checkpoints}: starting from scratch"
            )
        else:
            _check_same_schedule(manifest, config, steps, folder)
            _check_readable(folder.last_checkpoint())
    copy_paste_ids(config, train_spec)
    if role.is_chief:
        validate_splits(config, [train_spec, val_spec])
    run = TrainingRun(
        config,
        strategy,
        role,
        folder,
        shared_output,
        train_spec,
        val_spec,
        num_classes,
        steps,
        manifest=manifest,
    )
    run.backed_up = backed_up
    run.initial_epoch = manifest["epoch"] if manifest else (run.backed_up or 0)
    # All checks passed: from here on, the folder is written.
    if config.overwrite and role.is_chief:
        folder.clear()
    removed = folder.remove_leftovers()
    if removed:
        print(f"removed unfinished files of an interrupted run: {removed}")
    files.makedirs(output)
    atomic_write_text(
        folder.path("config.json"), json.dumps(config.to_dict(), indent=2)
    )
    return run


def copy_paste_ids(config: TrainConfig, spec) -> list[int] | None:
    """Train ids of `config.copy_paste_classes` in `spec` (None: off)."""
    if not config.copy_paste_classes:
        return None
    try:
        return resolve_class_ids(config.copy_paste_classes, spec.class_names)
    except ValueError as error:
        raise UserError(f"copy_paste_classes: {error}") from None


def _schedule_values(config: TrainConfig, steps: int) -> dict:
    return {"steps_per_epoch": steps, "batch_size": config.batch_size}


def _check_same_schedule(manifest, config, steps, folder) -> None:
    """A resumed run must read its data at the same positions."""
    for key, value in _schedule_values(config, steps).items():
        if key in manifest and manifest[key] != value:
            raise UserError(
                f"{folder.root} was trained with {key} {manifest[key]}, "
                f"not {value}: resuming would shift the data and the "
                f"learning rate. Resume with --{key.replace('_', '-')} "
                f"{manifest[key]}, or start over with --overwrite."
            )


def _damaged(path: str, error: Exception) -> UserError:
    return UserError(
        f"cannot resume: checkpoint {path} is damaged "
        f"({str(error).splitlines()[0][:160]}). Start over with "
        "--overwrite, or restore the file."
    )


def _check_readable(path: str) -> None:
    """The checkpoint is a complete `.keras` zip (CRCs checked)."""
    try:
        with files.open_read(path) as handle:
            with zipfile.ZipFile(handle) as archive:
                broken = archive.testzip()
    except (OSError, zipfile.BadZipFile) as error:
        raise _damaged(path, error) from None
    if broken is not None:
        raise _damaged(path, ValueError(f"CRC mismatch in {broken}"))


def _load_checkpoint(path: str) -> keras.Model:
    """The compiled model of a committed checkpoint; one error naming the
    file when it cannot be read."""
    try:
        return keras.models.load_model(path)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise _damaged(path, error) from None


def build_or_restore_model(run: TrainingRun) -> keras.Model:
    """The compiled model: from the committed checkpoint when resuming,
    from a multi-worker backup, or new; built in the strategy's scope."""
    scope = (
        run.strategy.scope()
        if run.strategy is not None
        else contextlib.nullcontext()
    )
    with scope:
        if run.manifest:
            last = run.folder.last_checkpoint()
            model = _load_checkpoint(last)
            print(f"resumed from {last} after epoch {run.initial_epoch}")
        else:
            model = build_and_compile(run.config, run.num_classes, run.steps)
            if run.backed_up is not None:
                restore_backup(model, run.backup_dir)
                print(
                    f"{run.role.name}: restored the backup in "
                    f"{run.backup_dir} after epoch {run.initial_epoch}"
                )
    patch_multi_worker_model(model, run.strategy)
    return model


def make_datasets(run: TrainingRun):
    """`(train, val)` tf.data pipelines; the training stream starts where
    the resumed run stopped and reads this worker's shard."""
    config = run.config
    shard = worker_shard(len(run.train_spec.records), run.role)
    # examples this worker's input stream has already produced: with its
    # own shards a worker consumes batch_size / workers per step
    consumed = run.initial_epoch * run.steps * config.batch_size
    if shard is not None:
        consumed //= run.role.num_workers
    train_data = make_train_dataset(
        run.train_spec,
        config.batch_size,
        crop_size=config.crop_size,
        base_size=config.base_size,
        seed=config.seed,
        blur=config.blur,
        jitter=config.jitter,
        cache=config.cache,
        start_example=consumed,
        shard=shard,
        copy_paste_classes=copy_paste_ids(config, run.train_spec),
        copy_paste_probability=config.copy_paste_probability,
    )
    val_data = make_eval_dataset(
        run.val_spec,
        crop_size=config.crop_size,
        mode="val",
        batch_size=config.batch_size,
    )
    num_replicas = replicas(run.strategy)
    if run.strategy is None and num_replicas > 1:  # Keras DataParallel
        val_data = pad_batches(
            val_data, num_replicas, run.val_spec.ignore_label
        )
    policy = tf.data.experimental.AutoShardPolicy
    train_data = set_sharding_policy(
        train_data, policy.DATA if shard is None else policy.OFF
    )
    val_data = set_sharding_policy(val_data, policy.DATA)
    return train_data, val_data


def monitored_metric(model) -> str:
    """The validation metric that picks the best epoch."""
    return "val_" + ("logits_" if _output_names(model) else "") + "mean_iou"


def make_callbacks(run: TrainingRun, model) -> list:
    """Learning-rate logging, the per-epoch commit, TensorBoard, the
    one-line epoch summary (unless `config.verbose`), the multi-worker
    backup and the prediction images."""
    config, logs = run.config, run.folder.path("logs")
    best = run.manifest.get("best") if run.manifest else None
    callbacks = [
        LearningRateLogger(),
        EpochCheckpoint(
            run.folder,
            monitored_metric(model),
            best=best,
            extra=_schedule_values(config, run.steps),
        ),
        keras.callbacks.TensorBoard(str(logs)),
    ]
    if not config.verbose:
        callbacks.append(EpochLine(config.epochs, monitored_metric(model)))
    if run.multi_worker:
        callbacks.append(
            EpochBackup(
                run.backup_dir
                if run.role.is_chief
                else run.folder.path("backup")
            )
        )
    if config.num_visualizations:
        callbacks.append(
            PredictionImages(
                logs,
                *_visual_examples(
                    run.val_spec, config.crop_size, config.num_visualizations
                ),
                palette=run.val_spec.palette,
            )
        )
    return callbacks


def fit(run: TrainingRun, model, train_data, val_data, callbacks) -> dict:
    """Train from `run.initial_epoch` to `config.epochs`; the summary."""
    config, names = run.config, _output_names(model)
    start = time.time()
    if run.initial_epoch < config.epochs:
        model.fit(
            _with_targets(train_data, names),
            epochs=config.epochs,
            initial_epoch=run.initial_epoch,
            steps_per_epoch=run.steps,
            validation_data=_with_targets(val_data, names),
            validation_steps=config.val_steps,
            validation_freq=config.val_every,
            callbacks=callbacks,
            # the data is shuffled by its pipeline (`make_train_dataset`);
            # Keras cannot shuffle a tf.data.Dataset and warns if asked to
            shuffle=False,
            # quiet: `EpochLine` prints one line per epoch
            verbose="auto" if config.verbose else 0,
        )
    seconds = time.time() - start
    images = (config.epochs - run.initial_epoch) * run.steps * config.batch_size
    return {
        "train_seconds": seconds,
        "initial_epoch": run.initial_epoch,
        "epochs": config.epochs,
        "steps_per_epoch": run.steps,
        "replicas": replicas(run.strategy),
        "workers": run.role.num_workers,
        "train_images_per_second": images / max(seconds, 1e-9),
    }


def write_preset(run: TrainingRun, model, results: dict | None) -> str:
    """Save `model` as the preset `output_dir/preset/` with the class
    names, palette and ignore label of the val split, the training sizes
    and config, and the final metrics (`results`; `None`: not known)."""
    config, spec = run.config, run.val_spec
    metrics = None
    if results is not None:
        metrics = {
            "pixel_accuracy": float(results["pixel_accuracy"]),
            "mean_iou": float(results["mean_iou"]),
            "split": spec.split,
        }
    metadata = PresetMetadata(
        class_names=spec.class_names,
        palette=spec.palette,
        ignore_label=spec.ignore_label,
        base_size=config.base_size,
        crop_size=config.crop_size,
        dataset=config.dataset,
        training=json.loads(json.dumps(config.to_dict(), default=str)),
        metrics=metrics,
    )
    return save_preset(
        model, run.folder.path("preset"), metadata, overwrite=True
    )


def final_report(run: TrainingRun, summary: dict) -> dict:
    """Evaluate the best checkpoint and print where everything is. An
    evaluation error keeps the trained run: it is printed and recorded in
    the summary (`config.require_evaluation` makes it the run's error)."""
    config, folder = run.config, run.folder
    if run.multi_worker:
        shutil.rmtree(run.backup_dir, ignore_errors=True)  # job complete
    best_path = folder.best_checkpoint()
    summary["checkpoint"] = str(best_path)
    results, best = None, None
    try:
        best = keras.models.load_model(best_path, compile=False)
        results = evaluate_model(
            best,
            run.val_spec,
            multi_scale=config.eval_multi_scale,
            flip=config.eval_multi_scale,
            base_size=config.base_size,
            crop_size=config.crop_size,
            output_dir=folder.path("evaluation"),
            num_visualizations=config.num_visualizations,
        )
    except Exception as error:  # noqa: BLE001  (the run must survive it)
        summary["evaluation_error"] = f"{type(error).__name__}: {error}"
        print(
            "\nthe final evaluation failed; the trained checkpoints are "
            f"kept:\n  {summary['evaluation_error']}\n"
            f"  evaluate them with: fastfcn evaluate --model-file {best_path}"
        )
        if config.require_evaluation:
            if best is not None:
                summary["preset"] = str(write_preset(run, best, None))
            atomic_write_text(
                folder.path("summary.json"), json.dumps(summary, indent=2)
            )
            raise
        traceback.print_exc(limit=-3)
    if results is not None:
        summary.update(
            pixel_accuracy=results["pixel_accuracy"],
            mean_iou=results["mean_iou"],
        )
        print(format_results(results))
    if best is not None:
        summary["preset"] = str(write_preset(run, best, results))
    atomic_write_text(
        folder.path("summary.json"), json.dumps(summary, indent=2)
    )
    logs = folder.path("logs")
    print(
        f"\ntrained {config.model} ({config.backbone}) on {config.dataset} "
        f"in {summary['train_seconds'] / 60:.1f} min\n"
        f"  best checkpoint:   {best_path}\n"
        f"  TensorBoard logs:  {logs}   (tensorboard --logdir {logs})\n"
        f"  preset:            {summary.get('preset', '(not written)')}\n"
        f"  overlays, metrics: {folder.path('evaluation')}\n"
        f"  summary:           {folder.path('summary.json')}"
    )
    return summary


# === A whole run ===


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
    config = config.resolved()
    # before any other TF op
    strategy = make_strategy(config.devices, config.strategy, config.tpu)
    role = worker_role(strategy)
    shared_output = str(config.output_dir)
    if role.is_chief:
        output = shared_output
    else:
        output = tempfile.mkdtemp(prefix=f"keras_fastfcn-{role.name}-")
        print(f"{role.name}: writing to the temporary folder {output}")
    try:
        if config.mixed_precision:
            keras.mixed_precision.set_global_policy(config.mixed_precision)
        keras.utils.set_random_seed(config.seed)
        run = prepare_run(config, strategy, role, output, shared_output)
        model = build_or_restore_model(run)
        train_data, val_data = make_datasets(run)
        callbacks = make_callbacks(run, model)
        summary = fit(run, model, train_data, val_data, callbacks)
        if role.is_chief:
            summary = final_report(run, summary)
        return model, summary
    finally:
        if not role.is_chief:
            shutil.rmtree(output, ignore_errors=True)


if __name__ == "__main__":  # `python -m keras_fastfcn.train` is `fastfcn train`
    import runpy
    import sys

    sys.argv[0] = "python -m keras_fastfcn.train"
    runpy.run_module("keras_fastfcn.cli.train", run_name="__main__")
