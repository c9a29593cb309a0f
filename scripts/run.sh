#!/usr/bin/env bash
# Command 1 of the README: set up (packages, configure, build) and run the main job.
# Today the main job is `lowbit demo` on Fashion-MNIST and a short ResNet-20 training run;
# later issues grow it into "train a quantized ResNet, convert it, run it in integers".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/release/tools/lowbit demo "$@"
# A short version of scripts/train_fashion_mnist.sh: ResNet-20, 1 epoch on 12800 images.
build/release/tools/lowbit train --model resnet20 --epochs 1 --limit-train 12800 --warmup-epochs 0.2 \
  --out runs/quick --log-every 20
build/release/tools/lowbit eval runs/quick/last.safetensors
