#!/usr/bin/env bash
# The acceptance run of the nn issue: a CIFAR-style ResNet-20 trained from scratch on
# Fashion-MNIST (60k images, 28x28) with SGD + Nesterov, linear warm-up then cosine, label
# smoothing, random crop (padding 2) and horizontal flips; evaluated on the 10k test set
# after every epoch. Not part of the test suite (it takes 27-30 minutes on the 2-core dev VM: 9
# epochs at 330-400 img/s, depending on the load of the host; bench/results/README.md).
#
#   scripts/train_fashion_mnist.sh [out-dir] [extra lowbit train flags...]
#
# Writes <out-dir>/log.jsonl (JSON lines), last/best .safetensors checkpoints, and, when
# Debian's python3-matplotlib is installed, <out-dir>/curves.png (scripts/plot_training.py).
# Resume an interrupted run with the same command plus --resume.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out="${1:-runs/resnet20-fashion-mnist}"
shift || true
build/release/tools/lowbit train --model resnet20 --epochs 9 --batch-size 128 --lr 0.1 --momentum 0.9 \
  --nesterov --weight-decay 5e-4 --warmup-epochs 1 --label-smoothing 0.1 --crop-padding 2 --hflip \
  --seed 0 --out "$out" "$@"
build/release/tools/lowbit eval "$out/best.safetensors"
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  /usr/bin/python3 scripts/plot_training.py "$out/log.jsonl" "$out/curves.png"
else
  echo "train: install python3-matplotlib (apt-get install python3-matplotlib) for $out/curves.png"
fi
