#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: installs every package lowbit
# needs (once; `apt-get update` runs only when something is missing), then
# configures and builds in Release with debug info (-O2 -g).
#
#   scripts/setup.sh [build-dir] [extra cmake args...]
#
# Environment: LOWBIT_PRESET (default "release"; "asan" for ASan+UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libopenblas-openmp-dev     # OpenBLAS built on OpenMP: shares one thread pool with our kernels
  libhwy-dev                 # Google Highway (SIMD with dynamic dispatch)
  libstb-dev                 # stb_image / stb_image_write
  libgtest-dev libgmock-dev  # GoogleTest
  libbenchmark-dev           # Google Benchmark
  nlohmann-json3-dev         # JSON (safetensors headers, logs)
  libcli11-dev               # command-line parsing
  zlib1g-dev                 # gzip'd IDX files
  dataset-fashion-mnist      # the default data set (real Fashion-MNIST)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

preset="${LOWBIT_PRESET:-release}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
