#!/usr/bin/env bash
# Try multi-worker training on one machine: two worker processes talking over
# loopback, reading the bundled sample as TFRecord shards. On real machines,
# run the same train.py command on each host with its own TF_CONFIG (README,
# "Training on several machines").
#
#   bash examples/multi_worker/two_local_workers.sh [OUTPUT_DIR]
set -euo pipefail
out="${1:-runs/two_workers}"
records="$out/records"
mkdir -p "$out"

fastfcn to-tfrecord --dataset sample --out "$records" --shards 4

cluster='"cluster": {"worker": ["127.0.0.1:23456", "127.0.0.1:23457"]}'
pids=()
for index in 0 1; do
  TF_CONFIG="{$cluster, \"task\": {\"type\": \"worker\", \"index\": $index}}" \
  CUDA_VISIBLE_DEVICES="" \
    python train.py --dataset sample --data-format tfrecord --data-dir "$records" \
      --strategy multi_worker --sync-bn true --epochs 2 --steps-per-epoch 4 \
      --batch-size 4 --output-dir "$out/run" > "$out/worker$index.log" 2>&1 &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
tail -n 8 "$out/worker0.log"
echo "logs: $out/worker0.log (chief), $out/worker1.log; checkpoints: $out/run/checkpoints"
exit $status
