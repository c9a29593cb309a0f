#!/usr/bin/env bash
# Command 2 of the README (and what CI runs): set up, build and run the whole test suite.
#   scripts/test.sh                 Release (-O2 -g) build, CUDA compiled when a toolkit is found
#   LOWBIT_PRESET=asan scripts/test.sh   the same suite under ASan + UBSan
# CUDA tests skip with a message when no GPU is visible.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${LOWBIT_PRESET:-release}"
LOWBIT_PRESET="$preset" scripts/setup.sh
start=$(date +%s)
ctest --preset "$preset" -j "$(nproc)" "$@"
echo "test suite: $(( $(date +%s) - start )) s"
