#!/usr/bin/env bash
# Command 1 of the README: set up (packages, configure, build) and run the main job.
# Today the main job is `lowbit demo` on Fashion-MNIST; later issues grow it into
# "train a quantized ResNet, convert it, run it in integers".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/release/tools/lowbit demo "$@"
